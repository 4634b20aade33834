package sign

import (
	"bytes"
	"crypto"
	"errors"
	"testing"
	"time"
)

// streamSign signs img through a Stream, writing it in pieces of step bytes.
func streamSign(t *testing.T, img []byte, signer crypto.Signer, opts Options, step int) []byte {
	t.Helper()
	hdr := min(len(img), 64<<10)
	s, err := NewStream(img[:hdr], int64(len(img)), opts)
	if err != nil {
		t.Fatal(err)
	}
	var w memWriterAt
	for off := 0; off < len(img); off += step {
		end := min(off+step, len(img))
		w.WriteAt(img[off:end], int64(off))
		if _, err := s.Write(img[off:end]); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.Finish(&w, signer)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(len(w.b)) {
		t.Fatalf("Finish returned size %d, the image has %d bytes", n, len(w.b))
	}
	return w.b
}

// TestStreamEqualsSign: signing while writing gives the same bytes as
// signing the finished image (whose output sbverify and osslsigncode accept
// in refcompat_test.go), for the stub, a UKI of odd size (8-byte padding)
// and every profile and hash, whatever the write sizes.
func TestStreamEqualsSign(t *testing.T) {
	signer, cert := testKey(t, "db")
	when := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	images := map[string][]byte{"stub": readFile(t, stub262(t)), "uki": readFile(t, testUKI(t))}
	images["stub+5"] = append(append([]byte{}, images["stub"]...), 1, 2, 3, 4, 5)
	for name, img := range images {
		for _, opts := range []Options{
			{Certificate: cert},
			{Certificate: cert, Hash: crypto.SHA384, SigningTime: when},
			{Certificate: cert, Profile: ProfileSbsign, SigningTime: when},
			{Certificate: cert, Profile: ProfileOsslsigncode, SigningTime: when, Hash: crypto.SHA512},
		} {
			want := signBytes(t, img, signer, opts)
			for _, step := range []int{1 << 20, 4093, 7} {
				if step == 7 && len(img) > 1<<20 {
					continue // byte-sized writes of a whole kernel take too long; the stub covers them
				}
				got := streamSign(t, img, signer, opts, step)
				if !bytes.Equal(got, want) {
					t.Fatalf("%s, %v %v, writes of %d: the streamed signature differs: %s", name, opts.Profile, opts.hash(), step, firstDiff(want, got))
				}
			}
		}
	}
}

func TestStreamRefusesSignedImages(t *testing.T) {
	signer, cert := testKey(t, "db")
	signed := signBytes(t, readFile(t, stub262(t)), signer, Options{Certificate: cert})
	if _, err := NewStream(signed[:64<<10], int64(len(signed)), Options{Certificate: cert}); !errors.Is(err, ErrNotStreamable) {
		t.Errorf("a signed image: got %v, want ErrNotStreamable", err)
	}
	stub := readFile(t, stub262(t))
	s, err := NewStream(stub[:64<<10], int64(len(stub)), Options{Certificate: cert})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(append(stub, 0)); err == nil {
		t.Errorf("writing past the announced size was accepted")
	}
	if _, err := s.Finish(&memWriterAt{}, signer); err == nil {
		t.Errorf("Finish before the whole image was written was accepted")
	}
}
