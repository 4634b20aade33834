package uki

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ukibuild/ukibuild/internal/pe"
	"github.com/ukibuild/ukibuild/internal/pe/petest"
	"github.com/ukibuild/ukibuild/internal/pyjson"
	"github.com/ukibuild/ukibuild/internal/reftools"
)

// fuzzStubBytes is a synthetic stub with .sbat and .sdmagic sections.
func fuzzStubBytes() []byte {
	magic := []byte("#### LoaderInfo: systemd-stub 262 ####")
	return petest.Stub(0x400, []petest.Section{
		petest.Sec(".text", 0x1000, 0x150, 0x400, 0x200, petest.Fill(0x150, 1)),
		petest.Sec(".sbat", 0x2000, uint32(len(testSBAT)), 0x600, 0x200, []byte(testSBAT)),
		petest.Sec(".sdmagic", 0x3000, uint32(len(magic)), 0x800, 0x200, magic),
	}, 0, nil)
}

// fuzzKernelBytes is a tiny PE "kernel" with a .sbat section and without
// NX_COMPAT.
func fuzzKernelBytes() []byte {
	k := petest.Stub(0x400, []petest.Section{
		petest.Sec(".text", 0x1000, 0x20, 0x400, 0x200, petest.Fill(0x20, 9)),
		petest.Sec(".sbat", 0x2000, uint32(len(extraSBAT)), 0x600, 0x200, []byte(extraSBAT)),
	}, 0, nil)
	binary.LittleEndian.PutUint16(k[0x80+4+20+pe.OptDllCharacteristics:], 0)
	return k
}

