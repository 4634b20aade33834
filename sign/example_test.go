package sign_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/ukibuild/ukibuild/keys"
	"github.com/ukibuild/ukibuild/sign"
)

// loadKeyPair reads a private key and its certificate (PEM or DER).
func loadKeyPair(keyFile, certFile string) (crypto.Signer, *x509.Certificate) {
	key, err := keys.PrivateKey(keyFile, nil)
	if err != nil {
		log.Fatal(err)
	}
	cert, err := keys.Certificate(certFile)
	if err != nil {
		log.Fatal(err)
	}
	return key, cert
}

// exampleImage writes a small unsigned PE image (tinyEFI) and returns its
// path.
func exampleImage(dir string) string {
	p := filepath.Join(dir, "linux.efi")
	if err := os.WriteFile(p, tinyEFI(bytes.Repeat([]byte{0xc3}, 0x200)), 0o644); err != nil {
		log.Fatal(err)
	}
	return p
}

func ExampleSignFile() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	image := exampleImage(dir)

	key, cert := loadKeyPair("testdata/db.key", "testdata/db.crt")
	// The signing time, if any, comes from SOURCE_DATE_EPOCH.
	when, err := sign.SourceDateEpoch(os.Getenv("SOURCE_DATE_EPOCH"))
	if err != nil {
		log.Fatal(err)
	}
	err = sign.SignFile(context.Background(), image, image+".signed", key, sign.Options{Certificate: cert, SigningTime: when})
	if err != nil {
		log.Fatal(err)
	}

	rep, err := sign.VerifyFile(context.Background(), image+".signed", sign.VerifyOptions{DB: []*x509.Certificate{cert}})
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range rep.Signatures {
		fmt.Println(s.Index, s.Subject(), s.Hash, s.OK())
	}
	// Output: 0 CN=ukibuild test db SHA-256 true
}

// ExampleRequest signs an image with a signer that only signs hashes (an
// HSM, a remote service, "openssl dgst -sha256 -sign"): the bytes to sign
// are exported, the signature is attached.
func ExampleRequest() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	image := exampleImage(dir)
	key, cert := loadKeyPair("testdata/db.key", "testdata/db.crt")

	f, err := os.Open(image)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	req, err := sign.NewRequest(context.Background(), f, st.Size(), sign.Options{Certificate: cert})
	if err != nil {
		log.Fatal(err)
	}

	// Elsewhere: sign SHA-256(tbs) with RSA PKCS#1 v1.5.
	tbs := req.SignedAttributes()
	h := req.Hash().New()
	h.Write(tbs)
	signature, err := key.Sign(rand.Reader, h.Sum(nil), req.Hash())
	if err != nil {
		log.Fatal(err)
	}

	p7, err := req.Attach(signature)
	if err != nil {
		log.Fatal(err)
	}
	if err := req.WriteFile(image+".signed", 0o644, p7); err != nil {
		log.Fatal(err)
	}
	_, err = sign.VerifyFile(context.Background(), image+".signed", sign.VerifyOptions{DB: []*x509.Certificate{cert}})
	fmt.Println("verified:", err == nil)
	// Output: verified: true
}

// The Authenticode digest is what db or dbx hold to allow or forbid an
// image by hash. For an unsigned image whose section data follows its headers
// to the end of the file, it is SHA-256 over the file without the
// optional header's CheckSum (4 bytes at offset 64) and Certificate Table
// directory entry (8 bytes at offset 144 of a PE32+ optional header): the
// example computes that by hand and compares.
func ExampleImageDigest() {
	img := tinyEFI([]byte("a tiny EFI application"))
	d, err := sign.ImageDigest(bytes.NewReader(img), int64(len(img)), crypto.SHA256)
	if err != nil {
		log.Fatal(err)
	}
	opt := int(binary.LittleEndian.Uint32(img[0x3c:])) + 4 + 20 // after "PE\0\0" and the COFF header
	h := sha256.New()
	h.Write(img[:opt+64])
	h.Write(img[opt+68 : opt+144])
	h.Write(img[opt+152:])
	fmt.Println(len(d), bytes.Equal(d, h.Sum(nil)))
	// Output: 32 true
}

func ExampleSourceDateEpoch() {
	t, err := sign.SourceDateEpoch("1700000000")
	fmt.Println(t, err)
	// Output: 2023-11-14 22:13:20 +0000 UTC <nil>
}

// ExampleRequest_AdoptSignedAttributes signs offline in two sessions, with
// the systemd-sbsign profile: the first exports the attributes (the file
// "systemd-sbsign sign --prepare-offline-signing" writes), a hash-only signer
// signs them, the second session takes them, and with them the first
// session's signing time, and attaches the signature (what systemd-sbsign's
// --signed-data and --signed-data-signature do).
func ExampleRequest_AdoptSignedAttributes() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	image := exampleImage(dir)
	key, cert := loadKeyPair("testdata/db.key", "testdata/db.crt")
	img, err := os.ReadFile(image)
	if err != nil {
		log.Fatal(err)
	}
	request := func(when time.Time) *sign.Request {
		req, err := sign.NewRequest(context.Background(), bytes.NewReader(img), int64(len(img)),
			sign.Options{Certificate: cert, Profile: sign.ProfileSystemdSbsign, SigningTime: when})
		if err != nil {
			log.Fatal(err)
		}
		return req
	}

	// Session 1, at SOURCE_DATE_EPOCH=1700000000.
	first, _ := sign.SourceDateEpoch("1700000000")
	tbs := request(first).SignedAttributes()

	// Elsewhere: sign SHA-256(tbs) with RSA PKCS#1 v1.5.
	digest := sha256.Sum256(tbs)
	signature, err := key.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		log.Fatal(err)
	}

	// Session 2, at another time.
	req := request(time.Now())
	if err := req.AdoptSignedAttributes(tbs); err != nil {
		log.Fatal(err)
	}
	p7, err := req.Attach(signature)
	if err != nil {
		log.Fatal(err)
	}
	if err := req.WriteFile(image+".signed", 0o644, p7); err != nil {
		log.Fatal(err)
	}
	rep, err := sign.VerifyFile(context.Background(), image+".signed", sign.VerifyOptions{DB: []*x509.Certificate{cert}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(rep.Signatures[0].OK(), rep.Signatures[0].SigningTime.Equal(first))
	// Output: true true
}
