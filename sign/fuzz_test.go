package sign

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/binary"
	"testing"
	"time"

	"github.com/ukibuild/ukibuild/internal/pe"
)

// FuzzVerify feeds arbitrary certificate tables (and directory entries) to
// the verifier and arbitrary bytes to the PKCS#7 parser: they must report
// errors, never panic.
func FuzzVerify(f *testing.F) {
	key, cert := testKey(f, "db")
	k2, c2 := testKey(f, "leaf")
	img := smallPE()
	once := signBytes(f, img, key, Options{Certificate: cert})
	twice := signBytes(f, once, k2, Options{Certificate: c2, Chain: []*x509.Certificate{testCert(f, "ca")}, Hash: crypto.SHA512})
	im, err := openImage(bytes.NewReader(twice), int64(len(twice)))
	if err != nil {
		f.Fatal(err)
	}
	content := twice[:im.contentEnd]
	table := twice[im.contentEnd:]
	va := uint32(im.contentEnd)
	f.Add(table, va, uint32(len(table)))
	f.Add(once[im.contentEnd:], va, uint32(len(once)-int(im.contentEnd)))
	f.Add(table[8:], va, uint32(len(table)-8))
	f.Add(table[:100], va, uint32(100))
	f.Add([]byte{}, uint32(0), uint32(0))
	sd, _ := im.f.SecurityDirOffset()
	opts := VerifyOptions{DB: []*x509.Certificate{cert}, DBX: DBX{ImageDigests: [][]byte{make([]byte, 32)}, Certificates: []*x509.Certificate{c2}}}

	f.Fuzz(func(t *testing.T, table []byte, va, size uint32) {
		b := append(bytes.Clone(content), table...)
		binary.LittleEndian.PutUint32(b[sd:], va)
		binary.LittleEndian.PutUint32(b[sd+4:], size)
		rep, err := Verify(context.Background(), bytes.NewReader(b), int64(len(b)), opts)
		if err == nil && (rep == nil || len(rep.Signatures) == 0) {
			t.Fatal("verified without signatures")
		}
		if sig, err := parseSignature(table); err == nil && sig.idcContent == nil {
			t.Fatal("parsed without content")
		}
	})
}

// FuzzParseSignature feeds arbitrary bytes to the PKCS#7 parser and the
// certificate table walk.
func FuzzParseSignature(f *testing.F) {
	key, cert := testKey(f, "db")
	signed := signBytes(f, smallPE(), key, Options{Certificate: cert, SigningTime: time.Unix(1700000000, 0)})
	im, err := openImage(bytes.NewReader(signed), int64(len(signed)))
	if err != nil {
		f.Fatal(err)
	}
	e := im.entries[0]
	f.Add(signed[e.DataOffset() : e.DataOffset()+e.DataLen()])
	f.Add(signed[e.Offset:])
	f.Fuzz(func(t *testing.T, data []byte) {
		if sig, err := parseSignature(data); err == nil {
			_ = sig.signer()
			_ = setOf(sig.attrs)
		}
		_, _ = pe.CertTable(bytes.NewReader(data), int64(len(data)), pe.DataDir{Size: uint32(len(data))})
	})
}

// FuzzAdoptSignedAttributes feeds arbitrary bytes as an offline step's
// attribute file: an error or attributes that give the request's own
// encoding, never a panic, and a refused file leaves the request as it was.
func FuzzAdoptSignedAttributes(f *testing.F) {
	_, cert := testKey(f, "db")
	img := smallPE()
	opts := Options{Certificate: cert, Profile: ProfileSystemdSbsign, SigningTime: time.Unix(1700000000, 0)}
	req, err := NewRequest(context.Background(), bytes.NewReader(img), int64(len(img)), opts)
	if err != nil {
		f.Fatal(err)
	}
	valid := req.SignedAttributes()
	f.Add(valid)
	f.Add(valid[:len(valid)-1])
	f.Add([]byte{0x31, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewRequest(context.Background(), bytes.NewReader(img), int64(len(img)), opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.AdoptSignedAttributes(data); err != nil {
			if !bytes.Equal(r.SignedAttributes(), valid) {
				t.Fatal("a refused file changed the request")
			}
			return
		}
		if !bytes.Equal(r.SignedAttributes(), data) {
			t.Fatalf("adopted %x but signs %x", data, r.SignedAttributes())
		}
	})
}
