package sign

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"testing"

	"github.com/ukibuild/ukibuild/uefi"
)

// reasonOf returns the Reason of the outermost *VerifyError in err's tree,
// failing the test when there is none.
func reasonOf(t *testing.T, err error) Reason {
	t.Helper()
	var ve *VerifyError
	if !errors.As(err, &ve) {
		t.Fatalf("%v (%T) is not a *VerifyError", err, err)
	}
	return ve.Reason
}

// TestVerifyReasons checks that each rejection Verify makes carries the
// Reason a caller branches on, and that the per-signature reasons are
// reachable from the returned error as well as from the report.
func TestVerifyReasons(t *testing.T) {
	key, cert := testKey(t, "db")
	leafKey, leaf := testKey(t, "leaf")
	img := smallPE()
	signed := signBytes(t, img, key, Options{Certificate: cert})
	chained := signBytes(t, img, leafKey, Options{Certificate: leaf, Chain: []*x509.Certificate{testCert(t, "ca")}})

	if _, err := verifyBytes(img, VerifyOptions{}); reasonOf(t, err) != ReasonNotSigned || !errors.Is(err, ErrNotSigned) {
		t.Errorf("unsigned: %v", err)
	}

	rep, err := verifyBytes(signed, dbOf(t, "other"))
	if reasonOf(t, err) != ReasonNoValidSignature {
		t.Errorf("wrong db: %v", err)
	}
	if got := reasonOf(t, rep.Signatures[0].Err); got != ReasonUntrusted {
		t.Errorf("wrong db: signature reason %v, want %v", got, ReasonUntrusted)
	}

	im, err := openImage(bytes.NewReader(signed), int64(len(signed)))
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(signed)
	s := im.f.Sections[0]
	flipped[int64(s.PointerToRawData)+int64(s.SizeOfRawData)/2] ^= 0x01
	rep, err = verifyBytes(flipped, VerifyOptions{})
	if reasonOf(t, err) != ReasonNoValidSignature || reasonOf(t, rep.Signatures[0].Err) != ReasonImageDigest {
		t.Errorf("flipped byte: %v", err)
	}
	// The per-signature errors are wrapped by the returned one.
	var reasons []Reason
	var walk func(error)
	walk = func(e error) {
		if ve, ok := e.(*VerifyError); ok {
			reasons = append(reasons, ve.Reason)
		}
		switch u := e.(type) {
		case interface{ Unwrap() error }:
			if n := u.Unwrap(); n != nil {
				walk(n)
			}
		case interface{ Unwrap() []error }:
			for _, n := range u.Unwrap() {
				walk(n)
			}
		}
	}
	walk(err)
	if len(reasons) != 2 || reasons[1] != ReasonImageDigest {
		t.Errorf("flipped byte: reasons in the error tree %v, want [%v %v]", reasons, ReasonNoValidSignature, ReasonImageDigest)
	}

	opts := dbOf(t, "ca")
	opts.DBX.Certificates = []*x509.Certificate{leaf}
	if _, err := verifyBytes(chained, opts); reasonOf(t, err) != ReasonCertificateInDBX || !errors.Is(err, ErrCertificateInDBX) {
		t.Errorf("dbx certificate: %v", err)
	}

	d, err := ImageDigest(bytes.NewReader(signed), int64(len(signed)), crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verifyBytes(signed, VerifyOptions{DBX: DBX{ImageDigests: [][]byte{d}}}); reasonOf(t, err) != ReasonImageDigestInDBX {
		t.Errorf("dbx image digest: %v", err)
	}

	// A dbx digest of no known length, and an image that cannot be read
	// to digest it, are *VerifyErrors too (ReasonOther).
	if _, err := verifyBytes(signed, VerifyOptions{DBX: DBX{ImageDigests: [][]byte{make([]byte, 20)}}}); reasonOf(t, err) != ReasonOther {
		t.Errorf("dbx digest of 20 bytes: %v", err)
	}
	failing := failAfter{bytes.NewReader(signed), int64(im.dir.VirtualAddress) - 1}
	if _, err := Verify(context.Background(), failing, int64(len(signed)), VerifyOptions{DBX: DBX{ImageDigests: [][]byte{d}}}); reasonOf(t, err) != ReasonOther || !errors.Is(err, errFailAfter) {
		t.Errorf("dbx digest, read error: %v", err)
	}

	// A directory Size 16 bytes short of the table's one entry: the walk
	// does not add up (as refcompat_test's "truncated table").
	short := bytes.Clone(signed)
	sd, _ := im.f.SecurityDirOffset()
	size := int64(im.dir.Size) - 16
	putU32(short[sd+4:], uint32(size))
	short = short[:int64(im.dir.VirtualAddress)+size]
	if _, err := verifyBytes(short, VerifyOptions{}); reasonOf(t, err) != ReasonCertificateTable {
		t.Errorf("truncated table: %v", err)
	}

	// Data after the certificate table makes the image malformed: an
	// *uefi.FormatError (no Reason).
	appended := append(bytes.Clone(signed), "appended"...)
	var fe *uefi.FormatError
	if _, err := verifyBytes(appended, VerifyOptions{}); !errors.As(err, &fe) {
		t.Errorf("data after the certificate table: %v", err)
	}

	// Not a PE image at all: an *uefi.FormatError, with the file named by
	// VerifyFile.
	path := writeTemp(t, "junk.efi", []byte("MZ not a PE image"))
	_, err = VerifyFile(context.Background(), path, VerifyOptions{})
	fe = nil
	if !errors.As(err, &fe) || fe.File != path {
		t.Errorf("junk: %v (%#v)", err, fe)
	}
}

var errFailAfter = errors.New("read error")

// failAfter fails every read that reaches offset n.
type failAfter struct {
	r *bytes.Reader
	n int64
}

func (f failAfter) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > f.n {
		return 0, errFailAfter
	}
	return f.r.ReadAt(p, off)
}

func TestVerifyErrorNilErr(t *testing.T) {
	e := &VerifyError{Reason: ReasonNotSigned}
	if got := e.Error(); got == "" || !bytes.Contains([]byte(got), []byte(ReasonNotSigned.String())) {
		t.Errorf("Error() = %q", got)
	}
}
