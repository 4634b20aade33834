package kernel

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"

	"github.com/ukibuild/ukibuild/internal/reftools"
)

// The expected values in this file were obtained by running ukify 262.1's
// own code on the same inputs (written to files), with:
//
//	PYTHONPATH=/work/main/.cache/reftools/sid/usr/lib/python3/dist-packages /usr/bin/python3 -c '
//	import sys, importlib.machinery, importlib.util
//	l = importlib.machinery.SourceFileLoader("ukify", "/work/main/.cache/reftools/sid/usr/bin/ukify")
//	m = importlib.util.module_from_spec(importlib.util.spec_from_loader("ukify", l)); l.exec_module(m)
//	for p in sys.argv[1:]: print(p, repr(m.Uname.scrape(p)))' FILES...
//
// (scrape_elf additionally used GNU readelf 2.40.) "" with ok=false below
// means ukify returned None; failure cases that crash ukify are noted.

// kernelUname is Uname.scrape of the reference Debian kernel
// vmlinuz-6.1.0-50-amd64 (found by scrape_x86).
const kernelUname = "6.1.0-50-amd64"

func TestDetectUnameKernel(t *testing.T) {
	t.Parallel()
	path := testKernelPath(t)
	var warnings []string
	got, err := DetectUname(path, func(f string, a ...any) { warnings = append(warnings, fmt.Sprintf(f, a...)) })
	if err != nil || got != kernelUname {
		t.Fatalf("DetectUname = %q, %v; want %q", got, err, kernelUname)
	}
	if len(warnings) != 0 {
		t.Errorf("unexpected warnings %q", warnings)
	}
	// Each step on its own.
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	st, _ := fh.Stat()
	if v, err := unameX86(fh, st.Size()); err != nil || v != kernelUname {
		t.Errorf("x86 step = %q, %v", v, err)
	}
	if _, err := unameELF(fh, st.Size()); err == nil || !strings.Contains(err.Error(), "Not an ELF file") {
		t.Errorf("ELF step err = %v, want not-an-ELF", err)
	}
	// The generic scan of a bzImage reads the raw file from offset 8; the
	// banner is compressed inside it, so ukify's scan finds nothing either.
	if _, err := (Options{}).unameGeneric(fh, st.Size(), path); err == nil || !strings.Contains(err.Error(), "cannot find b'Linux version") {
		t.Errorf("generic step err = %v", err)
	}
	if !IsPE(fh, st.Size()) {
		t.Error("IsPE = false for the Debian bzImage (pefile accepts it)")
	}
	if f, err := Detect(fh); f != FormatPE || err != nil {
		t.Errorf("Detect = %v, %v; want PE", f, err)
	}
}

// TestDetectUnameKernelLive runs ukify's own Uname.scrape on the reference
// kernel and compares. It fails when Python or the ukify sources are
// missing.
func TestDetectUnameKernelLive(t *testing.T) {
	t.Parallel()
	path := testKernelPath(t)
	want := ukifyScrape(t, path)
	got, err := DetectUname(path, nil)
	if err != nil || got != want {
		t.Fatalf("DetectUname = %q, %v; ukify says %q", got, err, want)
	}
}

// ukifyScrape prints repr(Uname.scrape(path)) with ukify's code.
func ukifyScrape(t *testing.T, path string) string {
	t.Helper()
	tools := reftools.Locate(t)
	ukify := tools.Path(t, "UKIBUILD_UKIFY")
	pypath := tools.Var("UKIBUILD_SID_PYTHONPATH")
	py := "/usr/bin/python3"
	const script = `
import sys, importlib.machinery, importlib.util
l = importlib.machinery.SourceFileLoader("ukify", sys.argv[1])
m = importlib.util.module_from_spec(importlib.util.spec_from_loader("ukify", l))
l.exec_module(m)
v = m.Uname.scrape(sys.argv[2])
print("" if v is None else v)
`
	cmd := exec.Command(py, "-c", script, ukify, path)
	cmd.Env = append(os.Environ(), "PYTHONPATH="+pypath)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("running ukify's Uname.scrape: %v\n%s", err, stderr.String())
	}
	return strings.TrimSuffix(string(out), "\n")
}

