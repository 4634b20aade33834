package sign

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ukibuild/ukibuild/internal/pe"
	"github.com/ukibuild/ukibuild/internal/pe/petest"
	"github.com/ukibuild/ukibuild/uefi"
)

// smallPE is a synthetic PE32+ image of 0x1403 bytes: headers, two sections
// (.text, .data) and 3 bytes of trailing data, so that signing pads it.
func smallPE() []byte {
	img := petest.Stub(0x400, []petest.Section{
		petest.Sec(".text", 0x1000, 0x800, 0x400, 0x800, petest.Fill(0x800, 1)),
		petest.Sec(".data", 0x2000, 0x800, 0xc00, 0x800, petest.Fill(0x800, 7)),
	}, 0, nil)
	return append(img, 0xaa, 0xbb, 0xcc)
}

func verifyBytes(img []byte, opts VerifyOptions) (*Report, error) {
	return Verify(context.Background(), bytes.NewReader(img), int64(len(img)), opts)
}

func dbOf(t testing.TB, names ...string) VerifyOptions {
	var o VerifyOptions
	for _, n := range names {
		o.DB = append(o.DB, testCert(t, n))
	}
	return o
}

func TestSignVerifySmall(t *testing.T) {
	key, cert := testKey(t, "db")
	img := smallPE()
	for _, h := range []crypto.Hash{0, crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		signed := signBytes(t, img, key, Options{Certificate: cert, Hash: h})
		if len(signed)%8 != 0 || !bytes.Equal(signed[:len(img)], patchedHeaders(t, img, signed)) {
			t.Fatalf("%v: the image content was not kept", h)
		}
		rep, err := verifyBytes(signed, dbOf(t, "db"))
		if err != nil {
			t.Fatalf("%v: %v", h, err)
		}
		want := h
		if want == 0 {
			want = crypto.SHA256
		}
		if s := rep.Signatures[0]; s.Hash != want || s.Subject() != "CN=ukibuild test db" || s.TrustedBy == nil || !s.SigningTime.IsZero() {
			t.Fatalf("%v: %+v", h, s)
		}
		// The digest firmware computes for the signed image is the one
		// signed, and (the unsigned image not being 8-aligned) differs from
		// the unsigned image's.
		d, err := ImageDigest(bytes.NewReader(signed), int64(len(signed)), want)
		if err != nil {
			t.Fatal(err)
		}
		req, err := NewRequest(context.Background(), bytes.NewReader(img), int64(len(img)), Options{Hash: h})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(d, req.ImageDigest()) {
			t.Fatalf("%v: signed image digest %x, request digest %x", h, d, req.ImageDigest())
		}
		du, _ := ImageDigest(bytes.NewReader(img), int64(len(img)), want)
		if bytes.Equal(du, d) {
			t.Fatalf("%v: the padding is not hashed", h)
		}
		padded := append(bytes.Clone(img), make([]byte, len(img)%8)...)
		padded = padded[:len(img)+(8-len(img)%8)%8]
		dp, _ := ImageDigest(bytes.NewReader(padded), int64(len(padded)), want)
		if !bytes.Equal(dp, d) {
			t.Fatalf("%v: the digest is not that of the zero-padded image", h)
		}
	}
}

