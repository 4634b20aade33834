package pcr

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ukibuild/ukibuild/internal/pe/petest"
)

// FuzzStubVersion: StubVersion never panics, and a version it returns is
// one whitespace-free field, whether from .sdmagic or from a LoaderInfo
// string outside the sections.
func FuzzStubVersion(f *testing.F) {
	info := []byte("#### LoaderInfo: systemd-stub 252.39-1~deb12u2 ####")
	f.Add(append(petest.Stub(0x400, []petest.Section{petest.Sec(".text", 0x1000, 0x100, 0x400, 0x200, petest.Fill(0x100, 1))}, 0, nil), info...))
	f.Add(petest.Stub(0x400, []petest.Section{
		petest.Sec(".text", 0x1000, 0x100, 0x400, 0x200, petest.Fill(0x100, 1)),
		petest.Sec(".sdmagic", 0x2000, uint32(len(info)), 0x600, 0x200, info),
	}, 0, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := StubVersion(bytes.NewReader(b), int64(len(b)))
		if err == nil && (v == "" || len(strings.Fields(v)) != 1 || strings.Fields(v)[0] != v) {
			t.Fatalf("version %q", v)
		}
	})
}