// x86Image builds a file with the real-mode header magic and a version
// string at 0x200+ptr.
func x86Image(version string) []byte {
	const ptr = 0x3000
	img := make([]byte, 0x200+ptr+len(version)+200)
	copy(img[0x202:], "HdrS")
	binary.LittleEndian.PutUint16(img[0x20e:], ptr)
	copy(img[0x200+ptr:], version)
	return img
}

func TestUnameX86(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 125) + " (h) #1"
	tests := []struct {
		name string
		in   []byte
		want string // "" = step fails
		msg  string // substring of the failure message
	}{
		{"debian", x86Image("6.1.0-50-amd64 (debian-kernel@lists.debian.org) #1 SMP PREEMPT_DYNAMIC Debian 6.1.158-1 (2025-11-09)\x00junk"), "6.1.0-50-amd64", ""},
		{"minimal", x86Image("6.1.0 (a) #"), "6.1.0", ""},
		{"no hash", x86Image("6.1.0 (a) 1"), "", "cannot parse version-host-release uname string: b'6.1.0 (a) 1'"},
		{"space in host", x86Image("6.1.0 (a b) #1"), "", "cannot parse"},
		{"newline in host", x86Image("6.1.0 (a\nb) #1\nx"), "6.1.0", ""},
		{"empty host", x86Image("6.1.0 () #1"), "", "cannot parse"},
		{"uppercase", x86Image("6.1.0-Arch (x) #1"), "", "cannot parse"},
		{"all classes", x86Image("arch_6+1.0-x (x) #1"), "arch_6+1.0-x", ""},
		{"utf-8 host", x86Image("6.1.0 (h\u00e9) #1"), "6.1.0", ""},
		{"invalid utf-8", x86Image("6.1.0 (h\xff) #1"), "", "not valid UTF-8"},
		{"leading space", x86Image(" 6.1.0 (x) #1"), "", "cannot parse"},
		{"double space", x86Image("6.1.0  (x) #1"), "", "cannot parse"},
		{"two parens", x86Image("6.1.0 (x)) #1"), "", "cannot parse"},
		{"empty", x86Image(""), "", "cannot parse version-host-release uname string: b''"},
		{"cut at 128 bytes", x86Image(long), "", "cannot parse"},
		{"no magic", make([]byte, 0x1000), "", "Real-Mode Kernel Header magic not found"},
		{"short file", []byte("MZ"), "", "Real-Mode Kernel Header magic not found"},
		{"ends before pointer", append(make([]byte, 0x202), "HdrS\x00\x00"...), "", "truncated"},
		{"pointer past end", append(append(make([]byte, 0x202), "HdrS"...), 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff), "", "b''"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := unameX86(bytes.NewReader(tc.in), int64(len(tc.in)))
			if tc.want != "" {
				if err != nil || got != tc.want {
					t.Fatalf("got %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %q, %v; want error containing %q", got, err, tc.msg)
			}
		})
	}
}

