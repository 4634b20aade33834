package sign

import (
	"bytes"
	"crypto"
	_ "crypto/sha1"
	"testing"
)

// TestMeasuredImageDigests: the one-read digests equal MeasuredImageDigest
// per hash, and Verify uses VerifyOptions.ImageDigests instead of reading
// the image (a signed image with a wrong given digest fails as a changed
// image does; its own digest verifies).
func TestMeasuredImageDigests(t *testing.T) {
	key, cert := testKey(t, "db")
	signed := signBytes(t, smallPE(), key, Options{Certificate: cert})
	r := bytes.NewReader(signed)
	hs := []crypto.Hash{crypto.SHA256, crypto.SHA1, crypto.SHA384}
	ds, err := MeasuredImageDigests(r, int64(len(signed)), hs...)
	if err != nil || len(ds) != len(hs) {
		t.Fatalf("MeasuredImageDigests: %d digests, %v", len(ds), err)
	}
	for i, h := range hs {
		want, err := MeasuredImageDigest(r, int64(len(signed)), h)
		if err != nil || !bytes.Equal(ds[i], want) {
			t.Errorf("%v: %x, MeasuredImageDigest %x (%v)", h, ds[i], want, err)
		}
	}
	if _, err := verifyBytes(signed, VerifyOptions{ImageDigests: map[crypto.Hash][]byte{crypto.SHA256: ds[0]}}); err != nil {
		t.Errorf("with its own digest: %v", err)
	}
	wrong := bytes.Clone(ds[0])
	wrong[0] ^= 1
	rep, err := verifyBytes(signed, VerifyOptions{ImageDigests: map[crypto.Hash][]byte{crypto.SHA256: wrong}})
	if reasonOf(t, err) != ReasonNoValidSignature || reasonOf(t, rep.Signatures[0].Err) != ReasonImageDigest {
		t.Errorf("with a wrong digest: %v", err)
	}
}
