package uki

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ukibuild/ukibuild/internal/reftools"
	"github.com/ukibuild/ukibuild/uefi"
)

// TestTypedErrors: a malformed stub or UKI is an *uefi.FormatError naming the
// file, and a kernel of no known format or with corrupt compressed data a
// *KernelError wrapping the matching sentinel, whatever context wraps them;
// no output is written.
func TestTypedErrors(t *testing.T) {
	tools := reftools.Locate(t)
	stub := tools.Path(t, "UKIBUILD_STUB_262")
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.efi")
	if err := os.WriteFile(junk, []byte("MZ\x00\x00 but no PE header follows"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.efi")
	u := "6.1.0-test"

	var fe *uefi.FormatError
	err := Build(context.Background(), Config{Stub: junk, Cmdline: Text("cmdline", "quiet"), Uname: &u, TempDir: dir}, out)
	if !errors.As(err, &fe) || fe.File != junk {
		t.Errorf("junk stub: %v, want an *uefi.FormatError with File %s", err, junk)
	}
	fe = nil
	if _, err := OpenImage(junk); !errors.As(err, &fe) || fe.File != junk {
		t.Errorf("OpenImage: %v, want an *uefi.FormatError with File %s", err, junk)
	}

	notKernel := filepath.Join(dir, "vmlinuz")
	if err := os.WriteFile(notKernel, []byte("neither PE nor compressed"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A gzip header followed by garbage: recognised, then corrupt.
	corrupt := filepath.Join(dir, "vmlinuz.gz")
	if err := os.WriteFile(corrupt, append([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3}, make([]byte, 64)...), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		file string
		want error
	}{{notKernel, ErrKernelFormat}, {corrupt, ErrKernelCorrupt}} {
		err := Build(context.Background(), Config{Stub: stub, Linux: c.file, Cmdline: Text("cmdline", "quiet"), Uname: &u, TempDir: dir}, out)
		var ke *KernelError
		if !errors.As(err, &ke) || ke.File != c.file || !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want a *KernelError wrapping %v", c.file, err, c.want)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("an output file was written")
	}
}