func TestUnameELF(t *testing.T) {
	t.Parallel()
	salt := testNote{name: "Linux", typ: 0x100, desc: []byte("6.1.0-test\x00\x00")}
	gnu := testNote{name: "GNU", typ: 3, desc: []byte("abcd")}
	le := binary.LittleEndian
	// corrupt applies f to the ELF built from regions; sections of
	// buildELF's 64-bit layout: 0 null, 1 .shstrtab, 2.. notes.
	corrupt := func(regions [][]testNote, f func(b []byte, sect func(i int) []byte)) []byte {
		b := buildELF(elfSpec{regions: regions})
		shoff := le.Uint64(b[40:])
		f(b, func(i int) []byte { return b[shoff+uint64(i)*64:] })
		return b
	}
	tests := []struct {
		name string
		in   []byte
		want string
		ok   bool
		msg  string
	}{
		{"after GNU note", buildELF(elfSpec{regions: [][]testNote{{gnu, salt}}}), "6.1.0-test", true, ""},
		{"32-bit big-endian", buildELF(elfSpec{class32: true, bigEndian: true, regions: [][]testNote{{salt}}}), "6.1.0-test", true, ""},
		{"8-byte alignment", buildELF(elfSpec{align: 8, regions: [][]testNote{{{name: "Xen", typ: 1, desc: []byte("abc")}, salt}}}), "6.1.0-test", true, ""},
		{"segments only", buildELF(elfSpec{noSects: true, regions: [][]testNote{{salt}}}), "6.1.0-test", true, ""},
		{"second region", buildELF(elfSpec{regions: [][]testNote{{gnu}, {salt}}}), "6.1.0-test", true, ""},
		{"skips 0x101", buildELF(elfSpec{regions: [][]testNote{{{name: "Linux", typ: 0x101, desc: []byte("x")}, salt}}}), "6.1.0-test", true, ""},
		{"skips empty description", buildELF(elfSpec{regions: [][]testNote{{{name: "Linux", typ: 0x100}, {name: "Linux", typ: 0x100, desc: []byte("2nd")}}}}), "2nd", true, ""},
		{"name without NUL", buildELF(elfSpec{regions: [][]testNote{{{rawName: []byte("Linux"), typ: 0x100, desc: []byte("nonul")}}}}), "nonul", true, ""},
		{"name is a C string", buildELF(elfSpec{regions: [][]testNote{{{name: "LinuxX", typ: 0x100, desc: []byte("no")}, {rawName: []byte("Linux\x00zz"), typ: 0x100, desc: []byte("trailing")}}}}), "trailing", true, ""},
		{"latin-1 and inner NUL", buildELF(elfSpec{regions: [][]testNote{{{name: "Linux", typ: 0x100, desc: []byte("v\xe9\x00x\x00")}}}}), "v\u00e9\x00x", true, ""},
		{"all NUL gives empty", buildELF(elfSpec{regions: [][]testNote{{{name: "Linux", typ: 0x100, desc: []byte("\x00\x00")}, salt}}}), "", true, ""},
		{"core file", buildELF(elfSpec{etype: 4, regions: [][]testNote{{salt}}}), "", false, "cannot find Linux version note"},
		{"no note", buildELF(elfSpec{regions: [][]testNote{{gnu}}}), "", false, "cannot find Linux version note"},
		{"alignment 16", buildELF(elfSpec{align: 16, regions: [][]testNote{{salt}}}), "", false, "alignment 16, expecting 4 or 8"},
		{"corrupt descsz stops region", corrupt([][]testNote{{gnu}, {salt}}, func(b []byte, s func(int) []byte) {
			le.PutUint32(b[le.Uint64(s(2)[24:])+4:], 1000)
		}), "6.1.0-test", true, ""},
		{"region past end of file", corrupt([][]testNote{{gnu}, {salt}}, func(b []byte, s func(int) []byte) {
			le.PutUint64(s(2)[24:], 1<<40)
		}), "", false, "extends past end of file"},
		{"empty region", corrupt([][]testNote{{gnu}, {salt}}, func(b []byte, s func(int) []byte) {
			le.PutUint64(s(2)[32:], 0)
		}), "", false, "empty"},
		{"partial note", corrupt([][]testNote{{gnu}, {salt}}, func(b []byte, s func(int) []byte) {
			le.PutUint64(s(2)[32:], 14)
		}), "6.1.0-test", true, ""},
		{"region shorter than a header", corrupt([][]testNote{{gnu}, {salt}}, func(b []byte, s func(int) []byte) {
			le.PutUint64(s(2)[32:], 10)
		}), "6.1.0-test", true, ""},
		{"not ELF", []byte("MZ\x00\x00"), "", false, "Not an ELF file"},
		{"truncated ELF", []byte("\x7fELF\x02\x01\x01"), "", false, "malformed ELF"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := unameELF(bytes.NewReader(tc.in), int64(len(tc.in)))
			if tc.ok {
				if err != nil || got != tc.want {
					t.Fatalf("got %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %q, %v; want error containing %q", got, err, tc.msg)
			}
		})
	}
}

// scanOracle is the generic-scan regex in Go syntax: Python's bytes \d is
// [0-9] and \S excludes exactly " \t\n\v\f\r" (RE2's \s lacks \v).
var scanOracle = regexp.MustCompile(`Linux version ([0-9]\.[^ \t\n\x0b\x0c\r]+) \(`)

