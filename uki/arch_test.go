package uki

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ukibuild/ukibuild/internal/reftools"
)

// stubMachine is the machine of a Debian stub as its file name
// (linux<arch>.efi.stub, addon<arch>.efi.stub) says.
func stubMachine(t *testing.T, path string) Machine {
	t.Helper()
	m := regexp.MustCompile(`^(?:linux|addon)(.+)\.efi\.stub$`).FindStringSubmatch(filepath.Base(path))
	if m == nil {
		t.Fatalf("%s: not a stub name", path)
	}
	mach, err := EFIArchMachine(m[1])
	if err != nil {
		t.Fatal(err)
	}
	return mach
}

// TestArchChecks: Debian's stubs, kernels and add-on stubs of different
// architectures and a wrong --efi-arch are refused with an
// *ArchMismatchError naming both and no output; matching ones build (an
// x86-64 kernel with the ia32 stub too).
func TestArchChecks(t *testing.T) {
	tools := reftools.Locate(t)
	p := func(key string) string { return tools.Path(t, key) }
	x64, aa64, rv64 := p("UKIBUILD_KERNEL"), p("UKIBUILD_KERNEL_AA64"), p("UKIBUILD_KERNEL_RISCV64")
	cases := []struct {
		stub, linux, arch string
		join              []string
		bad               string // the File of the error ("": builds)
	}{
		{stub: "UKIBUILD_STUB_262_AA64", linux: aa64, arch: "aa64"},
		{stub: "UKIBUILD_STUB_252_AA64", linux: aa64},
		{stub: "UKIBUILD_STUB_262_RISCV64", linux: rv64, arch: "riscv64"},
		{stub: "UKIBUILD_STUB_262_IA32", linux: x64, arch: "ia32"},
		{stub: "UKIBUILD_STUB_262_AA64", linux: x64, bad: "kernel"},
		{stub: "UKIBUILD_STUB_262", linux: aa64, bad: "kernel"},
		{stub: "UKIBUILD_STUB_257_RISCV64", linux: aa64, bad: "kernel"},
		{stub: "UKIBUILD_STUB_262_AA64", linux: rv64, bad: "kernel"},
		{stub: "UKIBUILD_STUB_262", linux: x64, arch: "aa64", bad: "stub"},
		{stub: "UKIBUILD_STUB_262_AA64", linux: aa64, arch: "x64", bad: "stub"},
		{stub: "UKIBUILD_ADDON_STUB_262_RISCV64", arch: "aa64", bad: "stub"},
		{stub: "UKIBUILD_STUB_262_AA64", linux: aa64, join: []string{"UKIBUILD_ADDON_STUB_262"}, bad: "profile PE"},
		{stub: "UKIBUILD_STUB_262", linux: x64, join: []string{"UKIBUILD_ADDON_STUB_262_AA64"}, bad: "profile PE"},
	}
	for i, c := range cases {
		t.Run(fmt.Sprintf("%d-%s", i, c.stub), func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "out.efi")
			cfg := Config{Stub: p(c.stub), Linux: c.linux, EFIArch: c.arch, Cmdline: Text("cmdline", "quiet"), TempDir: dir}
			u := "6.1.0-test"
			cfg.Uname = &u
			for _, j := range c.join {
				cfg.JoinProfiles = append(cfg.JoinProfiles, p(j))
			}
			err := Build(context.Background(), cfg, out)
			if c.bad == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var am *ArchMismatchError
			if !errors.As(err, &am) {
				t.Fatalf("error %v, want an *ArchMismatchError", err)
			}
			if _, serr := os.Stat(out); serr == nil {
				t.Error("an output file was written")
			}
			sm := stubMachine(t, cfg.Stub)
			switch c.bad {
			case "stub":
				am2, _ := EFIArchMachine(c.arch)
				if am.File != "stub "+cfg.Stub || am.Machine != sm || am.Other != "--efi-arch "+c.arch || am.OtherMachine != am2 {
					t.Errorf("%+v", am)
				}
			case "kernel":
				if am.File != "kernel "+c.linux || am.Other != "stub "+cfg.Stub || am.OtherMachine != sm || am.Machine == sm {
					t.Errorf("%+v", am)
				}
			case "profile PE":
				if am.File != "profile PE "+cfg.JoinProfiles[0] || am.Machine != stubMachine(t, cfg.JoinProfiles[0]) || am.OtherMachine != sm {
					t.Errorf("%+v", am)
				}
			}
			for _, s := range []string{am.File, am.Other, am.Machine.String(), am.OtherMachine.String()} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not name %q", err, s)
				}
			}
		})
	}
}

// TestStubTrailingDataWarning: the 252 arm64 stub, which has bytes after
// its last section (as many as pefile counts, up to a COFF symbol table
// that ukify strips), gets a warning; the other stubs do not.
func TestStubTrailingDataWarning(t *testing.T) {
	tools := reftools.Locate(t)
	stubs := map[string]string{}
	for _, k := range []string{"UKIBUILD_STUB_252_AA64", "UKIBUILD_STUB_262_AA64", "UKIBUILD_STUB_257_RISCV64", "UKIBUILD_STUB_252", "UKIBUILD_STUB_262"} {
		stubs[k] = tools.Path(t, k)
	}
	in, _ := json.Marshal(stubs)
	out := tools.UkifyPython(t, `import pefile
stubs = json.load(sys.stdin)
res = {}
for k, p in stubs.items():
    pe = pefile.PE(p, fast_load=True)
    end = max(s.PointerToRawData + s.SizeOfRawData for s in pe.sections)
    # ukify strips a COFF symbol table at the end of the file
    res[k] = (pe.FILE_HEADER.PointerToSymbolTable or len(pe.__data__)) - end
json.dump(res, sys.stdout)
`, in)
	var trailing map[string]int
	if err := json.Unmarshal(out, &trailing); err != nil {
		t.Fatal(err)
	}
	if trailing["UKIBUILD_STUB_252_AA64"] == 0 {
		t.Fatalf("pefile finds no trailing data in the 252 arm64 stub: %s", out)
	}
	for k, path := range stubs {
		var warnings []string
		cfg := Config{Stub: path, Cmdline: Text("cmdline", "quiet"), Warnf: func(f string, a ...any) {
			warnings = append(warnings, fmt.Sprintf(f, a...))
		}}
		plan, err := Prepare(context.Background(), cfg)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		plan.Close()
		want := fmt.Sprintf("stub %s: %d bytes after its last section", path, trailing[k])
		got := strings.Join(warnings, "\n")
		if trailing[k] > 0 && !strings.Contains(got, want) || trailing[k] == 0 && strings.Contains(got, "after its last section") {
			t.Errorf("%s (%d trailing bytes): warnings %q", k, trailing[k], got)
		}
	}
}
