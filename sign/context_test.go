package sign

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// cancelAfter is a ReaderAt that cancels its context once a read reaches
// beyond offset at.
type cancelAfter struct {
	r      io.ReaderAt
	at     int64
	cancel context.CancelFunc
	reads  int
}

func (c *cancelAfter) ReadAt(p []byte, off int64) (int, error) {
	c.reads++
	if off+int64(len(p)) > c.at {
		c.cancel()
	}
	return c.r.ReadAt(p, off)
}

// TestSignHonoursContext: a context cancelled while the image is being read
// stops Sign before the next chunk, with ctx's error, for the streamed path
// and for images signed by a Request (already signed: appended).
func TestSignHonoursContext(t *testing.T) {
	key, cert := testKey(t, "db")
	img := benchImage()
	signed := signBytes(t, img, key, Options{Certificate: cert})
	for name, src := range map[string][]byte{"streamed": img, "request": signed} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			r := &cancelAfter{r: bytes.NewReader(src), at: 0x400, cancel: cancel}
			_, err := Sign(ctx, &memWriterAt{}, r, int64(len(src)), key, Options{Certificate: cert})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err %v, want context.Canceled", err)
			}
		})
	}
	t.Run("cancelled before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		r := &cancelAfter{r: bytes.NewReader(img), at: 1 << 62, cancel: func() {}}
		if _, err := Sign(ctx, &memWriterAt{}, r, int64(len(img)), key, Options{Certificate: cert}); !errors.Is(err, context.Canceled) || r.reads != 0 {
			t.Fatalf("err %v after %d reads, want context.Canceled before any", err, r.reads)
		}
	})
}

// TestVerifyHonoursContext: a context cancelled while a signed image is
// being hashed stops Verify with ctx's error, without reading the rest;
// with a live context the same image verifies.
func TestVerifyHonoursContext(t *testing.T) {
	key, cert := testKey(t, "db")
	signed := signBytes(t, benchImage(), key, Options{Certificate: cert})
	opts := VerifyOptions{DB: []*x509.Certificate{cert}}
	if _, err := Verify(context.Background(), bytes.NewReader(signed), int64(len(signed)), opts); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := &cancelAfter{r: bytes.NewReader(signed), at: 0x400, cancel: cancel}
	if _, err := Verify(ctx, r, int64(len(signed)), opts); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	whole := &cancelAfter{r: bytes.NewReader(signed), at: 1 << 62, cancel: func() {}}
	if _, err := Verify(context.Background(), whole, int64(len(signed)), opts); err != nil || whole.reads <= r.reads {
		t.Errorf("a whole verification took %d reads, the cancelled one %d (%v)", whole.reads, r.reads, err)
	}
}

// TestNewRequestHonoursContext: NewRequest hashes the image through its
// context: cancelled before, it reads nothing; cancelled while hashing, it
// stops with ctx's error after fewer reads than a whole request takes.
func TestNewRequestHonoursContext(t *testing.T) {
	_, cert := testKey(t, "db")
	img := benchImage()
	opts := Options{Certificate: cert}
	whole := &cancelAfter{r: bytes.NewReader(img), at: 1 << 62, cancel: func() {}}
	if _, err := NewRequest(context.Background(), whole, int64(len(img)), opts); err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	r := &cancelAfter{r: bytes.NewReader(img), at: 1 << 62, cancel: func() {}}
	if _, err := NewRequest(cancelled, r, int64(len(img)), opts); !errors.Is(err, context.Canceled) || r.reads != 0 {
		t.Errorf("cancelled before: err %v after %d reads, want context.Canceled before any", err, r.reads)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r = &cancelAfter{r: bytes.NewReader(img), at: 0x400, cancel: cancel}
	if _, err := NewRequest(ctx, r, int64(len(img)), opts); !errors.Is(err, context.Canceled) || r.reads >= whole.reads {
		t.Errorf("cancelled while hashing: err %v after %d reads (a whole request: %d), want context.Canceled", err, r.reads, whole.reads)
	}
}

// TestOfflineFilesHonourContext: ExportFile and AttachFile on a real UKI
// with a cancelled context fail with its error and write nothing.
func TestOfflineFilesHonourContext(t *testing.T) {
	_, cert := testKey(t, "db")
	in := testUKI(t)
	dir := t.TempDir()
	opts := Options{Certificate: cert, Profile: ProfileSystemdSbsign, SigningTime: time.Unix(1700000000, 0)}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	attrs, out := filepath.Join(dir, "attrs"), filepath.Join(dir, "out.efi")
	if err := ExportFile(ctx, in, attrs, opts); !errors.Is(err, context.Canceled) {
		t.Errorf("ExportFile: %v, want context.Canceled", err)
	}
	// The signature file is never reached: the image is read first.
	if err := AttachFile(ctx, in, out, filepath.Join(dir, "sig"), "", opts); !errors.Is(err, context.Canceled) {
		t.Errorf("AttachFile: %v, want context.Canceled", err)
	}
	for _, p := range []string{attrs, out} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s written by a cancelled call (%v)", p, err)
		}
	}
}