func TestScanLinuxVersion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string // "" = no match
	}{
		{"simple", "xx Linux version 6.1.0-50-amd64 (gcc) #1", "6.1.0-50-amd64"},
		{"first of two", "Linux version 1.2 (a) Linux version 3.4 (b)", "1.2"},
		{"first fails", "Linux version 1.2 x Linux version 3.4 (b)", "3.4"},
		{"overlap inside run", "Linux version 1.Linux version 2.3 (x", "2.3"},
		{"tab before paren", "Linux version 1.2\t(x Linux version 5.6 (y", "5.6"},
		{"vertical tab ends run", "Linux version 1.2\x0b (x", ""},
		{"two digits", "Linux version 10.2 (x", ""},
		{"minimal", "Linux version 1.x (", "1.x"},
		{"no run", "Linux version 1. (", ""},
		{"at end", "Linux version 1.2 ", ""},
		{"eof in run", "Linux version 1.2", ""},
		{"binary run", "Linux version 6.\xff\x00\x01 (", "6.\xff\x00\x01"},
		{"nothing", "Linux versio 6.1 (", ""},
	}
	for _, tc := range tests {
		if m := scanOracle.FindStringSubmatch(tc.in); (m == nil) != (tc.want == "") || (m != nil && m[1] != tc.want) {
			t.Fatalf("%s: oracle disagrees with the table: %q", tc.name, m)
		}
		for _, chunk := range []int{1, 2, 3, 7, 14, 64, scanChunk} {
			for _, oneByte := range []bool{false, true} {
				var r io.Reader = strings.NewReader(tc.in)
				if oneByte {
					r = iotest.OneByteReader(r)
				}
				got, err := scanLinuxVersion(r, chunk, MaxGenericVersion)
				if err != nil || string(got) != tc.want {
					t.Fatalf("%s (chunk %d, oneByte %v): got %q, %v; want %q", tc.name, chunk, oneByte, got, err, tc.want)
				}
			}
		}
	}
}

// TestScanLinuxVersionWindow places the banner across the read-window
// boundary at every offset, and checks the bound on the version length.
func TestScanLinuxVersionWindow(t *testing.T) {
	t.Parallel()
	banner := "Linux version 6.9.0-rc1-straddle (gcc) #1"
	for shift := 0; shift <= len(banner); shift++ {
		in := strings.Repeat("\x00", scanChunk-shift) + banner
		got, err := scanLinuxVersion(strings.NewReader(in), scanChunk, MaxGenericVersion)
		if err != nil || string(got) != "6.9.0-rc1-straddle" {
			t.Fatalf("shift %d: got %q, %v", shift, got, err)
		}
	}
	// A version of exactly the maximum length is accepted.
	v := "6." + strings.Repeat("x", MaxGenericVersion-2)
	got, err := scanLinuxVersion(strings.NewReader("Linux version "+v+" (x"), 100, MaxGenericVersion)
	if err != nil || string(got) != v {
		t.Fatalf("max-length version: got %d bytes, %v", len(got), err)
	}
	// One byte more would be ukify's match: refuse it.
	_, err = scanLinuxVersion(strings.NewReader("Linux version "+v+"y (x Linux version 1.2 (y"), 100, MaxGenericVersion)
	if err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("over-long version: err = %v", err)
	}
	// An over-long run that does not match is skipped, including a banner
	// that starts in its last bytes.
	long := "Linux version 6." + strings.Repeat("z", 3*MaxGenericVersion)
	for _, tail := range []string{" x Linux version 1.2 (y", "Linux version 1.2 (y", "\tLinux version 1.2 (y"} {
		for _, chunk := range []int{1, 5, 100, scanChunk} {
			got, err := scanLinuxVersion(strings.NewReader(long+tail), chunk, MaxGenericVersion)
			if err != nil || string(got) != "1.2" {
				t.Fatalf("tail %q chunk %d: got %q, %v", tail, chunk, got, err)
			}
		}
	}
	got, err = scanLinuxVersion(strings.NewReader(long), 7, MaxGenericVersion)
	if err != nil || got != nil {
		t.Fatalf("over-long run at EOF: got %q, %v", got, err)
	}
}

