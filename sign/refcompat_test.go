package sign

// Byte-identity and interoperability tests against the reference tools:
// sbsign and sbverify (Debian package sbsigntool) and osslsigncode (Debian
// package osslsigncode). A missing tool fails the test.

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// refInputs are the images the reference tools sign: Debian's systemd-stub
// 262.1, the same with 5 bytes of trailing data (so that the signers pad the
// image to 8 bytes, and hash the padding), and a UKI built by uki.Build from
// the stub and the reference kernel.
func refInputs(t *testing.T) map[string]string {
	stub := stub262(t)
	trailing := filepath.Join(fixtureDir, "stub-trailing.efi")
	if _, err := os.Stat(trailing); err != nil {
		if err := os.WriteFile(trailing, append(readFile(t, stub), "12345"...), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return map[string]string{"stub262": stub, "stub262+5": trailing, "uki": testUKI(t)}
}

// signingTimeOf returns the signingTime of the last signature of a signed
// image.
func signingTimeOf(t *testing.T, img []byte) time.Time {
	t.Helper()
	rep, err := Verify(context.Background(), bytes.NewReader(img), int64(len(img)), VerifyOptions{})
	if err != nil {
		t.Fatalf("verifying the reference tool's output: %v", err)
	}
	st := rep.Signatures[len(rep.Signatures)-1].SigningTime
	if st.IsZero() {
		t.Fatal("the reference tool's signature has no signingTime")
	}
	return st
}

func TestSbsignByteIdentical(t *testing.T) {
	sbsign := tool(t, "sbsign", "sbsigntool")
	for name, in := range refInputs(t) {
		for _, tc := range []struct {
			name    string
			key     string
			addcert string
			chain   []*x509.Certificate
		}{
			{name: "selfsigned", key: "db"},
			{name: "chain", key: "leaf", addcert: "ca", chain: []*x509.Certificate{testCert(t, "ca")}},
			{name: "rsa4096", key: "rsa4096"},
		} {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				out := filepath.Join(t.TempDir(), "signed.efi")
				args := []string{"--key", "testdata/" + tc.key + ".key", "--cert", "testdata/" + tc.key + ".crt", "--output", out}
				if tc.addcert != "" {
					args = append(args, "--addcert", "testdata/"+tc.addcert+".crt")
				}
				run(t, sbsign, append(args, in)...)
				want := readFile(t, out)

				key, cert := testKey(t, tc.key)
				got := signBytes(t, readFile(t, in), key, Options{
					Certificate: cert,
					Chain:       tc.chain,
					Profile:     ProfileSbsign,
					SigningTime: signingTimeOf(t, want),
				})
				if !bytes.Equal(got, want) {
					t.Fatalf("differs from sbsign's output: %s", firstDiff(got, want))
				}
			})
		}
	}
}