// patchedHeaders returns img with the checksum and certificate directory
// entry of signed, i.e. what the signed image's content must be.
func patchedHeaders(t *testing.T, img, signed []byte) []byte {
	f, err := pe.Parse(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	out := bytes.Clone(img)
	ck := f.ChecksumOffset()
	sd, _ := f.SecurityDirOffset()
	copy(out[ck:ck+4], signed[ck:ck+4])
	copy(out[sd:sd+8], signed[sd:sd+8])
	return out
}

// naiveDigest hashes an image as the Authenticode specification describes,
// written independently of pe.AuthenticodeRanges, for images whose sections
// are in file order with no overlaps.
func naiveDigest(t *testing.T, img []byte) []byte {
	f, err := pe.Parse(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	ck := f.ChecksumOffset()
	sd, _ := f.SecurityDirOffset()
	dir, _ := f.Security()
	end := int64(len(img))
	if dir.Size != 0 {
		end = int64(dir.VirtualAddress)
	}
	h := sha256.New()
	h.Write(img[:ck])
	h.Write(img[ck+4 : sd])
	h.Write(img[sd+8 : f.SizeOfHeaders])
	sum := int64(f.SizeOfHeaders)
	for _, s := range f.Sections {
		h.Write(img[s.PointerToRawData : s.PointerToRawData+s.SizeOfRawData])
		sum += int64(s.SizeOfRawData)
	}
	h.Write(img[sum:end])
	return h.Sum(nil)
}

func TestImageDigestNaive(t *testing.T) {
	key, cert := testKey(t, "db")
	for _, img := range [][]byte{smallPE(), readFile(t, stub262(t))} {
		d, err := ImageDigest(bytes.NewReader(img), int64(len(img)), crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		if want := naiveDigest(t, img); !bytes.Equal(d, want) {
			t.Fatalf("digest %x, want %x", d, want)
		}
		signed := signBytes(t, img, key, Options{Certificate: cert})
		d, _ = ImageDigest(bytes.NewReader(signed), int64(len(signed)), crypto.SHA256)
		if want := naiveDigest(t, signed); !bytes.Equal(d, want) {
			t.Fatalf("signed: digest %x, want %x", d, want)
		}
	}
}

func TestSectionOrderAndGaps(t *testing.T) {
	// Sections listed out of file order, with a gap between them and a
	// zero-sized one: firmware hashes them in PointerToRawData order and
	// then the bytes from SUM_OF_BYTES_HASHED on.
	img := petest.Stub(0x400, []petest.Section{
		petest.Sec(".b", 0x2000, 0x200, 0xa00, 0x200, petest.Fill(0x200, 3)),
		petest.Sec(".empty", 0x3000, 0x100, 0, 0, nil),
		petest.Sec(".a", 0x1000, 0x200, 0x400, 0x200, petest.Fill(0x200, 5)),
	}, 0, nil)
	f, err := pe.Parse(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := f.AuthenticodeRanges(int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	ck, sd := f.ChecksumOffset(), f.DataDirOffset+32
	r := func(off, end int64) pe.Range { return pe.Range{Off: off, End: end} }
	want := []pe.Range{r(0, ck), r(ck+4, sd), r(sd+8, 0x400), r(0x400, 0x600), r(0xa00, 0xc00), r(0x800, 0xc00)}
	if len(rs) != len(want) {
		t.Fatalf("ranges %v, want %v", rs, want)
	}
	for i := range rs {
		if rs[i] != want[i] {
			t.Fatalf("ranges %v, want %v", rs, want)
		}
	}
}

func TestSignErrors(t *testing.T) {
	key, cert := testKey(t, "db")
	img := smallPE()
	for _, tc := range []struct {
		name   string
		img    func() []byte
		key    crypto.Signer
		opts   Options
		errSub string
	}{
		{name: "ecdsa", key: mustKey(t, "ec"), opts: Options{Certificate: testCert(t, "ec")}, errSub: "rejects ECDSA"},
		{name: "ecdsa key, rsa cert", key: mustKey(t, "ec"), opts: Options{Certificate: cert}, errSub: "rejects ECDSA"},
		{name: "rsa-pss certificate", opts: Options{Certificate: testCert(t, "pss")}, errSub: "rejects RSA-PSS"},
		{name: "rsa1024", key: mustKey(t, "rsa1024"), opts: Options{Certificate: testCert(t, "rsa1024")}, errSub: "RSA key of 1024 bits"},
		{name: "key mismatch", key: mustKey(t, "other"), opts: Options{Certificate: cert}, errSub: "does not match"},
		{name: "no certificate", opts: Options{}, errSub: "needs the signer's certificate"},
		{name: "sha1", opts: Options{Certificate: cert, Hash: crypto.SHA1}, errSub: "not supported"},
		{name: "sbsign without time", opts: Options{Certificate: cert, Profile: ProfileSbsign}, errSub: "needs a signing time"},
		{name: "opus without osslsigncode", opts: Options{Certificate: cert, ProgramName: "x"}, errSub: "osslsigncode profile"},
		{name: "systemd-sbsign without time", opts: Options{Certificate: cert, Profile: ProfileSystemdSbsign}, errSub: "needs a signing time"},
		{name: "systemd-sbsign sha384", opts: Options{Certificate: cert, Profile: ProfileSystemdSbsign, Hash: crypto.SHA384, SigningTime: time.Unix(1, 0)}, errSub: "SHA-256 only"},
		{name: "systemd-sbsign chain", opts: Options{Certificate: cert, Profile: ProfileSystemdSbsign, Chain: []*x509.Certificate{testCert(t, "ca")}, SigningTime: time.Unix(1, 0)},
			errSub: "signer certificate only"},
		{name: "not PE", img: func() []byte { return make([]byte, 4096) }, opts: Options{Certificate: cert}, errSub: "no MZ signature"},
		{name: "section past EOF", img: func() []byte { return img[:0xe00] }, opts: Options{Certificate: cert}, errSub: `section 1 (".data"): raw data at 3072+2048 lies beyond the end of the file`},
		{name: "no directory entry", img: func() []byte {
			b := bytes.Clone(img)
			f, _ := pe.Parse(bytes.NewReader(b), int64(len(b)))
			binary.LittleEndian.PutUint32(b[f.DataDirOffset-4:], 4)
			return b
		}, opts: Options{Certificate: cert}, errSub: "no certificate table entry"},
		{name: "data after table", img: func() []byte {
			return append(signBytes(t, img, key, Options{Certificate: cert}), "junk"...)
		}, opts: Options{Certificate: cert}, errSub: "4 bytes of data follow the certificate table"},
		{name: "data after table, replace", img: func() []byte {
			return append(signBytes(t, img, key, Options{Certificate: cert}), "junk"...)
		}, opts: Options{Certificate: cert, Replace: true}, errSub: "follow the certificate table"},
		{name: "table past EOF", img: func() []byte {
			s := signBytes(t, img, key, Options{Certificate: cert})
			return s[:len(s)-8]
		}, opts: Options{Certificate: cert}, errSub: "runs past the end of the file"},
		{name: "corrupt table", img: func() []byte {
			s := signBytes(t, img, key, Options{Certificate: cert})
			im, _ := openImage(bytes.NewReader(s), int64(len(s)))
			binary.LittleEndian.PutUint32(s[im.dir.VirtualAddress:], 0x10000)
			return s
		}, opts: Options{Certificate: cert}, errSub: "existing certificate table is corrupt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := img
			if tc.img != nil {
				in = tc.img()
			}
			k := tc.key
			if k == nil {
				k = key
			}
			_, err := signBytesErr(in, k, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.errSub) {
				t.Fatalf("got error %v, want one containing %q", err, tc.errSub)
			}
		})
	}
}

func mustKey(t testing.TB, name string) crypto.Signer {
	k, _ := testKey(t, name)
	return k
}

func TestUnsupportedKeyErrorsWrap(t *testing.T) {
	_, err := signBytesErr(smallPE(), mustKey(t, "ec"), Options{Certificate: testCert(t, "ec")})
	if !errors.Is(err, ErrUnsupportedKey) {
		t.Fatalf("%v does not wrap ErrUnsupportedKey", err)
	}
}

func TestMultiSignatureAndReplace(t *testing.T) {
	k1, c1 := testKey(t, "db")
	k2, c2 := testKey(t, "leaf")
	ca := testCert(t, "ca")
	img := smallPE()
	once := signBytes(t, img, k1, Options{Certificate: c1})
	twice := signBytes(t, once, k2, Options{Certificate: c2, Chain: []*x509.Certificate{ca}, Hash: crypto.SHA384})
	if !bytes.Equal(twice[len(img):len(once)], once[len(img):]) {
		t.Fatal("the first signature was not kept as it was")
	}
	rep, err := verifyBytes(twice, dbOf(t, "ca"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Signatures) != 2 || rep.Signatures[0].OK() || !rep.Signatures[1].OK() || rep.Signatures[1].Hash != crypto.SHA384 {
		t.Fatalf("%+v", rep.Signatures)
	}
	// The directory Size covers both padded entries.
	im, _ := openImage(bytes.NewReader(twice), int64(len(twice)))
	if int64(im.dir.VirtualAddress)+int64(im.dir.Size) != int64(len(twice)) || len(im.entries) != 2 {
		t.Fatalf("directory %+v, %d entries, file %d", im.dir, len(im.entries), len(twice))
	}
	// The checksum of each output is right.
	for _, b := range [][]byte{once, twice} {
		f, _ := pe.Parse(bytes.NewReader(b), int64(len(b)))
		sum, err := pe.ComputeChecksum(bytes.NewReader(b), int64(len(b)), f.ChecksumOffset())
		if err != nil || sum != f.CheckSum || sum == 0 {
			t.Fatalf("checksum %#x, header says %#x (%v)", sum, f.CheckSum, err)
		}
	}
	replaced := signBytes(t, twice, k2, Options{Certificate: c2, Chain: []*x509.Certificate{ca}, Replace: true})
	direct := signBytes(t, img, k2, Options{Certificate: c2, Chain: []*x509.Certificate{ca}})
	if !bytes.Equal(replaced, direct) {
		t.Fatalf("Replace: %s", firstDiff(replaced, direct))
	}
}

func TestReproducible(t *testing.T) {
	key, cert := testKey(t, "db")
	img := smallPE()
	a := signBytes(t, img, key, Options{Certificate: cert})
	b := signBytes(t, img, key, Options{Certificate: cert})
	if !bytes.Equal(a, b) {
		t.Fatal("two default signatures differ")
	}
	// SignFile in place gives the same bytes, keeps the mode, and signing
	// time from SOURCE_DATE_EPOCH stays fixed.
	p := writeTemp(t, "in.efi", img)
	if err := os.Chmod(p, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := SignFile(context.Background(), p, p, key, Options{Certificate: cert}); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, p); !bytes.Equal(got, a) {
		t.Fatalf("SignFile: %s", firstDiff(got, a))
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode())
	}
	st, err := SourceDateEpoch("1700000000")
	if err != nil || !st.Equal(time.Unix(1700000000, 0)) {
		t.Fatalf("SourceDateEpoch: %v %v", st, err)
	}
	c := signBytes(t, img, key, Options{Certificate: cert, SigningTime: st})
	d := signBytes(t, img, key, Options{Certificate: cert, SigningTime: st})
	if !bytes.Equal(c, d) || bytes.Equal(a, c) {
		t.Fatal("signingTime signatures are not reproducible or not different")
	}
	rep, err := verifyBytes(c, VerifyOptions{})
	if err != nil || !rep.Signatures[0].SigningTime.Equal(st) {
		t.Fatalf("signingTime %v (%v)", rep.Signatures[0].SigningTime, err)
	}
	for _, bad := range []string{"-1", "1.5", " 1", "99999999999999999999", "253402300800"} {
		if _, err := SourceDateEpoch(bad); err == nil {
			t.Errorf("SourceDateEpoch(%q) succeeded", bad)
		}
	}
	if z, err := SourceDateEpoch(""); err != nil || !z.IsZero() {
		t.Errorf("SourceDateEpoch(\"\") = %v, %v", z, err)
	}
}

func TestSigningTimeEncoding(t *testing.T) {
	for _, tc := range []struct {
		t    time.Time
		want string
	}{
		{time.Date(2049, 12, 31, 23, 59, 59, 999, time.UTC), "\x17\x0d491231235959Z"},
		{time.Date(2050, 1, 1, 0, 0, 0, 0, time.UTC), "\x18\x0f20500101000000Z"},
		{time.Date(1950, 1, 1, 0, 0, 0, 0, time.FixedZone("x", 3600)), "\x18\x0f19491231230000Z"},
	} {
		if got := string(timeDER(tc.t)); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.t, got, tc.want)
		}
	}
}

// TestOfflineSigning signs the attributes with openssl (Debian package
// openssl), as a hash-only signer elsewhere would, and attaches the result.
func TestOfflineSigning(t *testing.T) {
	openssl := tool(t, "openssl", "openssl")
	_, cert := testKey(t, "db")
	img := smallPE()
	for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA512} {
		opts := Options{Certificate: cert, Hash: h, SigningTime: time.Unix(1700000000, 0)}
		req, err := NewRequest(context.Background(), bytes.NewReader(img), int64(len(img)), opts)
		if err != nil {
			t.Fatal(err)
		}
		tbs := writeTemp(t, "tbs.der", req.SignedAttributes())
		sigPath := filepath.Join(t.TempDir(), "sig")
		run(t, openssl, "dgst", "-"+strings.ToLower(strings.ReplaceAll(h.String(), "-", "")), "-sign", "testdata/db.key", "-out", sigPath, tbs)
		p7, err := req.Attach(readFile(t, sigPath))
		if err != nil {
			t.Fatal(err)
		}
		var w memWriterAt
		if _, err := req.Write(&w, p7); err != nil {
			t.Fatal(err)
		}
		if want := signBytes(t, img, mustKey(t, "db"), opts); !bytes.Equal(w.b, want) {
			t.Fatalf("%v: offline signing differs from direct signing: %s", h, firstDiff(w.b, want))
		}
		// A new request from the same image and options has the same
		// attributes; a bad signature is refused.
		req2, _ := NewRequest(context.Background(), bytes.NewReader(img), int64(len(img)), opts)
		if !bytes.Equal(req2.SignedAttributes(), req.SignedAttributes()) {
			t.Fatal("SignedAttributes is not reproducible")
		}
		bad := readFile(t, sigPath)
		bad[10] ^= 1
		if _, err := req.Attach(bad); err == nil {
			t.Fatal("a bad signature was attached")
		}
		// A signature for another image is refused by Write.
		other := append(bytes.Clone(img), 1)
		req3, _ := NewRequest(context.Background(), bytes.NewReader(other), int64(len(other)), opts)
		if _, err := req3.Write(&memWriterAt{}, p7); err == nil || !strings.Contains(err.Error(), "different image") {
			t.Fatalf("a signature for another image: %v", err)
		}
	}
}

// selfSigned makes a throwaway self-signed RSA certificate valid in the
// given period.
func selfSigned(t *testing.T, cn string, notBefore, notAfter time.Time) (crypto.Signer, *x509.Certificate) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(42),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert
}

