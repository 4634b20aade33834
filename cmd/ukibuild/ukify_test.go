package main

// Byte-identity tests against the real ukify 262.1 (Debian sid's
// systemd-ukify) on Debian's real stubs 252, 254, 257 and 262.1 (x86-64 and
// arm64; ia32 262.1; riscv64 257 and 262.1) and real Debian kernels of each
// architecture. The reference tools are fetched by internal/reftools/fetch.sh;
// a missing tool fails the test.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ukibuild/ukibuild/internal/reftools"
)

// stubKeys name the stubs fetch.sh records as UKIBUILD_STUB_<key>.
var stubKeys = []string{"252", "254", "257", "262", "262_IA32",
	"252_AA64", "254_AA64", "257_AA64", "262_AA64", "257_RISCV64", "262_RISCV64"}

// stubArch is the --efi-arch of each stub.
func stubArch(key string) string {
	switch {
	case strings.HasSuffix(key, "_IA32"):
		return "ia32"
	case strings.HasSuffix(key, "_AA64"):
		return "aa64"
	case strings.HasSuffix(key, "_RISCV64"):
		return "riscv64"
	}
	return "x64"
}

// stubVersion is the systemd release of a stub key ("252_AA64": "252").
func stubVersion(key string) string {
	v, _, _ := strings.Cut(key, "_")
	return v
}

// kernelFor is the Debian kernel for a stub's architecture (the amd64 one
// for the ia32 stub, which starts it in EFI mixed mode).
func (f *fixture) kernelFor(stub string) string {
	switch stubArch(stub) {
	case "aa64":
		return f.kernelAA64
	case "riscv64":
		return f.kernelRISCV64
	}
	return f.kernel
}

// compressed is the kernel compressed in format, as compressKernel wrote
// it into the fixture directory.
func (f *fixture) compressed(kernel, format string) string {
	return filepath.Join(f.dir, filepath.Base(kernel)+"."+format)
}

// fixture holds generated inputs shared by the tests.
type fixture struct {
	dir    string
	kernel string // amd64
	// kernelAA64 and kernelRISCV64 are the arm64 and riscv64 kernels, and
	// dtbAA64 two real arm64 devicetrees.
	kernelAA64, kernelRISCV64 string
	dtbAA64                   [2]string
	stubs                     map[string]string
	tools                     *reftools.Tools
}

var (
	fixtureOnce sync.Once
	fixtureVal  *fixture
	fixtureErr  error
)

func writeFile(dir, name string, data []byte) string {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		panic(err)
	}
	return p
}

func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// bmp returns a small valid 24-bit BMP image.
func bmp(w, h int) []byte {
	row := (w*3 + 3) &^ 3
	size := 54 + row*h
	b := make([]byte, size)
	copy(b, "BM")
	le := binary.LittleEndian
	le.PutUint32(b[2:], uint32(size))
	le.PutUint32(b[10:], 54)
	le.PutUint32(b[14:], 40)
	le.PutUint32(b[18:], uint32(w))
	le.PutUint32(b[22:], uint32(h))
	le.PutUint16(b[26:], 1)
	le.PutUint16(b[28:], 24)
	le.PutUint32(b[34:], uint32(row*h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			o := 54 + y*row + x*3
			b[o], b[o+1], b[o+2] = byte(x*40), byte(y*40), 0xff
		}
	}
	return b
}

