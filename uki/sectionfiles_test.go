package uki_test

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/ukibuild/ukibuild/uki"
)

// TestSectionFiles: the given options become their sections in
// pcr.Options' order (not the map's), each with its file's bytes; "" is
// not given; a missing file or a directory is a *SectionFileError naming
// the option.
func TestSectionFiles(t *testing.T) {
	dir := t.TempDir()
	paths := map[string]string{"uname": "", "osrel": filepath.Join(dir, "osrel"), "linux": filepath.Join(dir, "linux"), "efifw": filepath.Join(dir, "fw")}
	for _, opt := range []string{"osrel", "linux", "efifw"} {
		if err := os.WriteFile(paths[opt], []byte("data of "+opt), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	secs, err := uki.SectionFiles(paths)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"linux", "osrel", "efifw"}
	if len(secs) != len(want) {
		t.Fatalf("%d sections; want %v", len(secs), want)
	}
	for i, s := range secs {
		r, err := s.Content.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r)
		r.Close()
		if s.Name != "."+want[i] || err != nil || string(b) != "data of "+want[i] {
			t.Errorf("section %d: %s %q %v; want .%s", i, s.Name, b, err, want[i])
		}
	}
	for _, bad := range []string{filepath.Join(dir, "missing"), dir} {
		_, err := uki.SectionFiles(map[string]string{"linux": paths["linux"], "initrd": bad})
		var fe *uki.SectionFileError
		if !errors.As(err, &fe) || fe.Option != "initrd" {
			t.Errorf("initrd %s: %v; want a *SectionFileError for initrd", bad, err)
		}
		if bad != dir && !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("missing initrd: %v; want fs.ErrNotExist", err)
		}
	}
}
