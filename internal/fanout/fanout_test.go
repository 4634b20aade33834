package fanout

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"
)

func TestCopyFeedsEveryWriterInOrder(t *testing.T) {
	data := make([]byte, 3*DefaultBufSize+12345)
	rand.NewChaCha8([32]byte{1}).Read(data)
	for _, src := range []struct {
		r    io.Reader
		want []byte
	}{
		{bytes.NewReader(data), data},
		{iotest.OneByteReader(bytes.NewReader(data[:5000])), data[:5000]},
		{iotest.HalfReader(bytes.NewReader(data)), data},
	} {
		r := src.r
		var a, b bytes.Buffer
		h1, h2 := sha256.New(), sha512.New()
		n, err := CopyBuffer(r, 4096, 3, &a, h1, &b, h2)
		if err != nil {
			t.Fatal(err)
		}
		got := a.Bytes()
		if int(n) != len(got) || !bytes.Equal(got, src.want) || !bytes.Equal(got, b.Bytes()) {
			t.Fatalf("writers saw different data (%d, %d, %d bytes)", n, a.Len(), b.Len())
		}
		s1, s2 := sha256.Sum256(got), sha512.Sum512(got)
		if !bytes.Equal(h1.Sum(nil), s1[:]) || !bytes.Equal(h2.Sum(nil), s2[:]) {
			t.Fatal("digests do not match the data")
		}
	}
}

type failWriter struct{ after int }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.after -= len(p); w.after < 0 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

func TestCopyErrors(t *testing.T) {
	data := bytes.Repeat([]byte("x"), 100000)
	var sink bytes.Buffer
	if _, err := CopyBuffer(bytes.NewReader(data), 1000, 2, &sink, &failWriter{after: 5000}); err == nil || err.Error() != "disk full" {
		t.Errorf("writer error: got %v", err)
	}
	if _, err := CopyBuffer(iotest.TimeoutReader(bytes.NewReader(data)), 1000, 2, &sink, io.Discard); !errors.Is(err, iotest.ErrTimeout) {
		t.Errorf("reader error: got %v", err)
	}
	if n, err := CopyBuffer(bytes.NewReader(nil), 1000, 2, io.Discard, io.Discard); n != 0 || err != nil {
		t.Errorf("empty input: %d %v", n, err)
	}
}

func BenchmarkCopy(b *testing.B) {
	data := make([]byte, 64<<20)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Copy(bytes.NewReader(data), sha256.New(), sha512.New(), io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
