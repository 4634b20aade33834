package fanout

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"io"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"
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

// countWriter counts what it is given, slowly enough that Sync has to wait.
type countWriter struct{ n atomic.Int64 }

func (c *countWriter) Write(p []byte) (int, error) {
	time.Sleep(50 * time.Microsecond)
	c.n.Add(int64(len(p)))
	return len(p), nil
}

// TestWriterSync: after Sync every writer has seen every byte written so
// far, partial buffers included; after Close the whole stream, in order.
func TestWriterSync(t *testing.T) {
	var a, b countWriter
	var h1, h2 = sha256.New(), sha256.New()
	w := NewWriter(4096, 3, &a, &b, h1)
	r := rand.New(rand.NewPCG(1, 2))
	var total int64
	for i := range 300 {
		p := make([]byte, r.IntN(10000))
		for k := range p {
			p[k] = byte(r.Uint32())
		}
		h2.Write(p)
		if i%2 == 0 {
			if _, err := w.Write(p); err != nil {
				t.Fatal(err)
			}
		} else if _, err := w.ReadFrom(bytes.NewReader(p)); err != nil {
			t.Fatal(err)
		}
		total += int64(len(p))
		if w.Written() != total {
			t.Fatalf("Written() = %d, want %d", w.Written(), total)
		}
		if i%7 == 0 {
			if err := w.Sync(); err != nil {
				t.Fatal(err)
			}
			if a.n.Load() != total || b.n.Load() != total {
				t.Fatalf("after Sync the writers saw %d and %d bytes, want %d", a.n.Load(), b.n.Load(), total)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if a.n.Load() != total || !bytes.Equal(h1.Sum(nil), h2.Sum(nil)) {
		t.Fatalf("after Close: %d of %d bytes, digest equal: %v", a.n.Load(), total, bytes.Equal(h1.Sum(nil), h2.Sum(nil)))
	}
	if err := w.Close(); err == nil {
		t.Errorf("a second Close did not fail")
	}
}

// TestWriterStopsOnWriterError: once a writer failed, Write and Sync return
// its error, and Close too.
func TestWriterStopsOnWriterError(t *testing.T) {
	fail := errors.New("disk full")
	w := NewWriter(1024, 2, io.Discard, failAfter{fail})
	w.Write(make([]byte, 5000))
	if err := w.Sync(); !errors.Is(err, fail) {
		t.Fatalf("Sync after a writer failed: %v", err)
	}
	if _, err := w.Write([]byte{1}); !errors.Is(err, fail) {
		t.Errorf("Write after a writer failed: %v", err)
	}
	if err := w.Close(); !errors.Is(err, fail) {
		t.Errorf("Close after a writer failed: %v", err)
	}
}

type failAfter struct{ err error }

func (f failAfter) Write(p []byte) (int, error) { return 0, f.err }