func TestDetectUnameGeneric(t *testing.T) {
	t.Parallel()
	_, enc := sharedSynthetic(t)
	tests := []struct {
		name string
		in   []byte
		want string
		msg  string
	}{
		{"gzip", enc[FormatGzip], "6.9.1-synthetic+", ""},
		{"zstd", enc[FormatZstd], "6.9.1-synthetic+", ""},
		{"xz", enc[FormatXZ], "6.9.1-synthetic+", ""},
		{"lzma", enc[FormatLZMA], "6.9.1-synthetic+", ""},
		{"lz4 legacy", enc[FormatLZ4Legacy], "6.9.1-synthetic+", ""},
		// maybe_decompress returns an MZ file from offset 8.
		{"PE banner at 8", []byte("MZ\x00\x00\x00\x00\x00\x00Linux version 5.1 (x"), "5.1", ""},
		{"PE banner at 2", []byte("MZLinux version 5.1 (x"), "", "cannot find b'Linux version (?P<version>\\\\d\\\\.\\\\S+) \\\\(' in test"},
		{"ELF scanned whole", []byte("\x7fELFLinux version 5.1 (x"), "5.1", ""},
		{"invalid UTF-8", encGzip(t, []byte("Linux version 5.\xff (x Linux version 6.1 (y")), "", "not valid UTF-8: b'5.\\xff'"},
		{"unknown format", []byte("\x00\x01\x02\x03Linux version 5.1 (x"), "", "unknown kernel file format"},
		{"lzo", []byte("\x89LZO\x00Linux version 5.1 (x"), "", "lzo"},
		{"corrupt gzip", []byte("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03garbage"), "", "gzip"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var warnings []string
			o := Options{Warn: func(f string, a ...any) { warnings = append(warnings, fmt.Sprintf(f, a...)) }}
			got, err := o.DetectUnameAt(bytes.NewReader(tc.in), int64(len(tc.in)), "test")
			if tc.want != "" {
				if err != nil || got != tc.want {
					t.Fatalf("got %q, %v; want %q", got, err, tc.want)
				}
				if len(warnings) != 2 {
					t.Errorf("want the x86 and ELF step failures as warnings, got %q", warnings)
				}
				return
			}
			var ue *UnameError
			if !errors.As(err, &ue) || !errors.Is(err, ErrNoUname) || len(ue.Steps) != 3 {
				t.Fatalf("got %q, %v; want *UnameError with 3 steps", got, err)
			}
			if !strings.Contains(ue.Steps[2].Error(), tc.msg) {
				t.Errorf("generic step error %q does not contain %q", ue.Steps[2], tc.msg)
			}
			if len(warnings) != 3 || warnings[2] != ue.Steps[2].Error() {
				t.Errorf("warnings %q do not report the three steps", warnings)
			}
		})
	}
}

// FuzzDetectUname feeds arbitrary bytes to the whole detection chain, and
// checks the streaming scan against the regexp oracle.
func FuzzDetectUname(f *testing.F) {
	f.Add([]byte("Linux version 6.1.0 (x"))
	f.Add(x86Image("6.1.0-50-amd64 (debian-kernel@lists.debian.org) #1 SMP"))
	f.Add(buildELF(elfSpec{regions: [][]testNote{{{name: "Linux", typ: 0x100, desc: []byte("6.1.0")}}}}))
	f.Add(buildZboot("gzip", []byte("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"), 10))
	f.Add([]byte("\x5d\x00\x00\x80\x00\xff\xff\xff\xff\xff\xff\xff\xff\x00"))
	f.Add([]byte("\xfd7zXZ\x00\x00\x01\x69\x22\xde\x36"))
	f.Add([]byte("\x02\x21\x4c\x18\x10\x00\x00\x00"))
	f.Add([]byte("\x28\xb5\x2f\xfd\x00\x58"))
	f.Add([]byte("BZh91AY&SY"))
	f.Fuzz(func(t *testing.T, in []byte) {
		o := Options{Limit: 1 << 20}
		v, err := o.DetectUnameAt(bytes.NewReader(in), int64(len(in)), "fuzz")
		if err == nil && !utf8.ValidString(v) {
			t.Fatalf("invalid UTF-8 version %q", v)
		}
		_ = IsPE(bytes.NewReader(in), int64(len(in)))
		got, err := scanLinuxVersion(iotest.HalfReader(bytes.NewReader(in)), 5, 64)
		want := scanOracle.FindSubmatch(in)
		switch {
		case err != nil:
			if want == nil || len(want[1]) <= 64 {
				t.Fatalf("scan error %v, oracle %q", err, want)
			}
		case want == nil:
			if got != nil {
				t.Fatalf("scan found %q, oracle nothing", got)
			}
		case !bytes.Equal(got, want[1]):
			t.Fatalf("scan found %q, oracle %q", got, want[1])
		}
	})
}
