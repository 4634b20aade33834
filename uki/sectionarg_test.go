package uki

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestSectionArg: NAME:TEXT is a section holding TEXT (empty text: an
// empty section), NAME:@PATH the file's bytes; no colon, two, or no name
// wrap ErrSectionArg; a missing file is another error.
func TestSectionArg(t *testing.T) {
	file := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(file, []byte("from  a file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for arg, want := range map[string][2]string{
		".a:hello  world": {".a", "hello  world"},
		".b:":             {".b", ""},
		".c:@" + file:     {".c", "from  a file\n"},
	} {
		s, err := SectionArg("--section", arg)
		if err != nil {
			t.Fatalf("%q: %v", arg, err)
		}
		r, err := s.Content.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil || s.Name != want[0] || string(b) != want[1] || s.Content.Size() != int64(len(want[1])) {
			t.Errorf("%q: %q %q (%v)", arg, s.Name, b, err)
		}
	}
	for _, arg := range []string{".a", ":x", ".d:a:b", ".e:@/x:y"} {
		if _, err := SectionArg("--section", arg); !errors.Is(err, ErrSectionArg) {
			t.Errorf("%q: %v", arg, err)
		}
	}
	if _, err := SectionArg("--section", ".f:@"+file+".missing"); err == nil || errors.Is(err, ErrSectionArg) {
		t.Errorf("missing file: %v", err)
	}
}
