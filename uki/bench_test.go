package uki

import (
	"context"
	"crypto/rand"
	"io"
	"path/filepath"
	"testing"

	"github.com/ukibuild/ukibuild/internal/pe/petest"
	"github.com/ukibuild/ukibuild/internal/reftools"
	"github.com/ukibuild/ukibuild/sign"
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

// BenchmarkWriteFile builds a signed UKI with PCR policies for four banks
// (the real 262 stub and kernel, a 64 MiB initrd) to a file: "streamed" is
// Plan.WriteFile (each input byte read once, all digests from the write
// pass), "policies-first" computes .pcrsig by reading the sections before
// writing (Plan.Compose), as before issue 8.
func BenchmarkWriteFile(b *testing.B) {
	tools := reftools.Locate(b)
	key, cert := testSigner(b, "bench")
	initrd := make([]byte, 64<<20)
	rand.Read(initrd)
	uname := "6.1.0-bench"
	cfg := Config{
		Stub: tools.Path(b, "UKIBUILD_STUB_262"), Linux: tools.Path(b, "UKIBUILD_KERNEL"), Uname: &uname,
		Cmdline: Text("cmdline", "quiet"), Initrds: []Content{Bytes("initrd", initrd)},
		PCRKeys:    []PCRKey{{Signer: key}},
		SecureBoot: &SecureBoot{Signer: key, Options: sign.Options{Certificate: cert}, SignKernel: new(bool)},
	}
	out := filepath.Join(b.TempDir(), "uki.efi")
	for _, mode := range []string{"streamed", "policies-first"} {
		b.Run(mode, func(b *testing.B) {
			b.SetBytes(int64(len(initrd)))
			for b.Loop() {
				plan, err := Prepare(context.Background(), cfg)
				if err != nil {
					b.Fatal(err)
				}
				if mode == "policies-first" {
					if err := plan.resolvePCRSigs(context.Background()); err != nil {
						b.Fatal(err)
					}
				}
				if err := plan.WriteFile(context.Background(), out); err != nil {
					b.Fatal(err)
				}
				plan.Close()
			}
		})
	}
}
