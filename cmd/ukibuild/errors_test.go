package main

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ukibuild/ukibuild/internal/pe"
)

// signedStub returns a copy of stub whose certificate table directory entry
// points somewhere, as in a signed image.
func signedStub(t *testing.T, stub, dir string) string {
	t.Helper()
	data, err := os.ReadFile(stub)
	if err != nil {
		t.Fatal(err)
	}
	f, err := pe.Parse(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	off := f.DataDirOffset + pe.DirSecurity*8
	binary.LittleEndian.PutUint32(data[off:], uint32(len(data)))
	binary.LittleEndian.PutUint32(data[off+4:], 8)
	data = append(data, 8, 0, 0, 0, 0, 2, 2, 0)
	return writeFile(dir, "signed.stub", data)
}

// TestBuildErrors: bad input gives exit != 0, one message naming the file and
// the defect, and no output; an existing output file is left untouched.
// Where ukify has the same error case, it must fail too.
func TestBuildErrors(t *testing.T) {
	f := getFixture(t)
	stub := f.stubs["262"]
	stubData, err := os.ReadFile(stub)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	notPE := writeFile(dir, "notpe.stub", []byte("#!/bin/sh\necho this is not a PE image\n"+strings.Repeat("x", 100)))
	truncated := writeFile(dir, "truncated.stub", stubData[:300])
	shortTable := writeFile(dir, "short-table.stub", stubData[:400])
	shortData := writeFile(dir, "short-data.stub", stubData[:600])
	signed := signedStub(t, stub, dir)
	garbage := writeFile(dir, "garbage-kernel", bytes.Repeat([]byte{0x42}, 4096))
	badSBAT := writeFile(dir, "bad-sbat.csv", []byte("sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\nfoo,x,Foo,foo,1,https://foo.example/\n"))

	cases := []struct {
		name  string
		args  []string
		want  []string // substrings of our error message
		ukify string   // substring of ukify's error, when ukify has this case
	}{
		{"signed stub", []string{"--stub", signed, "--linux", f.kernel}, []string{signed, "stub is signed"}, "Stub image is signed, refusing"},
		{"too many sections", []string{"--stub", f.stubs["252"], "--linux", f.kernel,
			"--section", ".a:1", "--section", ".b:2", "--section", ".c:3", "--section", ".d:4", "--section", ".e:5", "--section", ".f:6"},
			[]string{"not enough header space to add section", "room for 7 more section headers"}, "Not enough header space to add section"},
		{"sbat too large", []string{"--stub", stub, "--linux", f.kernel, "--sbat", "@" + filepath.Join(f.dir, "sbat-big.csv")},
			[]string{"existing section .sbat", "need ", "have 1024"}, "Not enough space in existing section .sbat"},
		{"stub not PE", []string{"--stub", notPE, "--linux", f.kernel}, []string{notPE, "not a valid PE image", "MZ"}, ""},
		{"stub truncated", []string{"--stub", truncated, "--linux", f.kernel}, []string{truncated, "beyond the end of the file"}, ""},
		{"stub section table truncated", []string{"--stub", shortTable, "--linux", f.kernel}, []string{shortTable, "section table"}, ""},
		{"stub section data truncated", []string{"--stub", shortData, "--linux", f.kernel}, []string{shortData, `section 0 (".text")`, "beyond the end of the file"}, ""},
		{"stub missing", []string{"--stub", filepath.Join(dir, "nope.stub"), "--linux", f.kernel}, []string{filepath.Join(dir, "nope.stub"), "no such file"}, ""},
		{"initrd missing", []string{"--stub", stub, "--linux", f.kernel, "--initrd", filepath.Join(dir, "nope.img")}, []string{"--initrd", filepath.Join(dir, "nope.img"), "no such file"}, ""},
		{"cmdline file missing", []string{"--stub", stub, "--linux", f.kernel, "--cmdline", "@" + filepath.Join(dir, "nope.txt")}, []string{"--cmdline", filepath.Join(dir, "nope.txt"), "no such file"}, ""},
		{"kernel missing", []string{"--stub", stub, "--linux", filepath.Join(dir, "nope-vmlinuz")}, []string{filepath.Join(dir, "nope-vmlinuz"), "no such file"}, ""},
		{"kernel not PE nor compressed", []string{"--stub", stub, "--linux", garbage}, []string{garbage, "not a PE image"}, ""},
		{"bad SBAT file", []string{"--stub", stub, "--linux", f.kernel, "--sbat", "@" + badSBAT}, []string{badSBAT, "line 2", "generation"}, ""},
		{"bad SBAT text", []string{"--stub", stub, "--linux", f.kernel, "--sbat", "foo,1,Foo,foo,1,https://foo.example/"}, []string{"--sbat", "sbat"}, ""},
		{"duplicate section", []string{"--stub", stub, "--linux", f.kernel, "--cmdline", "x", "--section", ".cmdline:y"}, []string{"duplicate section .cmdline"}, "Duplicate section .cmdline"},
		{"section name too long", []string{"--stub", stub, "--linux", f.kernel, "--section", ".toolongname:y"}, []string{".toolongname", "too long"}, "Section name too long"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			d := t.TempDir()
			fresh := filepath.Join(d, "fresh.efi")
			code, _, stderr := runOurs(append([]string{"build", "--output", fresh}, c.args...)...)
			if code == 0 {
				t.Fatalf("ukibuild succeeded; want an error")
			}
			for _, w := range c.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("error message %q does not contain %q", stderr, w)
				}
			}
			if strings.Count(strings.TrimSpace(stderr), "\n") > 0 && !strings.Contains(stderr, "warning") {
				t.Errorf("want one error line, got %q", stderr)
			}
			if strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine") {
				t.Errorf("panic: %s", stderr)
			}
			if _, err := os.Stat(fresh); err == nil {
				t.Errorf("an output file was created")
			}
			// An existing output stays as it was.
			existing := filepath.Join(d, "existing.efi")
			writeFile(d, "existing.efi", []byte("previous image"))
			if code, _, _ := runOurs(append([]string{"build", "--output", existing}, c.args...)...); code == 0 {
				t.Fatalf("second run succeeded")
			}
			if b, _ := os.ReadFile(existing); string(b) != "previous image" {
				t.Errorf("existing output was modified")
			}
			if ents, _ := os.ReadDir(d); len(ents) != 1 {
				t.Errorf("leftover files in the output directory: %v", ents)
			}
			if c.ukify != "" {
				code, _, uerr := runUkify(t, f.tools, d, append([]string{"build", "--output", fresh}, c.args...)...)
				if code == 0 || !strings.Contains(uerr, c.ukify) {
					t.Errorf("ukify: exit %d, stderr %q; want failure containing %q", code, uerr, c.ukify)
				}
			}
		})
	}
}

// TestReproducible: the same inputs give byte-identical output, whatever the
// output path and whether the output existed before.
func TestReproducible(t *testing.T) {
	f := getFixture(t)
	dir := t.TempDir()
	args := append([]string{"build", "--stub", f.stubs["262"]}, everything(f, f.kernel, "console=ttyS0")...)
	a, b := filepath.Join(dir, "a.efi"), filepath.Join(dir, "sub-b.efi")
	writeFile(dir, "sub-b.efi", []byte("old"))
	for _, out := range []string{a, b} {
		if code, _, e := runOurs(append(args, "--output", out)...); code != 0 {
			t.Fatalf("build: %s", e)
		}
	}
	x, _ := os.ReadFile(a)
	y, _ := os.ReadFile(b)
	if len(x) < 8<<20 || !bytes.Equal(x, y) {
		t.Fatalf("two builds differ (%d vs %d bytes)", len(x), len(y))
	}
}
