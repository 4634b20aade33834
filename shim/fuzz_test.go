package shim_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/ukibuild/ukibuild/internal/reftools"
	"github.com/ukibuild/ukibuild/shim"
)

// FuzzRead: Read of any bytes returns a *Binary with a version or an
// error, not both, and never panics. Seeded with Debian's shim 16.1 cut at its headers
// and at a few points within its sections.
func FuzzRead(f *testing.F) {
	tools := reftools.Locate(f)
	data, err := os.ReadFile(tools.Path(f, "UKIBUILD_SHIM_161"))
	if err != nil {
		f.Fatal(err)
	}
	for _, n := range []int{1024, 4096, 16384} {
		f.Add(bytes.Clone(data[:n]))
	}
	f.Fuzz(func(t *testing.T, d []byte) {
		b, err := shim.Read(bytes.NewReader(d), int64(len(d)))
		if err == nil {
			if b == nil || b.Version == "" {
				t.Fatalf("Read: no error and %+v", b)
			}
			return
		}
		if b != nil {
			t.Fatalf("Read: %v and a Binary", err)
		}
		if err.Error() == "" {
			t.Fatalf("Read: an error without a message")
		}
	})
}