func getFixture(t *testing.T) *fixture {
	t.Helper()
	tools := reftools.Locate(t)
	if cf := reftools.UkifyConfigFiles(); len(cf) > 0 {
		t.Fatalf("ukify configuration files exist (%v); they would change ukify's behaviour in these tests", cf)
	}
	fixtureOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ukibuild-fixture-")
		if err != nil {
			fixtureErr = err
			return
		}
		f := &fixture{dir: dir, tools: tools, stubs: map[string]string{}}
		for _, k := range stubKeys {
			f.stubs[k] = tools.Var("UKIBUILD_STUB_" + k)
		}
		f.kernel = tools.Var("UKIBUILD_KERNEL")
		f.kernelAA64, f.kernelRISCV64 = tools.Var("UKIBUILD_KERNEL_AA64"), tools.Var("UKIBUILD_KERNEL_RISCV64")
		f.dtbAA64 = [2]string{tools.Var("UKIBUILD_DTB_AA64_X13S"), tools.Var("UKIBUILD_DTB_AA64_C630")}
		writeFile(dir, "initrd1", randomBytes(1, 1001))
		writeFile(dir, "initrd2", randomBytes(2, 77777))
		writeFile(dir, "initrd3", randomBytes(3, 4096))
		writeFile(dir, "ucode", randomBytes(4, 513))
		writeFile(dir, "dtb", append([]byte{0xd0, 0x0d, 0xfe, 0xed}, randomBytes(5, 300)...))
		writeFile(dir, "splash.bmp", bmp(5, 3))
		writeFile(dir, "cmdline", []byte("console=ttyS0  root=/dev/vda1\trw\n"))
		writeFile(dir, "os-release", []byte("ID=test\nNAME=\"Test OS\"\nVERSION_ID=1\nPRETTY_NAME=\"Test OS 1 (ünïcode)\"\n"))
		writeFile(dir, "custom.bin", randomBytes(6, 100))
		writeFile(dir, "pcrpkey.pem", []byte("-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n"))
		writeFile(dir, "sbat.csv", []byte("sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\nfoo,2,Foo Inc.,foo,1.2,https://foo.example/\nbar,1,Bar,bar,9,mailto:bar@example.org\n"))
		var big strings.Builder
		big.WriteString("sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\n")
		for i := 0; i < 40; i++ {
			fmt.Fprintf(&big, "component%d,1,Vendor,package%d,1.0,https://example.org/%d\n", i, i, i)
		}
		writeFile(dir, "sbat-big.csv", []byte(big.String()))
		fixtureVal = f
	})
	if fixtureErr != nil {
		t.Fatal(fixtureErr)
	}
	for k, p := range fixtureVal.stubs {
		if p == "" {
			t.Fatalf("stub %s is not recorded by internal/reftools/fetch.sh", k)
		}
	}
	for _, k := range []string{"UKIBUILD_KERNEL", "UKIBUILD_KERNEL_AA64", "UKIBUILD_KERNEL_RISCV64", "UKIBUILD_DTB_AA64_X13S", "UKIBUILD_DTB_AA64_C630"} {
		tools.Path(t, k)
	}
	return fixtureVal
}

// compressKernel writes the kernel compressed with the real tool for format
// (Debian packages gzip, zstd, lz4, bzip2, xz-utils; installed by
// .ci/deps.sh) into dir.
func compressKernel(t *testing.T, kernel, dir, format string) string {
	t.Helper()
	tool := map[string][]string{
		"gzip":  {"gzip", "-c", "-9"},
		"zstd":  {"zstd", "-c", "-q", "-19"},
		"lz4":   {"lz4", "-c", "-q", "-9"}, // the frame format, which ukify reads
		"bzip2": {"bzip2", "-c"},
		"xz":    {"xz", "-c"},
		"lzma":  {"lzma", "-c"}, // the .lzma "alone" format
	}[format]
	if tool == nil {
		t.Fatalf("unknown format %s", format)
	}
	out, err := exec.Command(tool[0], append(tool[1:], kernel)...).Output()
	if err != nil {
		t.Fatalf("%s (installed by .ci/deps.sh): %v", tool[0], err)
	}
	p := filepath.Join(dir, filepath.Base(kernel)+"."+format)
	if err := os.WriteFile(p, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// runOurs runs ukibuild in-process.
func runOurs(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

func runUkify(t *testing.T, tools *reftools.Tools, dir string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := tools.Ukify(t, args...)
	cmd.Dir = dir
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), o.String(), e.String()
		}
		t.Fatalf("running ukify: %v", err)
	}
	return 0, o.String(), e.String()
}