func TestOsslsigncodeByteIdentical(t *testing.T) {
	osslsigncode := tool(t, "osslsigncode", "osslsigncode")
	const stamp = 1700000000 // 2023-11-14T22:13:20Z
	chainPEM := writeTemp(t, "chain.pem", append(readFile(t, "testdata/leaf.crt"), readFile(t, "testdata/ca.crt")...))
	for name, in := range refInputs(t) {
		for _, tc := range []struct {
			name  string
			key   string
			certs string
			args  []string
			opts  Options
		}{
			{name: "sha256", key: "db", args: []string{"-h", "sha256"}},
			{name: "sha384", key: "db", args: []string{"-h", "sha384"}, opts: Options{Hash: crypto.SHA384}},
			{name: "sha512", key: "rsa4096", args: []string{"-h", "sha512"}, opts: Options{Hash: crypto.SHA512}},
			{name: "opus-commercial", key: "db", args: []string{"-h", "sha256", "-n", "ukibuild test", "-i", "https://example.org/uki", "-comm"},
				opts: Options{ProgramName: "ukibuild test", MoreInfoURL: "https://example.org/uki", Commercial: true}},
			{name: "opus-name", key: "db", args: []string{"-h", "sha256", "-n", "only a name"}, opts: Options{ProgramName: "only a name"}},
			{name: "chain", key: "leaf", certs: chainPEM, args: []string{"-h", "sha256"}, opts: Options{Chain: []*x509.Certificate{testCert(t, "ca")}}},
		} {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				out := filepath.Join(t.TempDir(), "signed.efi")
				certs := tc.certs
				if certs == "" {
					certs = "testdata/" + tc.key + ".crt"
				}
				args := append([]string{"sign", "-certs", certs, "-key", "testdata/" + tc.key + ".key", "-time", strconv.Itoa(stamp)}, tc.args...)
				run(t, osslsigncode, append(args, "-in", in, "-out", out)...)
				want := readFile(t, out)

				key, cert := testKey(t, tc.key)
				opts := tc.opts
				opts.Certificate = cert
				opts.Profile = ProfileOsslsigncode
				opts.SigningTime = time.Unix(stamp, 0)
				got := signBytes(t, readFile(t, in), key, opts)
				if !bytes.Equal(got, want) {
					t.Fatalf("differs from osslsigncode's output: %s", firstDiff(got, want))
				}
			})
		}
	}
}

// TestReferenceVerifiersAccept checks that sbverify and osslsigncode verify
// accept our signatures, and that sbverify lists both signatures of a
// double-signed image.
func TestReferenceVerifiersAccept(t *testing.T) {
	sbverify := tool(t, "sbverify", "sbsigntool")
	osslsigncode := tool(t, "osslsigncode", "osslsigncode")
	key, cert := testKey(t, "db")
	for name, in := range refInputs(t) {
		img := readFile(t, in)
		for _, tc := range []struct {
			name string
			opts Options
		}{
			{"default", Options{}},
			{"signingtime", Options{SigningTime: time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC)}},
			{"sha384", Options{Hash: crypto.SHA384}},
			{"sha512", Options{Hash: crypto.SHA512}},
		} {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				opts := tc.opts
				opts.Certificate = cert
				signed := writeTemp(t, "signed.efi", signBytes(t, img, key, opts))
				if opts.Hash == 0 { // sbverify knows SHA-256 only
					run(t, sbverify, "--cert", "testdata/db.crt", signed)
				}
				out := run(t, osslsigncode, "verify", "-CAfile", "testdata/db.crt", "-in", signed)
				if !strings.Contains(out, "Signature verification: ok") {
					t.Fatalf("osslsigncode verify did not report success:\n%s", out)
				}
				if _, err := runErr(sbverify, "--cert", "testdata/other.crt", signed); err == nil && opts.Hash == 0 {
					t.Fatal("sbverify accepted the signature with the wrong certificate")
				}
			})
		}
		t.Run(name+"/double", func(t *testing.T) {
			key2, cert2 := testKey(t, "leaf")
			once := signBytes(t, img, key, Options{Certificate: cert})
			twice := signBytes(t, once, key2, Options{Certificate: cert2, Chain: []*x509.Certificate{testCert(t, "ca")}})
			signed := writeTemp(t, "signed.efi", twice)
			out := run(t, sbverify, "--list", signed)
			if !strings.Contains(out, "signature 1") || !strings.Contains(out, "signature 2") ||
				!strings.Contains(out, "ukibuild test db") || !strings.Contains(out, "ukibuild test leaf") {
				t.Fatalf("sbverify --list does not show both signatures:\n%s", out)
			}
			run(t, sbverify, "--cert", "testdata/db.crt", signed)
			run(t, sbverify, "--cert", "testdata/ca.crt", signed)
			// Ours: both verify, each against its own db.
			for i, db := range []string{"db", "ca"} {
				rep, err := Verify(context.Background(), bytes.NewReader(twice), int64(len(twice)), VerifyOptions{DB: []*x509.Certificate{testCert(t, db)}})
				if err != nil {
					t.Fatalf("db %s: %v", db, err)
				}
				if len(rep.Signatures) != 2 || !rep.Signatures[i].OK() || rep.Signatures[1-i].OK() {
					t.Fatalf("db %s: %+v", db, rep.Signatures)
				}
			}
		})
	}
}

