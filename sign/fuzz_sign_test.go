package sign

import (
	"bytes"
	"crypto/x509"
	"os"
	"testing"

	"github.com/ukibuild/ukibuild/internal/pe"
)

// FuzzSign signs arbitrary images: signing either fails with an error or
// produces an image that verifies against the signing certificate and
// keeps the input's content (all but the checksum, the certificate table
// directory entry and the table itself).
func FuzzSign(f *testing.F) {
	key, cert := testKey(f, "db")
	img := smallPE()
	f.Add(img, false)
	f.Add(signBytes(f, img, key, Options{Certificate: cert}), false)
	f.Add(signBytes(f, img, key, Options{Certificate: cert}), true)
	f.Add(img[:len(img)-3], false)
	stub, err := os.ReadFile(stub262(f))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(stub, false)
	db := VerifyOptions{DB: []*x509.Certificate{cert}}
	f.Fuzz(func(t *testing.T, in []byte, replace bool) {
		out, err := signBytesErr(in, key, Options{Certificate: cert, Replace: replace})
		if err != nil {
			return
		}
		if _, err := verifyBytes(out, db); err != nil {
			t.Fatalf("the signed image does not verify: %v", err)
		}
		h, err := pe.Parse(bytes.NewReader(in), int64(len(in)))
		if err != nil {
			t.Fatalf("signed an image that does not parse: %v", err)
		}
		end := int64(len(in))
		if dir, ok := h.Security(); ok && dir.Size != 0 {
			end = int64(dir.VirtualAddress)
		}
		if int64(len(out)) < end {
			t.Fatalf("the signed image (%d bytes) is shorter than the input's content (%d bytes)", len(out), end)
		}
		sd, _ := h.SecurityDirOffset()
		for i := int64(0); i < end; i++ {
			ck := h.ChecksumOffset()
			if (i >= ck && i < ck+4) || (i >= sd && i < sd+8) {
				continue
			}
			if in[i] != out[i] {
				t.Fatalf("the signed image differs from the input at offset %d", i)
			}
		}
	})
}
