package sign

import (
	"bytes"
	"context"
	"testing"

	"github.com/ukibuild/ukibuild/internal/pe/petest"
)

// benchImage is a synthetic 64 MiB PE image.
func benchImage() []byte {
	const size = 64 << 20
	return petest.Stub(0x400, []petest.Section{petest.Sec(".data", 0x1000, size, 0x400, size, nil)}, 0, nil)
}

// BenchmarkSign signs a 64 MiB image held in memory (digest, then copy).
func BenchmarkSign(b *testing.B) {
	signer, cert := testKey(b, "db")
	img := benchImage()
	b.SetBytes(int64(len(img)))
	for b.Loop() {
		var w memWriterAt
		w.b = make([]byte, 0, len(img)+8192)
		if _, err := Sign(context.Background(), &w, bytes.NewReader(img), int64(len(img)), signer, Options{Certificate: cert}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStream signs the same image while it is written (one pass).
func BenchmarkStream(b *testing.B) {
	signer, cert := testKey(b, "db")
	img := benchImage()
	b.SetBytes(int64(len(img)))
	for b.Loop() {
		s, err := NewStream(img[:0x400], int64(len(img)), Options{Certificate: cert})
		if err != nil {
			b.Fatal(err)
		}
		var w memWriterAt
		w.b = make([]byte, 0, len(img)+8192)
		for off := 0; off < len(img); off += 1 << 20 {
			chunk := img[off:min(off+1<<20, len(img))]
			w.WriteAt(chunk, int64(off))
			s.Write(chunk)
		}
		if _, err := s.Finish(&w, signer); err != nil {
			b.Fatal(err)
		}
	}
}