// TestVerifyReferenceOutput checks that our verification accepts sbsign's
// and osslsigncode's signatures and rejects tampered images.
func TestVerifyReferenceOutput(t *testing.T) {
	sbsign := tool(t, "sbsign", "sbsigntool")
	osslsigncode := tool(t, "osslsigncode", "osslsigncode")
	db := []*x509.Certificate{testCert(t, "db")}
	for name, in := range refInputs(t) {
		dir := t.TempDir()
		sb := filepath.Join(dir, "sbsign.efi")
		ossl := filepath.Join(dir, "osslsigncode.efi")
		run(t, sbsign, "--key", "testdata/db.key", "--cert", "testdata/db.crt", "--output", sb, in)
		run(t, osslsigncode, "sign", "-certs", "testdata/db.crt", "-key", "testdata/db.key", "-h", "sha256", "-in", in, "-out", ossl)
		for tool, path := range map[string]string{"sbsign": sb, "osslsigncode": ossl} {
			t.Run(name+"/"+tool, func(t *testing.T) {
				img := readFile(t, path)
				rep, err := Verify(context.Background(), bytes.NewReader(img), int64(len(img)), VerifyOptions{DB: db})
				if err != nil {
					t.Fatal(err)
				}
				if len(rep.Signatures) != 1 || rep.Signatures[0].Subject() != "CN=ukibuild test db" || rep.Signatures[0].Hash != crypto.SHA256 {
					t.Fatalf("unexpected report: %+v", rep.Signatures)
				}
				checkRejections(t, img)
			})
		}
	}
}

// checkRejections checks that verification of a signed image (by db.crt)
// fails for a flipped byte in a section, data appended after the
// certificate table, the wrong certificate, and a truncated table.
func checkRejections(t *testing.T, img []byte) {
	t.Helper()
	db := []*x509.Certificate{testCert(t, "db")}
	verify := func(b []byte, db []*x509.Certificate) error {
		_, err := Verify(context.Background(), bytes.NewReader(b), int64(len(b)), VerifyOptions{DB: db})
		return err
	}
	im, err := openImage(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(img)
	s := im.f.Sections[0]
	flipped[int64(s.PointerToRawData)+int64(s.SizeOfRawData)/2] ^= 0x01
	if err := verify(flipped, db); err == nil || !strings.Contains(err.Error(), "image digest mismatch") {
		t.Errorf("flipped section byte: got %v", err)
	}
	appended := append(bytes.Clone(img), "appended"...)
	if err := verify(appended, db); err == nil || !strings.Contains(err.Error(), "follow the certificate table") {
		t.Errorf("appended data: got %v", err)
	}
	if err := verify(img, []*x509.Certificate{testCert(t, "other")}); err == nil || !strings.Contains(err.Error(), "does not chain to any db certificate") {
		t.Errorf("wrong certificate: got %v", err)
	}
	truncated := img[:len(img)-16]
	if err := verify(truncated, db); err == nil || !strings.Contains(err.Error(), "runs past the end of the file") {
		t.Errorf("truncated file: got %v", err)
	}
	// A table truncated by a smaller directory Size.
	short := bytes.Clone(img)
	sd, _ := im.f.SecurityDirOffset()
	size := int64(im.dir.Size) - 16
	putU32(short[sd+4:], uint32(size))
	short = short[:int64(im.dir.VirtualAddress)+size]
	if err := verify(short, db); err == nil || !strings.Contains(err.Error(), "certificate table") {
		t.Errorf("truncated table: got %v", err)
	}
	if err := verify(img, db); err != nil {
		t.Errorf("the untouched image: %v", err)
	}
}

func putU32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}