// realImages adds Debian's stubs from the reference tools to a corpus.
func realImages(f *testing.F) [][]byte {
	tools := reftools.Locate(f)
	var out [][]byte
	for _, key := range []string{"UKIBUILD_STUB_252", "UKIBUILD_STUB_262", "UKIBUILD_STUB_262_IA32", "UKIBUILD_ADDON_STUB_262"} {
		b, err := os.ReadFile(tools.Path(f, key))
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// composeBytes builds a small UKI from a synthetic stub.
func composeBytes(tb testing.TB, secs ...Section) []byte {
	tb.Helper()
	stub, err := NewStub(fuzzStubBytes())
	if err != nil {
		tb.Fatal(err)
	}
	img, err := Compose(stub, secs)
	if err != nil {
		tb.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := img.WriteTo(&buf); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// FuzzInspect runs inspect on arbitrary images in text and JSON mode: no
// panic, errors name the file, JSON output is valid JSON.
func FuzzInspect(f *testing.F) {
	f.Add(fuzzStubBytes())
	f.Add(composeBytes(f, Section{".cmdline", Text("cmdline", "quiet")}, Section{".linux", Bytes("kernel", fuzzKernelBytes())},
		Section{".profile", Text("profile", "ID=a")}, Section{".cmdline", Text("cmdline", "debug")}))
	for _, b := range realImages(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, opts := range []InspectOptions{{JSON: "off", All: true}, {JSON: "short", All: true}, {JSON: "pretty"}} {
			var out bytes.Buffer
			opts.Warnf = func(string, ...any) {}
			err := inspect(&out, bytes.NewReader(b), int64(len(b)), "fuzz.efi", opts)
			if err != nil {
				if !strings.HasPrefix(err.Error(), "fuzz.efi: ") {
					t.Fatalf("error %q does not name the file", err)
				}
				continue
			}
			if opts.JSON != "off" && !json.Valid(out.Bytes()) {
				t.Fatalf("inspect printed invalid JSON: %q", out.Bytes())
			}
		}
	})
}

// FuzzNewStub reads arbitrary stubs and composes a UKI from those it
// accepts: the result must be a readable image that firmware can hash
// (no overlapping raw data) holding the added sections at their offsets.
func FuzzNewStub(f *testing.F) {
	f.Add(fuzzStubBytes(), "quiet")
	f.Add(petest.Stub(0x2c0, []petest.Section{
		petest.Sec(".text", 0x1000, 0x150, 0x300, 0x150, petest.Fill(0x150, 1)),
		petest.Sec(".data", 0x2000, 0x80, 0x450, 0x90, petest.Fill(0x80, 2)),
		petest.Sec(".sbat", 0x3000, uint32(len(testSBAT)), 0x600, 0x1a0, []byte(testSBAT)),
	}, 4, []byte{12, 0, 0, 0, 'a', 'b', 'c', 0, 'd', 'e', 'f', 0}), "")
	for _, b := range realImages(f) {
		f.Add(b, "console=ttyS0")
	}
	kernel := fuzzKernelBytes()
	f.Fuzz(func(t *testing.T, b []byte, cmdline string) {
		stub, err := NewStub(b)
		if err != nil {
			return
		}
		_ = stub.Version()
		_ = stub.SectionData(".sbat")
		if stub.FreeSlots() < 0 {
			t.Fatal("negative free slots")
		}
		secs := []Section{
			{".cmdline", Text("cmdline", cmdline)},
			{".linux", Bytes("kernel", kernel)},
			{".sbat", Text("sbat", testSBAT)},
		}
		img, err := Compose(stub, secs)
		if err != nil {
			return
		}
		var buf bytes.Buffer
		n, err := img.WriteTo(&buf)
		if err != nil || n != img.Size() || int64(buf.Len()) != n {
			t.Fatalf("WriteTo = %d, %v; layout size %d, wrote %d", n, err, img.Size(), buf.Len())
		}
		out := buf.Bytes()
		hdr, err := pe.Parse(bytes.NewReader(out), n)
		if err != nil {
			t.Fatalf("the composed image does not parse: %v", err)
		}
		if err := hdr.CheckSections(); err != nil {
			t.Fatalf("the composed image is broken: %v", err)
		}
		if _, err := hdr.AuthenticodeRanges(n); err != nil {
			t.Fatalf("the composed image cannot be hashed for signing: %v", err)
		}
		found := map[string]bool{}
		for _, s := range hdr.Sections {
			want := map[string][]byte{".cmdline": []byte(cmdline), ".linux": kernel}[s.NameString()]
			if want == nil || found[s.NameString()] {
				continue
			}
			found[s.NameString()] = true
			if s.VirtualSize != uint32(len(want)) || !bytes.Equal(out[s.PointerToRawData:int64(s.PointerToRawData)+int64(len(want))], want) {
				t.Fatalf("section %s does not hold its content", s.NameString())
			}
		}
		if len(cmdline) > 0 && !found[".cmdline"] || !found[".linux"] {
			t.Fatalf("added sections missing: %v", found)
		}
	})
}

// FuzzKernelPE feeds arbitrary kernels to what the composer reads from a
// PE kernel (its .sbat sections and NX_COMPAT) and composes them.
func FuzzKernelPE(f *testing.F) {
	f.Add(fuzzKernelBytes())
	f.Add(fuzzStubBytes())
	tools := reftools.Locate(f)
	k, err := os.ReadFile(tools.Path(f, "UKIBUILD_KERNEL"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(k[:64<<10])
	stub, err := NewStub(fuzzStubBytes())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c := Bytes("kernel", b)
		sbats, err := contentSBAT(c)
		if err == nil {
			for _, s := range sbats {
				if len(s) > 1<<20 {
					t.Fatalf(".sbat of %d bytes accepted", len(s))
				}
			}
		}
		nx, isPE := contentNXCompat(c)
		img, err := Compose(stub, []Section{{".linux", c}})
		if err != nil {
			t.Fatalf("composing a %d-byte kernel: %v", len(b), err)
		}
		var buf bytes.Buffer
		if _, err := img.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		hdr, err := pe.Parse(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			t.Fatal(err)
		}
		if isPE && !nx && hdr.DllCharacteristics&pe.DllNXCompat != 0 {
			t.Fatal("NX_COMPAT kept for a kernel without it")
		}
	})
}

// FuzzJoinPCRSig runs --join-pcrsig on a UKI whose .pcrsig holds arbitrary
// bytes, with arbitrary signatures: on success the output is an image whose
// .pcrsig is JSON; on failure there is no output file.
func FuzzJoinPCRSig(f *testing.F) {
	unsigned := `{"sha256": [{"pcrs": [11], "pkfp": "ab", "pol": "cd", "tbs": "ef"}], "sha1": [{"pcrs": [11], "pkfp": "ab", "pol": "01"}]}`
	sigs := `{"sha256": [{"pcrs": [11], "pkfp": "ab", "pol": "cd", "tbs": "ef", "sig": "AAAA"}], "sha1": [{"pol": "01", "sig": "BB"}]}`
	f.Add([]byte(unsigned), []byte(sigs))
	f.Add([]byte(unsigned), []byte(`{"sha256": [{"tbs": "ef"}]}`))
	f.Add([]byte(`{"sha256": 1}`), []byte(`{"sha256": [{"pol": 1}]}`))
	f.Add([]byte(`[]`), []byte(`{}`))
	f.Fuzz(func(t *testing.T, pcrsig, signatures []byte) {
		if _, err := pyjson.UnmarshalObject(signatures); err != nil {
			return
		}
		dir := t.TempDir()
		in := filepath.Join(dir, "in.efi")
		uki := composeBytes(t, Section{".pcrsig", Bytes("pcrsig", padForJoin(pcrsig))})
		if err := os.WriteFile(in, uki, 0o644); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, "out.efi")
		err := JoinPCRSig(context.Background(), in, signatures, out, JoinOptions{})
		if err != nil {
			if !strings.HasPrefix(err.Error(), in+": ") {
				t.Fatalf("error %q does not name the file", err)
			}
			if _, serr := os.Stat(out); !errors.Is(serr, fs.ErrNotExist) {
				t.Fatalf("failed join left %s (%v)", out, serr)
			}
			return
		}
		img, err := OpenImage(out)
		if err != nil {
			t.Fatalf("joined image: %v", err)
		}
		defer img.Close()
		for _, s := range img.Sections() {
			if s.Name != ".pcrsig" {
				continue
			}
			b, err := readSmall(s.Content, 1<<24)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := pyjson.UnmarshalObject(b); err != nil {
				t.Fatalf("joined .pcrsig %q is not a JSON object: %v", b, err)
			}
		}
	})
}

// padForJoin leaves room after the text as ukify --policy-digest does.
func padForJoin(text []byte) []byte {
	return append(bytes.Clone(text), bytes.Repeat([]byte(" "), 1024)...)
}