type buildCase struct {
	name string
	// args are the arguments for kernel k (of the stub's architecture).
	args func(f *fixture, k, dir string) []string
	// x86 limits the case to the x86 stubs (the other compressions of
	// the kernel are checked there; arm64 and riscv64 get gzip).
	x86 bool
	// fails maps a stub to a substring both tools' errors must contain
	// (ours, then ukify's); absent stubs must build.
	fails map[string][2]string
}

func everything(f *fixture, k, cmdline string) []string {
	d := f.dir
	return []string{
		"--linux", k,
		"--initrd", filepath.Join(d, "initrd1"), "--initrd", filepath.Join(d, "initrd2"),
		"--microcode", filepath.Join(d, "ucode"),
		"--devicetree", filepath.Join(d, "dtb"),
		"--splash", filepath.Join(d, "splash.bmp"),
		"--cmdline", cmdline,
		"--os-release", "@" + filepath.Join(d, "os-release"),
		"--pcrpkey", filepath.Join(d, "pcrpkey.pem"),
		"--section", ".custom:hello custom  section",
		"--section", ".cust2:@" + filepath.Join(d, "custom.bin"),
		"--sbat", "@" + filepath.Join(d, "sbat.csv"),
	}
}

var tooMany = [2]string{"not enough header space", "Not enough header space"}

var buildCases = []buildCase{
	{name: "linux-only", args: func(f *fixture, k, _ string) []string {
		return []string{"--linux", k}
	}},
	{name: "everything-text-cmdline", args: func(f *fixture, k, _ string) []string {
		return everything(f, k, "  console=ttyS0   quiet\t splash  ")
	}, fails: map[string][2]string{"252": tooMany, "254": tooMany, "254_AA64": tooMany}},
	{name: "everything-file-cmdline", args: func(f *fixture, k, _ string) []string {
		return everything(f, k, "@"+filepath.Join(f.dir, "cmdline"))
	}, fails: map[string][2]string{"252": tooMany, "254": tooMany, "254_AA64": tooMany}},
	{name: "fits-small-stubs", args: func(f *fixture, k, _ string) []string {
		d := f.dir
		return []string{
			"--linux", k,
			"--initrd", filepath.Join(d, "initrd1"), "--initrd", filepath.Join(d, "initrd2"), "--initrd", filepath.Join(d, "initrd3"),
			"--microcode", filepath.Join(d, "ucode"),
			"--cmdline", "@" + filepath.Join(d, "cmdline"),
			"--os-release", "@" + filepath.Join(d, "os-release"),
			"--sbat", "@" + filepath.Join(d, "sbat.csv"),
			"--sbat", "sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\nbaz,3,Baz,baz,3,https://baz.example/",
		}
	}},
	{name: "uname-given-osrel-omitted", args: func(f *fixture, k, _ string) []string {
		return []string{"--linux", k, "--uname", "1.2.3-test", "--os-release", "", "--initrd", filepath.Join(f.dir, "initrd2"), "--splash", filepath.Join(f.dir, "splash.bmp")}
	}},
	{name: "sbat-too-large", args: func(f *fixture, k, _ string) []string {
		return []string{"--linux", k, "--sbat", "@" + filepath.Join(f.dir, "sbat-big.csv")}
	}, fails: map[string][2]string{
		"252":      {"not enough space in the stub's existing section .sbat", "Not enough space in existing section .sbat"},
		"254":      {"not enough space in the stub's existing section .sbat", "Not enough space in existing section .sbat"},
		"257":      {"not enough space in the stub's existing section .sbat", "Not enough space in existing section .sbat"},
		"262":      {"not enough space in the stub's existing section .sbat", "Not enough space in existing section .sbat"},
		"262_IA32": {"not enough space in the stub's existing section .sbat", "Not enough space in existing section .sbat"},
		// (252_AA64 has no .sbat: the merged one is a new section.)
		"254_AA64":    {"not enough space in the stub's existing section .sbat", "Not enough space in existing section .sbat"},
		"257_AA64":    {"not enough space in the stub's existing section .sbat", "Not enough space in existing section .sbat"},
		"262_AA64":    {"not enough space in the stub's existing section .sbat", "Not enough space in existing section .sbat"},
		"257_RISCV64": {"not enough space in the stub's existing section .sbat", "Not enough space in existing section .sbat"},
		"262_RISCV64": {"not enough space in the stub's existing section .sbat", "Not enough space in existing section .sbat"},
	}},
	{name: "gzip-kernel", args: func(f *fixture, k, dir string) []string {
		return []string{"--linux", f.compressed(k, "gzip"), "--initrd", filepath.Join(f.dir, "initrd1")}
	}},
	{name: "zstd-kernel", x86: true, args: func(f *fixture, k, dir string) []string {
		return []string{"--linux", f.compressed(k, "zstd")}
	}},
	{name: "lz4-kernel", x86: true, args: func(f *fixture, k, dir string) []string {
		return []string{"--linux", f.compressed(k, "lz4")}
	}},
	{name: "bzip2-kernel", x86: true, args: func(f *fixture, k, dir string) []string {
		return []string{"--linux", f.compressed(k, "bzip2")}
	}},
	{name: "lzma-kernel", x86: true, args: func(f *fixture, k, dir string) []string {
		return []string{"--linux", f.compressed(k, "lzma")}
	}},
}

