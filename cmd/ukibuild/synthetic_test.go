package main

import (
	"path/filepath"
	"testing"

	"github.com/ukibuild/ukibuild/internal/pe/petest"
)

// TestSyntheticStubsMatchUkify checks the stub fix-ups (unaligned raw data,
// SizeOfHeaders rounding, symbol tables at and not at the end of the file)
// against ukify on synthetic stubs.
func TestSyntheticStubsMatchUkify(t *testing.T) {
	f := getFixture(t)
	sbatText := []byte("sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\nsystemd,1,The systemd Developers,systemd,999,https://systemd.io/\n")
	strtab := []byte{12, 0, 0, 0, 'a', 'b', 'c', 0, 'd', 'e', 'f', 0}
	aligned := []petest.Section{
		petest.Sec(".text", 0x1000, 0x150, 0x400, 0x200, petest.Fill(0x150, 1)),
		petest.Sec(".data", 0x2000, 0x80, 0x600, 0x200, petest.Fill(0x80, 2)),
		petest.Sec(".sbat", 0x3000, uint32(len(sbatText)), 0x800, 0x200, sbatText),
	}
	unaligned := []petest.Section{
		petest.Sec(".text", 0x1000, 0x150, 0x300, 0x150, petest.Fill(0x150, 1)),
		petest.Sec(".data", 0x2000, 0x80, 0x450, 0x90, petest.Fill(0x80, 2)),
		// pefile reads a section from its pointer rounded down to 512
		// bytes, so ukify can only read an SBAT that starts aligned.
		petest.Sec(".sbat", 0x3000, uint32(len(sbatText)), 0x600, 0x1a0, sbatText),
	}
	stubs := map[string][]byte{
		"aligned":                petest.Stub(0x400, aligned, 0, nil),
		"symtab-at-end":          petest.Stub(0x400, aligned, 5, strtab),
		"unaligned-raw":          petest.Stub(0x2c0, unaligned, 0, nil),
		"unaligned-with-symbols": petest.Stub(0x2c0, unaligned, 4, strtab),
		// A symbol table that is not at the very end stays in the image.
		// ukify then corrupts the image (see uki.Compose); ours must hold
		// the same sections as ukify's build on the "aligned" stub.
		"symtab-no-strings": petest.Stub(0x400, aligned, 3, []byte{0, 0, 0, 0}),
		"symtab-then-data":  append(petest.Stub(0x400, aligned, 2, strtab), 0xaa, 0xbb, 0xcc),
	}
	ukifyCorrupts := map[string]bool{"symtab-no-strings": true, "symtab-then-data": true}
	for name, data := range stubs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			stub := writeFile(dir, name+".stub", data)
			args := []string{"build", "--stub", stub, "--linux", f.kernel, "--initrd", filepath.Join(f.dir, "initrd1"),
				"--cmdline", "x", "--os-release", "ID=synthetic"}
			ref, ours := filepath.Join(dir, "ukify.efi"), filepath.Join(dir, "ours.efi")
			if ukifyCorrupts[name] {
				if code, _, e := runOurs(append(args, "--output", ours)...); code != 0 {
					t.Fatalf("ukibuild failed: %s", e)
				}
				compareInspect(t, f, dir, ours)
				refArgs := append([]string{}, args...)
				refArgs[2] = writeFile(dir, "aligned.stub", stubs["aligned"])
				if code, _, e := runUkify(t, f.tools, dir, append(refArgs, "--output", ref)...); code != 0 {
					t.Fatalf("ukify failed: %s", e)
				}
				_, want, _ := runUkify(t, f.tools, dir, "inspect", ref, "--all", "--json=short")
				_, got, _ := runUkify(t, f.tools, dir, "inspect", ours, "--all", "--json=short")
				if want != got || want == "" {
					t.Errorf("sections differ from ukify's build on the aligned stub:\n%s\n%s", want, got)
				}
				return
			}
			if code, _, e := runUkify(t, f.tools, dir, append(args, "--output", ref)...); code != 0 {
				t.Fatalf("ukify failed: %s", e)
			}
			if code, _, e := runOurs(append(args, "--output", ours)...); code != 0 {
				t.Fatalf("ukibuild failed: %s", e)
			}
			compareFiles(t, ref, ours)
			compareInspect(t, f, dir, ours)
		})
	}
}
