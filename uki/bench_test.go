package uki

import (
	"io"
	"testing"

	"github.com/ukibuild/ukibuild/internal/pe/petest"
)

// BenchmarkCompose lays out and writes a UKI with a 64 MiB initrd.
func BenchmarkCompose(b *testing.B) {
	stub, err := NewStub(petest.Stub(0x400, []petest.Section{petest.Sec(".text", 0x1000, 0x100, 0x400, 0x200, nil)}, 0, nil))
	if err != nil {
		b.Fatal(err)
	}
	initrd := Bytes("initrd", make([]byte, 64<<20))
	b.SetBytes(initrd.Size())
	for b.Loop() {
		img, err := Compose(stub, []Section{{".cmdline", Text("cmdline", "quiet")}, {".initrd", initrd}})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := img.WriteTo(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
