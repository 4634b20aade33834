package creds

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestReadHostKeyFile: a missing file and a file too small to be a host
// key are errors naming the file (the latter an *InputError); reading
// systemd's own file is TestReadSystemdCredentials's part.
func TestReadHostKeyFile(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadHostKeyFile(filepath.Join(dir, "none")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	small := filepath.Join(dir, "small")
	if err := os.WriteFile(small, make([]byte, 16), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := ReadHostKeyFile(small)
	var ie *InputError
	if !errors.As(err, &ie) || !strings.HasPrefix(err.Error(), small+": ") {
		t.Errorf("16-byte file: %v; want an *InputError naming %s", err, small)
	}
}

func TestMaskPCRs(t *testing.T) {
	for _, c := range []struct {
		mask uint64
		want []uint32
	}{{0, []uint32{}}, {1 << 11, []uint32{11}}, {1<<7 | 1<<11 | 1<<63 | 1, []uint32{0, 7, 11, 63}}} {
		got := MaskPCRs(c.mask)
		if got == nil || !slices.Equal(got, c.want) {
			t.Errorf("MaskPCRs(%#x) = %#v; want %v", c.mask, got, c.want)
		}
	}
}
