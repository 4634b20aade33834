package pcr

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// extendRef is the extend rule written out for SHA-256.
func extendRef(v []byte, data []byte) []byte {
	d := sha256.Sum256(data)
	e := sha256.Sum256(append(slices.Clone(v), d[:]...))
	return e[:]
}

func mustOrder(t *testing.T, v string) Order {
	t.Helper()
	o, err := OrderFor(v)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestMeasureByHand(t *testing.T) {
	big := make([]byte, 3*chunkSize+12345) // several chunks, hashed in parallel
	r := rand.New(rand.NewPCG(1, 2))
	for i := range big {
		big[i] = byte(r.Uint32())
	}
	sections := []Section{
		{".cmdline", Bytes([]byte("root=/dev/sda1"))},
		{".linux", Bytes(big)},
		{".osrel", Bytes(nil)},               // empty: skipped
		{".pcrsig", Bytes([]byte("{}"))},     // never measured
		{".uname", Bytes([]byte("6.1.0-1"))}, // not measured by 252
		{".sbom", Bytes([]byte("x"))},        // not a measured section
	}
	for _, tc := range []struct {
		version string
		want    []string
	}{
		{"252", []string{".linux", ".cmdline"}},
		{"254", []string{".linux", ".cmdline", ".uname"}},
	} {
		v := make([]byte, 32)
		for _, name := range tc.want {
			i := slices.IndexFunc(sections, func(s Section) bool { return s.Name == name })
			data := []byte(sections[i].Content.(bytesContent))
			v = extendRef(v, append([]byte(name), 0))
			v = extendRef(v, data)
		}
		m, err := Measure(mustOrder(t, tc.version), sections, []Bank{SHA256, SHA1})
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := m.Phase("").Value(SHA256); !bytes.Equal(got, v) {
			t.Errorf("%s: sha256 %x, want %x", tc.version, got, v)
		}
		if got, ok := m.Phase("").Value(SHA1); !ok || len(got) != sha1.Size {
			t.Errorf("%s: sha1 value %x", tc.version, got)
		}
		if _, ok := m.Phase("").Value(SHA512); ok {
			t.Errorf("%s: a value for a bank not asked for", tc.version)
		}
		ph := m.Phase("ready")
		if want := extendRef(v, []byte("ready")); !bytes.Equal(ph.Values[0].Digest, want) {
			t.Errorf("%s: phase value %x, want %x", tc.version, ph.Values[0].Digest, want)
		}
	}
}

// TestPredictKnownValue checks a value systemd-measure 262.1 printed for
// "calculate --linux=FILE --bank=sha256 --phase=: --phase=a" with FILE
// holding "hello".
func TestPredictKnownValue(t *testing.T) {
	preds, err := Predict(mustOrder(t, "262.1"), []Section{{".linux", Bytes([]byte("hello"))}}, []Bank{SHA256}, []string{"a", ":"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"eb2f3013fc6da81f5795783ca2b10862830e65a4a7bb42a5407aba2a8a196efb",
		"6703d7095f77efe9e1b42fffb1dfc742d6ffaacd3aff4992068eec2b727beb44",
	}
	if len(preds) != 2 || preds[0].Phase != "" || preds[1].Phase != "a" {
		t.Fatalf("predictions %+v", preds)
	}
	for i, p := range preds {
		if got := hex.EncodeToString(p.Values[0].Digest); got != want[i] {
			t.Errorf("phase %s: %s, want %s", p.Phase, got, want[i])
		}
	}
}

func TestNormalizeBanks(t *testing.T) {
	if got := NormalizeBanks(nil); !slices.Equal(got, AllBanks()) {
		t.Errorf("NormalizeBanks(nil) = %v", got)
	}
	got := NormalizeBanks([]Bank{SHA512, SHA1, SHA256, SHA1, SHA512})
	if want := []Bank{SHA1, SHA256, SHA512}; !slices.Equal(got, want) {
		t.Errorf("NormalizeBanks = %v, want %v", got, want)
	}
}

type errContent struct{ openErr, readErr error }

func (e errContent) Open() (io.ReadCloser, error) {
	if e.openErr != nil {
		return nil, e.openErr
	}
	return io.NopCloser(io.MultiReader(strings.NewReader("abc"), errReader{e.readErr})), nil
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

type sizedContent struct {
	Content
	size int64
}

func (s sizedContent) Size() int64 { return s.size }

func TestMeasureErrors(t *testing.T) {
	o := mustOrder(t, "262")
	boom := errors.New("boom")
	for _, tc := range []struct {
		name     string
		sections []Section
		banks    []Bank
		want     string
	}{
		{"no banks", nil, nil, "no PCR bank"},
		{"bad bank", nil, []Bank{{Name: "md5"}}, "no usable hash"},
		{"duplicate", []Section{{".linux", Bytes(nil)}, {".linux", Bytes(nil)}}, []Bank{SHA256}, "given twice"},
		{"no name", []Section{{"", Bytes(nil)}}, []Bank{SHA256}, "no name"},
		{"no content", []Section{{".linux", nil}}, []Bank{SHA256}, "no content"},
		{"open", []Section{{".linux", errContent{openErr: boom}}}, []Bank{SHA256}, "section .linux: boom"},
		{"read", []Section{{".initrd", errContent{readErr: boom}}}, []Bank{SHA256, SHA1}, "section .initrd: boom"},
		{"size", []Section{{".osrel", sizedContent{Bytes([]byte("abc")), 4}}}, []Bank{SHA256}, "size is 4"},
	} {
		_, err := Measure(o, tc.sections, tc.banks)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := Predict(o, nil, nil, []string{"\x00"}); err == nil {
		t.Error("Predict accepted a NUL in a phase")
	}
}

func TestFormatCalculateText(t *testing.T) {
	preds := []Prediction{
		{Phase: "", Values: []Value{{SHA1, []byte{1, 2}}, {SHA256, []byte{0xab}}}},
		{Phase: "a\xff", Values: []Value{{SHA1, []byte{3}}, {SHA256, []byte{4}}}},
	}
	var out, comments, both bytes.Buffer
	if err := FormatCalculate(&out, &comments, preds, MeasureJSONOff); err != nil {
		t.Fatal(err)
	}
	if want := "11:sha1=0102\n11:sha256=ab\n11:sha1=03\n11:sha256=04\n"; out.String() != want {
		t.Errorf("stdout %q, want %q", out.String(), want)
	}
	if want := "# PCR[11] Phase <:>\n# PCR[11] Phase <a\xff>\n"; comments.String() != want {
		t.Errorf("comments %q, want %q", comments.String(), want)
	}
	if err := FormatCalculate(&both, &both, preds, MeasureJSONOff); err != nil {
		t.Fatal(err)
	}
	if want := "# PCR[11] Phase <:>\n11:sha1=0102\n11:sha256=ab\n# PCR[11] Phase <a\xff>\n11:sha1=03\n11:sha256=04\n"; both.String() != want {
		t.Errorf("interleaved %q, want %q", both.String(), want)
	}
	out.Reset()
	if err := FormatCalculate(&out, nil, preds, MeasureJSONOff); err != nil || out.Len() == 0 {
		t.Errorf("nil comments: %v", err)
	}
}

func TestFormatCalculateJSON(t *testing.T) {
	preds := []Prediction{
		{Phase: "", Values: []Value{{SHA1, []byte{1}}, {SHA256, []byte{2}}}},
		{Phase: "x\"\\\b\f\n\r\t\x01\x1f\x7fé", Values: []Value{{SHA1, []byte{3}}, {SHA256, []byte{4}}}},
	}
	var b bytes.Buffer
	if err := FormatCalculate(&b, nil, preds, MeasureJSONShort); err != nil {
		t.Fatal(err)
	}
	want := `{"sha1":[{"pcr":11,"hash":"01"},{"phase":"x\"\\\b\f\n\r\t\u0001\u001f` + "\x7fé" +
		`","pcr":11,"hash":"03"}],"sha256":[{"pcr":11,"hash":"02"},{"phase":"x\"\\\b\f\n\r\t\u0001\u001f` + "\x7fé" +
		`","pcr":11,"hash":"04"}]}` + "\n"
	if b.String() != want {
		t.Errorf("short:\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	if err := FormatCalculate(&b, nil, preds[:1], MeasureJSONPretty); err != nil {
		t.Fatal(err)
	}
	want = "{\n\t\"sha1\" : [\n\t\t{\n\t\t\t\"pcr\" : 11,\n\t\t\t\"hash\" : \"01\"\n\t\t}\n\t],\n" +
		"\t\"sha256\" : [\n\t\t{\n\t\t\t\"pcr\" : 11,\n\t\t\t\"hash\" : \"02\"\n\t\t}\n\t]\n}\n"
	if b.String() != want {
		t.Errorf("pretty:\n%s\nwant\n%s", b.String(), want)
	}
	// No predictions: no output at all, as systemd's json_variant_dump of NULL.
	b.Reset()
	if err := FormatCalculate(&b, nil, nil, MeasureJSONPretty); err != nil || b.Len() != 0 {
		t.Errorf("empty: %q, %v", b.String(), err)
	}
	// Invalid UTF-8 and noncharacters fail before anything is written.
	for _, bad := range []Phase{"\xff", "a\xed\xa0\x80", "\uFDD0", "\uFFFE", "\U0001FFFF"} {
		b.Reset()
		p := append(slices.Clone(preds), Prediction{Phase: bad, Values: preds[0].Values})
		if err := FormatCalculate(&b, nil, p, MeasureJSONShort); err == nil || b.Len() != 0 {
			t.Errorf("phase %q: %v, wrote %q", bad, err, b.String())
		}
	}
	if err := FormatCalculate(&b, nil, preds, MeasureJSON(9)); err == nil {
		t.Error("unknown mode accepted")
	}
}

// TestFormatCalculateJSONKeyOrder checks the key order rule: each bank's key
// moves to the end when it is set again, so the last prediction decides.
func TestFormatCalculateJSONKeyOrder(t *testing.T) {
	preds := []Prediction{
		{Phase: "a", Values: []Value{{SHA256, []byte{1}}, {SHA1, []byte{2}}}},
		{Phase: "b", Values: []Value{{SHA1, []byte{3}}, {SHA384, []byte{4}}}},
	}
	var b bytes.Buffer
	if err := FormatCalculate(&b, nil, preds, MeasureJSONShort); err != nil {
		t.Fatal(err)
	}
	want := `{"sha256":[{"phase":"a","pcr":11,"hash":"01"}],"sha1":[{"phase":"a","pcr":11,"hash":"02"},{"phase":"b","pcr":11,"hash":"03"}],"sha384":[{"phase":"b","pcr":11,"hash":"04"}]}` + "\n"
	if b.String() != want {
		t.Errorf("got  %s\nwant %s", b.String(), want)
	}
}