func TestVerifyRules(t *testing.T) {
	key, cert := testKey(t, "db")
	leafKey, leaf := testKey(t, "leaf")
	ca := testCert(t, "ca")
	img := smallPE()
	signed := signBytes(t, img, key, Options{Certificate: cert})
	chained := signBytes(t, img, leafKey, Options{Certificate: leaf, Chain: []*x509.Certificate{ca}})
	leafOnly := signBytes(t, img, leafKey, Options{Certificate: leaf})

	t.Run("integrity only", func(t *testing.T) {
		if _, err := verifyBytes(signed, VerifyOptions{}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("chain to CA", func(t *testing.T) {
		rep, err := verifyBytes(chained, dbOf(t, "ca"))
		if err != nil || !rep.Signatures[0].TrustedBy.Equal(ca) {
			t.Fatal(err)
		}
	})
	t.Run("partial chain: leaf in db", func(t *testing.T) {
		if _, err := verifyBytes(chained, dbOf(t, "leaf")); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("CA in db, intermediate not embedded", func(t *testing.T) {
		// The CA itself is in db: the chain leaf -> CA is complete.
		if _, err := verifyBytes(leafOnly, dbOf(t, "ca")); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("expired certificate", func(t *testing.T) {
		k, c := selfSigned(t, "expired", time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2002, 1, 1, 0, 0, 0, 0, time.UTC))
		s := signBytes(t, img, k, Options{Certificate: c})
		if _, err := verifyBytes(s, VerifyOptions{DB: []*x509.Certificate{c}}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("wrong db", func(t *testing.T) {
		_, err := verifyBytes(signed, dbOf(t, "other", "ca"))
		if err == nil || !strings.Contains(err.Error(), "does not chain") {
			t.Fatal(err)
		}
	})
	t.Run("dbx certificate", func(t *testing.T) {
		opts := dbOf(t, "ca")
		opts.DBX.Certificates = []*x509.Certificate{leaf}
		rep, err := verifyBytes(chained, opts)
		if err == nil || !errors.Is(err, errForbidden) || rep.Forbidden == nil {
			t.Fatal(err)
		}
	})
	t.Run("dbx image digest", func(t *testing.T) {
		for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
			d, _ := ImageDigest(bytes.NewReader(signed), int64(len(signed)), h)
			opts := dbOf(t, "db")
			opts.DBX.ImageDigests = [][]byte{d}
			if _, err := verifyBytes(signed, opts); err == nil || !strings.Contains(err.Error(), "is in dbx") {
				t.Fatalf("%v: %v", h, err)
			}
		}
	})
	t.Run("dbx image digest of an unsigned image", func(t *testing.T) {
		d, _ := ImageDigest(bytes.NewReader(img), int64(len(img)), crypto.SHA256)
		_, err := verifyBytes(img, VerifyOptions{DBX: DBX{ImageDigests: [][]byte{d}}})
		if err == nil || !strings.Contains(err.Error(), "is in dbx") {
			t.Fatal(err)
		}
	})
	t.Run("unsigned", func(t *testing.T) {
		if _, err := verifyBytes(img, VerifyOptions{}); !errors.Is(err, ErrNotSigned) {
			t.Fatal(err)
		}
	})
	t.Run("rejections", func(t *testing.T) {
		checkRejections(t, signed)
	})
	t.Run("unknown entry type is skipped", func(t *testing.T) {
		s := bytes.Clone(signed)
		im, _ := openImage(bytes.NewReader(s), int64(len(s)))
		binary.LittleEndian.PutUint16(s[im.dir.VirtualAddress+6:], 0x0001)
		rep, err := verifyBytes(s, VerifyOptions{})
		if err == nil || len(rep.Signatures) != 1 || !strings.Contains(rep.Signatures[0].Err.Error(), "firmware skips it") {
			t.Fatalf("%v %+v", err, rep)
		}
	})
	t.Run("EFI GUID entry", func(t *testing.T) {
		// Rewrap the PKCS#7 as WIN_CERTIFICATE_UEFI_GUID, which EDK2 also accepts.
		im, _ := openImage(bytes.NewReader(signed), int64(len(signed)))
		e := im.entries[0]
		p7 := signed[e.DataOffset() : e.DataOffset()+e.DataLen()]
		entry := binary.LittleEndian.AppendUint32(nil, uint32(8+16+len(p7)))
		entry = binary.LittleEndian.AppendUint16(entry, pe.WinCertRevision2)
		entry = binary.LittleEndian.AppendUint16(entry, pe.WinCertTypeEFIGUID)
		entry = append(append(entry, uefi.CertTypePKCS7[:]...), p7...)
		entry = append(entry, make([]byte, (8-len(entry)%8)%8)...)
		s := append(bytes.Clone(signed[:im.contentEnd]), entry...)
		sd, _ := im.f.SecurityDirOffset()
		binary.LittleEndian.PutUint32(s[sd+4:], uint32(len(entry)))
		if _, err := verifyBytes(s, dbOf(t, "db")); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("bad signature", func(t *testing.T) {
		s := bytes.Clone(signed)
		s[len(s)-20] ^= 0x40 // inside the RSA signature (the last DER element)
		rep, err := verifyBytes(s, VerifyOptions{})
		if err == nil || !strings.Contains(rep.Signatures[0].Err.Error(), "bad signature") {
			t.Fatalf("%v", err)
		}
	})
}

func TestChecksumMatchesNaive(t *testing.T) {
	naive := func(b []byte, field int) uint32 {
		var sum uint32
		for i := 0; i < len(b); i += 2 {
			var w uint32
			for j := 0; j < 2 && i+j < len(b); j++ {
				if i+j < field || i+j >= field+4 {
					w |= uint32(b[i+j]) << (8 * j)
				}
			}
			sum += w
			sum = (sum & 0xffff) + (sum >> 16)
		}
		return sum + uint32(len(b))
	}
	data := make([]byte, 5000)
	for i := range data {
		data[i] = byte(i*7 + i>>8)
	}
	for _, n := range []int{0, 1, 2, 3, 63, 64, 65, 4999, 5000} {
		for _, field := range []int{0, 1, 64, 130, 4997} {
			for _, chunk := range []int{1, 3, 64, 7000} {
				c := pe.NewChecksum(int64(field))
				for off := 0; off < n; off += chunk {
					c.Write(data[off:min(n, off+chunk)])
				}
				if got, want := c.Sum(), naive(data[:n], field); got != want {
					t.Fatalf("n %d field %d chunk %d: %#x, want %#x", n, field, chunk, got, want)
				}
			}
		}
	}
	// All-0xff words make the running sum reach 0xffff.
	ff := bytes.Repeat([]byte{0xff}, 4096)
	c := pe.NewChecksum(1 << 40)
	c.Write(ff)
	if got, want := c.Sum(), naive(ff, 1<<30); got != want {
		t.Fatalf("0xff: %#x, want %#x", got, want)
	}
}

func TestParseProfile(t *testing.T) {
	for _, p := range []Profile{ProfileDefault, ProfileSbsign, ProfileOsslsigncode, ProfileSystemdSbsign} {
		q, err := ParseProfile(p.String())
		if err != nil || q != p {
			t.Fatalf("%v: %v %v", p, q, err)
		}
	}
	if _, err := ParseProfile("pesign"); err == nil {
		t.Fatal("ParseProfile accepted pesign")
	}
}