var compressOnce sync.Once

func TestBuildMatchesUkify(t *testing.T) {
	f := getFixture(t)
	compressOnce.Do(func() {
		for _, fm := range []string{"gzip", "zstd", "lz4", "bzip2", "lzma"} {
			compressKernel(t, f.kernel, f.dir, fm)
		}
		compressKernel(t, f.kernelAA64, f.dir, "gzip")
		compressKernel(t, f.kernelRISCV64, f.dir, "gzip")
	})
	for _, stub := range stubKeys {
		x86 := stubArch(stub) == "x64" || stubArch(stub) == "ia32"
		for _, bc := range buildCases {
			if bc.x86 && !x86 {
				continue
			}
			t.Run(stub+"/"+bc.name, func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				args := append([]string{"build"}, bc.args(f, f.kernelFor(stub), dir)...)
				args = append(args, "--stub", f.stubs[stub], "--efi-arch", stubArch(stub))
				ref := filepath.Join(dir, "ukify.efi")
				ours := filepath.Join(dir, "ours.efi")
				ucode, _, uerr := runUkify(t, f.tools, dir, append(args, "--output", ref)...)
				ocode, _, oerr := runOurs(append(args, "--output", ours)...)
				if want, ok := bc.fails[stub]; ok {
					if ocode == 0 || !strings.Contains(oerr, want[0]) {
						t.Errorf("ukibuild: exit %d, stderr %q; want failure containing %q", ocode, oerr, want[0])
					}
					if ucode == 0 || !strings.Contains(uerr, want[1]) {
						t.Errorf("ukify: exit %d, stderr %q; want failure containing %q", ucode, uerr, want[1])
					}
					if _, err := os.Stat(ours); err == nil {
						t.Errorf("ukibuild left an output file after failing")
					}
					return
				}
				if ucode != 0 {
					t.Fatalf("ukify failed (exit %d): %s", ucode, uerr)
				}
				if ocode != 0 {
					t.Fatalf("ukibuild failed (exit %d): %s", ocode, oerr)
				}
				compareFiles(t, ref, ours)
				if x86 {
					compareInspect(t, f, dir, ours)
				} else {
					compareInspectModes(t, f, dir, ours, inspectShort...)
				}
			})
		}
	}
}

// TestXZKernel: ukify 262 cannot decompress xz kernels; ukibuild does, and
// the result equals ukify's build from the uncompressed kernel.
func TestXZKernel(t *testing.T) {
	f := getFixture(t)
	dir := t.TempDir()
	xzKernel := compressKernel(t, f.kernel, dir, "xz")
	ref := filepath.Join(dir, "ukify.efi")
	ours := filepath.Join(dir, "ours.efi")
	base := []string{"build", "--stub", f.stubs["262"], "--initrd", filepath.Join(f.dir, "initrd1")}
	if code, _, e := runUkify(t, f.tools, dir, append(base, "--linux", f.kernel, "--output", ref)...); code != 0 {
		t.Fatalf("ukify: %s", e)
	}
	if code, _, e := runOurs(append(base, "--linux", xzKernel, "--output", ours)...); code != 0 {
		t.Fatalf("ukibuild: %s", e)
	}
	compareFiles(t, ref, ours)
}

