package attest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ukibuild/ukibuild/attest"
	"github.com/ukibuild/ukibuild/internal/reftools"
	"github.com/ukibuild/ukibuild/pcr"
	"github.com/ukibuild/ukibuild/quote"
	"github.com/ukibuild/ukibuild/uki"
)

const vectors = "../testvectors/eventlog"

// buildUKI builds a UKI from the fetched stub of version (its .sdmagic
// says which) and Debian's kernel; the recorded boots' UKIs are not kept,
// so the tests compare the PCRs that depend on the stub's version and the
// files next to it (12, 13), not on the UKI's bytes.
func buildUKI(t *testing.T, version string) string {
	t.Helper()
	tools := reftools.Locate(t)
	out := filepath.Join(t.TempDir(), "uki.efi")
	none := ""
	err := uki.Build(context.Background(), uki.Config{Stub: tools.Path(t, "UKIBUILD_STUB_"+version), Linux: tools.Path(t, "UKIBUILD_KERNEL"),
		Cmdline: uki.Text("cmdline", "console=ttyS0 panic=-1"), Uname: &none}, out)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// copyDir copies the regular files of src into dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func readLog(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(vectors, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPredictVerifyRecorded predicts PCR 12 and 13 of recorded boots
// (not the stub 262 boot with global extras: it also had an add-on, which
// is not kept; cmd/ukibuild's tests rebuild it) (the
// credentials and extensions in the UKI's .extra.d/ and on the ESP, sorted
// as the stub of that version does) and verifies the recorded TPM logs
// against them; the same boot predicted without the ESP differs at the
// first global event, and the values the TPM reported (.pcrs) equal the
// log's replay.
func TestPredictVerifyRecorded(t *testing.T) {
	for _, c := range []struct {
		version, rec string
		esp          bool
		events       map[int]int
	}{
		{"262", "ovmf-sb-stub262-extras", false, map[int]int{12: 1, 13: 1}},
		{"257", "ovmf-sb-stub257-global", true, map[int]int{12: 3, 13: 1}},
		{"254", "ovmf-sb-stub254-global", true, map[int]int{12: 2, 13: 1}},
	} {
		t.Run(c.rec, func(t *testing.T) {
			efi := buildUKI(t, c.version)
			copyDir(t, filepath.Join(vectors, c.rec+".extra.d"), efi+".extra.d")
			m := attest.Machine{PCRs: []int{12, 13}, Banks: []pcr.Bank{pcr.SHA1, pcr.SHA256}}
			if c.esp {
				m.ESP = filepath.Join(vectors, c.rec+".esp")
			}
			ref, err := attest.Predict(context.Background(), efi, m)
			if err != nil {
				t.Fatal(err)
			}
			values, err := quote.ParseValues(readLog(t, c.rec+".pcrs"))
			if err != nil {
				t.Fatal(err)
			}
			rep, err := ref.Verify(context.Background(), attest.Evidence{Log: readLog(t, c.rec+".bin"), TPMValues: values})
			if err != nil {
				t.Fatal(err)
			}
			if !rep.OK() || len(rep.PCRs) != 2 || len(rep.Values) == 0 {
				t.Fatalf("report:\n%s", rep)
			}
			for _, r := range rep.PCRs {
				if r.Status != attest.Match || r.Events != c.events[r.PCR] {
					t.Errorf("PCR %d: %v, %d events; want a match of %d", r.PCR, r.Status, r.Events, c.events[r.PCR])
				}
			}
			if !c.esp {
				return
			}
			m.ESP = ""
			ref, err = attest.Predict(context.Background(), efi, m)
			if err != nil {
				t.Fatal(err)
			}
			rep, err = ref.Verify(context.Background(), attest.Evidence{Log: readLog(t, c.rec+".bin")})
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK() || rep.PCRs[0].Status != attest.Differs || !strings.Contains(rep.PCRs[0].Seen.Description, "Global") {
				t.Errorf("without the ESP:\n%s", rep)
			}
		})
	}
}

// TestReferenceJSON: a Reference survives JSON whole (and verifies the
// same), and a changed digest, an unknown field, another format and a
// value that its events do not replay to are refused.
func TestReferenceJSON(t *testing.T) {
	efi := buildUKI(t, "262")
	ref, err := attest.Predict(context.Background(), efi, attest.Machine{PCRs: []int{4, 11, 12}})
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(ref)
	if err != nil {
		t.Fatal(err)
	}
	var back attest.Reference
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	again, _ := json.Marshal(&back)
	if !bytes.Equal(data, again) {
		t.Errorf("JSON differs after a round trip:\n%s\n%s", data, again)
	}
	if len(back.Banks) != 4 || back.StubVersion != ref.StubVersion || len(back.Events()) != len(ref.Events()) {
		t.Errorf("round trip: %+v", back)
	}
	for _, b := range pcr.AllBanks() {
		v1, _ := ref.Value(11, b)
		v2, err := back.Value(11, b)
		if err != nil || !bytes.Equal(v1, v2) {
			t.Errorf("PCR 11 %s: %x, after JSON %x (%v)", b.Name, v1, v2, err)
		}
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	ev0 := doc["events"].([]any)[0].(map[string]any)
	sha := ev0["digests"].(map[string]any)["sha256"].(string)
	for name, bad := range map[string]string{
		"digest changed": strings.Replace(string(data), sha, strings.Repeat("0", len(sha)), 1),
		"unknown field":  strings.Replace(string(data), `"format":1`, `"format":1,"extra":true`, 1),
		"format 2":       strings.Replace(string(data), `"format":1`, `"format":2`, 1),
		"short digest":   strings.Replace(string(data), sha, sha[2:], 1),
		"no banks":       strings.Replace(string(data), `"banks":["sha1","sha256","sha384","sha512"]`, `"banks":[]`, 1),
	} {
		var r attest.Reference
		err := json.Unmarshal([]byte(bad), &r)
		var re *attest.ReferenceError
		if !errors.As(err, &re) {
			t.Errorf("%s: %v, want a ReferenceError", name, err)
		}
	}
}

// TestPredictRefusals: PCRs that are not predicted (15), PCR 7 without the
// Secure Boot variables, and a stub older than any whose measurements are
// modelled are errors, matchable with errors.As where typed.
func TestPredictRefusals(t *testing.T) {
	efi := buildUKI(t, "262")
	_, err := attest.Predict(context.Background(), efi, attest.Machine{PCRs: []int{4, 15}})
	var up *attest.UnsupportedPCRError
	if !errors.As(err, &up) || up.PCR != 15 {
		t.Errorf("PCR 15: %v", err)
	}
	if _, err := attest.Predict(context.Background(), efi, attest.Machine{PCRs: []int{7}}); err == nil {
		t.Error("PCR 7 without Secure Boot variables: no error")
	}
	if _, err := attest.Predict(context.Background(), efi, attest.Machine{PCRs: []int{11}, StubVersion: "251"}); err == nil {
		t.Error("stub 251: no error")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := attest.Predict(ctx, efi, attest.Machine{}); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled context: %v", err)
	}
	if _, err := attest.Predict(context.Background(), filepath.Join(t.TempDir(), "missing.efi"), attest.Machine{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing UKI: %v", err)
	}
}
