package cpio

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestParseOwner: numbers UID:GID within 32 bits parse; names, a missing
// half, signs and values over 32 bits are refused.
func TestParseOwner(t *testing.T) {
	for s, want := range map[string]*Owner{"0:0": {}, "1:2": {1, 2}, "4294967295:7": {4294967295, 7}} {
		if got, err := ParseOwner(s); err != nil || *got != *want {
			t.Errorf("ParseOwner(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"root:root", "1", "1:", ":1", "-1:0", "+1:0", "4294967296:0", "1:2:3", ""} {
		if got, err := ParseOwner(s); err == nil {
			t.Errorf("ParseOwner(%q) = %v", s, got)
		}
	}
}

// TestCheckOutputOutside: an output in the tree, below it or reached
// through a symbolic link into it is refused; one next to the tree, or
// in a directory that does not exist, is not.
func TestCheckOutputOutside(t *testing.T) {
	top := t.TempDir()
	tree := filepath.Join(top, "tree")
	for _, d := range []string{filepath.Join(tree, "a"), filepath.Join(top, "treex")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(tree, "a"), filepath.Join(top, "link")); err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{filepath.Join(tree, "x.cpio"), filepath.Join(tree, "a", "x.cpio"), filepath.Join(top, "link", "x.cpio")} {
		if err := CheckOutputOutside(tree, out); !errors.Is(err, ErrOutputInTree) {
			t.Errorf("%s: %v", out, err)
		}
	}
	for _, out := range []string{filepath.Join(top, "x.cpio"), filepath.Join(top, "treex", "x.cpio"), filepath.Join(top, "missing", "x.cpio")} {
		if err := CheckOutputOutside(tree, out); err != nil {
			t.Errorf("%s: %v", out, err)
		}
	}
}