func compareFiles(t *testing.T, want, got string) {
	t.Helper()
	a, err := os.ReadFile(want)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(got)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a, b) {
		return
	}
	n := min(len(a), len(b))
	i := 0
	for i < n && a[i] == b[i] {
		i++
	}
	t.Errorf("output differs from ukify's: sizes %d (ukify) vs %d (ukibuild), first difference at offset %#x", len(a), len(b), i)
}

// compareInspect checks that inspect prints what ukify's inspect prints, in
// every output mode.
func compareInspect(t *testing.T, f *fixture, dir, file string) {
	t.Helper()
	compareInspectModes(t, f, dir, file,
		[]string{"--json=short"},
		[]string{"--json=pretty"},
		[]string{},
		[]string{"--all"},
		[]string{"--all", "--json=short"},
		[]string{"--section", ".cmdline:text", "--section", ".linux:binary", "--section", ".sdmagic:text"},
		[]string{"--section", ".sbat:binary", "--json=pretty"},
	)
}

// compareInspectModes checks inspect in the given output modes.
func compareInspectModes(t *testing.T, f *fixture, dir, file string, modes ...[]string) {
	t.Helper()
	for _, mode := range modes {
		args := append([]string{"inspect", file}, mode...)
		ucode, uout, uerr := runUkify(t, f.tools, dir, args...)
		ocode, oout, oerr := runOurs(args...)
		if ucode != 0 || ocode != 0 {
			t.Errorf("inspect %v: ukify exit %d (%s), ukibuild exit %d (%s)", mode, ucode, uerr, ocode, oerr)
			continue
		}
		if uout != oout {
			t.Errorf("inspect %v differs:\n--- ukify\n%s\n--- ukibuild\n%s", mode, uout, oout)
		}
	}
}

// TestInspectProfilesMatchesUkify: on a multi-profile UKI built by ukify
// itself (profile PEs joined with --join-profile), inspect prints what
// ukify's inspect prints, including "_profiles" and repeated sections.
func TestInspectProfilesMatchesUkify(t *testing.T) {
	f := getFixture(t)
	addon := f.tools.Path(t, "UKIBUILD_ADDON_STUB_262")
	dir := t.TempDir()
	profiles := []string{}
	for i, p := range []struct{ profile, cmdline string }{
		{"ID=factory-reset\nTITLE=Factory Reset", "systemd.unit=factory-reset.target"},
		{"ID=debug\nTITLE=Debug ünicode", "debug loglevel=7"},
	} {
		out := filepath.Join(dir, fmt.Sprintf("profile%d.efi", i))
		if code, _, e := runUkify(t, f.tools, dir, "build", "--stub", addon, "--profile", p.profile, "--cmdline", p.cmdline, "--output", out); code != 0 {
			t.Fatalf("ukify profile build: %s", e)
		}
		profiles = append(profiles, "--join-profile", out)
	}
	multi := filepath.Join(dir, "multi.efi")
	args := append([]string{"build", "--stub", f.stubs["262"], "--linux", f.kernel, "--cmdline", "quiet",
		"--initrd", filepath.Join(f.dir, "initrd1"), "--output", multi}, profiles...)
	if code, _, e := runUkify(t, f.tools, dir, args...); code != 0 {
		t.Fatalf("ukify multi-profile build: %s", e)
	}
	_, out, _ := runOurs("inspect", multi, "--json=short")
	if !strings.Contains(out, `"_profiles": [{".profile"`) {
		t.Fatalf("no _profiles in inspect output: %s", out)
	}
	compareInspect(t, f, dir, multi)
}
