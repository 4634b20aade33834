package secureboot_test

import (
	"bytes"
	"context"
	"crypto"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ukibuild/ukibuild/internal/reftools"
	"github.com/ukibuild/ukibuild/secureboot"
	"github.com/ukibuild/ukibuild/sign"
	"github.com/ukibuild/ukibuild/uefi"
)

const ownerText = "7ab1e5e2-0c3b-4b8e-9a51-1f0ddba11e55"

var owner = func() uefi.GUID {
	g, err := uefi.ParseGUID(ownerText)
	if err != nil {
		panic(err)
	}
	return g
}()

// tool returns the path of a reference tool; a missing tool fails the
// test, naming the Debian package.
func tool(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is missing: install the Debian package %s (.ci/deps.sh does)", name, pkg)
	}
	return p
}

func run(t testing.TB, name, pkg string, args ...string) string {
	t.Helper()
	out, err := exec.Command(tool(t, name, pkg), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, out)
	}
	return string(out)
}

func read(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// keys makes, with openssl, a CA "root", a signing certificate "leaf"
// issued by it and a self-signed "other", as key.pem/crt.pem pairs in dir.
type keySet struct{ dir string }

func (k keySet) key(name string) string { return filepath.Join(k.dir, name+".key") }
func (k keySet) crt(name string) string { return filepath.Join(k.dir, name+".crt") }

func makeKeys(t *testing.T) keySet {
	t.Helper()
	k := keySet{t.TempDir()}
	for _, n := range []string{"root", "other"} {
		run(t, "openssl", "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", k.key(n), "-out", k.crt(n),
			"-subj", "/CN=ukibuild test "+n, "-days", "30", "-addext", "basicConstraints=critical,CA:TRUE")
	}
	csr := filepath.Join(k.dir, "leaf.csr")
	run(t, "openssl", "openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", k.key("leaf"), "-out", csr, "-subj", "/CN=ukibuild test leaf")
	run(t, "openssl", "openssl", "x509", "-req", "-in", csr, "-CA", k.crt("root"), "-CAkey", k.key("root"), "-CAcreateserial",
		"-out", k.crt("leaf"), "-days", "30")
	return k
}

// esl runs efitools' cert-to-efi-sig-list (owner ownerText) on the PEM
// certificate and returns the list's path.
func esl(t *testing.T, crt string) string {
	t.Helper()
	out := crt + ".esl"
	run(t, "cert-to-efi-sig-list", "efitools", "-g", ownerText, crt, out)
	return out
}

func readDB(t *testing.T, paths ...string) *secureboot.Database {
	t.Helper()
	db := &secureboot.Database{}
	for _, p := range paths {
		d, err := secureboot.ReadFile(p, &owner)
		if err != nil {
			t.Fatal(err)
		}
		db.Append(d)
	}
	return db
}

// TestCertificateListMatchesEfitools: a PEM certificate read with an owner
// gives the bytes cert-to-efi-sig-list makes of it, and reading that .esl
// gives the same Database.
func TestCertificateListMatchesEfitools(t *testing.T) {
	k := makeKeys(t)
	for _, n := range []string{"root", "leaf"} {
		l := esl(t, k.crt(n))
		fromPEM, fromESL := readDB(t, k.crt(n)), readDB(t, l)
		if !bytes.Equal(fromPEM.Bytes(), read(t, l)) || !bytes.Equal(fromESL.Bytes(), read(t, l)) {
			t.Errorf("%s: our list differs from cert-to-efi-sig-list's", n)
		}
		es := fromESL.Entries()
		if len(es) != 1 || es[0].Type != secureboot.CertX509 || es[0].Owner != owner || es[0].Certificate == nil ||
			!bytes.Equal(es[0].Certificate.Raw, fromPEM.Entries()[0].Data) {
			t.Errorf("%s: entries %+v", n, es)
		}
	}
	if _, err := secureboot.ReadFile(k.crt("root"), nil); !errors.Is(err, secureboot.ErrNoOwner) {
		t.Errorf("a certificate without an owner: %v", err)
	}
}

// TestAuthMatchesSignEfiSigList: the signature lists in a .auth made by
// sign-efi-sig-list are the .esl it wrapped, and virt-fw-vars --set-dbx
// of that .auth stores the same bytes.
func TestAuthMatchesSignEfiSigList(t *testing.T) {
	k := makeKeys(t)
	lists := filepath.Join(k.dir, "two.esl")
	both := append(read(t, esl(t, k.crt("root"))), read(t, esl(t, k.crt("other")))...)
	if err := os.WriteFile(lists, both, 0o644); err != nil {
		t.Fatal(err)
	}
	auth := filepath.Join(k.dir, "dbx.auth")
	run(t, "sign-efi-sig-list", "efitools", "-k", k.key("other"), "-c", k.crt("other"), "-t", "2026-01-02 03:04:05", "dbx", lists, auth)
	d, err := secureboot.ReadFile(auth, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(d.Bytes(), both) || d.Len() != 2 {
		t.Errorf("the .auth's lists differ from the .esl sign-efi-sig-list wrapped (%d entries)", d.Len())
	}
	renamed := filepath.Join(k.dir, "dbx.bin")
	if err := os.WriteFile(renamed, read(t, auth), 0o644); err != nil {
		t.Fatal(err)
	}
	if d2, err := secureboot.ReadFile(renamed, nil); err != nil || !bytes.Equal(d2.Bytes(), both) {
		t.Errorf("the .auth under another name: %v", err)
	}
	vars := virtFwVarsJSON(t, "--set-dbx", auth)
	if !bytes.Equal(vars["dbx"], d.Bytes()) {
		t.Errorf("virt-fw-vars stores dbx %x, ours %x", vars["dbx"], d.Bytes())
	}
	// A damaged header or list is an error naming the file.
	raw := read(t, auth)
	for name, data := range map[string][]byte{
		"short":       raw[:20],
		"bad type":    append(append(bytes.Clone(raw[:22]), 0x00, 0x00), raw[24:]...),
		"cut list":    raw[:len(raw)-1],
		"long length": append(append(bytes.Clone(raw[:16]), 0xff, 0xff, 0xff, 0x00), raw[20:]...),
	} {
		p := filepath.Join(k.dir, "bad.auth")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := secureboot.ReadFile(p, nil); !errors.Is(err, secureboot.ErrFormat) || !bytes.Contains([]byte(err.Error()), []byte(p)) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// virtFwVarsJSON enrolls with virt-fw-vars into a copy of OVMF's varstore
// and returns the variables' data from its --output-json.
func virtFwVarsJSON(t *testing.T, args ...string) map[string][]byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "vars.json")
	ovmf := "/usr/share/OVMF/OVMF_VARS_4M.fd"
	if _, err := os.Stat(ovmf); err != nil {
		t.Fatalf("%s: %v (install the Debian package ovmf)", ovmf, err)
	}
	run(t, "virt-fw-vars", "python3-virt-firmware", append([]string{"-i", ovmf, "--output-json", out}, args...)...)
	var doc struct {
		Variables []struct{ Name, Data string }
	}
	if err := json.Unmarshal(read(t, out), &doc); err != nil {
		t.Fatal(err)
	}
	m := map[string][]byte{}
	for _, v := range doc.Variables {
		b, err := hex.DecodeString(v.Data)
		if err != nil {
			t.Fatal(err)
		}
		m[v.Name] = b
	}
	return m
}

// TestDatabaseMatchesVirtFwVars: the db virt-fw-vars enrolls from PEM
// certificates and an image hash is the Database of the same certificates
// (in order) and HashList of that hash.
func TestDatabaseMatchesVirtFwVars(t *testing.T) {
	k := makeKeys(t)
	digest := bytes.Repeat([]byte{0xab}, 32)
	vars := virtFwVarsJSON(t, "--add-db", ownerText, k.crt("root"), "--add-db", ownerText, k.crt("leaf"),
		"--add-db-hash", ownerText, hex.EncodeToString(digest))
	h, err := secureboot.HashList(owner, digest)
	if err != nil {
		t.Fatal(err)
	}
	want := secureboot.Concat(readDB(t, k.crt("root"), k.crt("leaf")), h)
	if !bytes.Equal(vars["db"], want.Bytes()) {
		t.Errorf("virt-fw-vars db %x\nours %x", vars["db"], want.Bytes())
	}
	got, err := secureboot.ParseSignatureLists(vars["db"])
	if err != nil || got.Len() != 3 || got.Entries()[2].Type != secureboot.CertSHA256 || !bytes.Equal(got.Entries()[2].Data, digest) {
		t.Errorf("parsing virt-fw-vars' db: %v", err)
	}
}

// signedImage signs Debian's add-on stub (a real PE image) with sbsign
// and returns the unsigned copy and the signed one.
func signedImage(t *testing.T, k keySet, signer string) (unsigned, signed string) {
	t.Helper()
	stub := reftools.Locate(t).Path(t, "UKIBUILD_ADDON_STUB_262")
	unsigned = filepath.Join(t.TempDir(), "image.efi")
	if err := os.WriteFile(unsigned, read(t, stub), 0o644); err != nil {
		t.Fatal(err)
	}
	signed = filepath.Join(filepath.Dir(unsigned), "image.signed.efi")
	run(t, "sbsign", "sbsigntool", "--key", k.key(signer), "--cert", k.crt(signer), "--output", signed, unsigned)
	return unsigned, signed
}

// hashESL is hash-to-efi-sig-list's list of the image's SHA-256.
func hashESL(t *testing.T, image string) string {
	t.Helper()
	out := image + ".hash.esl"
	run(t, "hash-to-efi-sig-list", "efitools", image, out)
	return out
}

// TestAuthorize decides with databases made by efitools: db certificates
// in db order, dbx certificates, certificate digests and image hashes, and
// db image hashes.
func TestAuthorize(t *testing.T) {
	k := makeKeys(t)
	unsigned, signed := signedImage(t, k, "leaf")
	root, leaf, other := esl(t, k.crt("root")), esl(t, k.crt("leaf")), esl(t, k.crt("other"))
	leafHash := filepath.Join(k.dir, "leaf.hash.esl")
	run(t, "cert-to-efi-hash-list", "efitools", "-g", ownerText, "-s", "256", k.crt("leaf"), leafHash)
	rootHash := filepath.Join(k.dir, "root.hash.esl")
	run(t, "cert-to-efi-hash-list", "efitools", "-g", ownerText, "-s", "384", k.crt("root"), rootHash)
	signedHash, unsignedHash := hashESL(t, signed), hashESL(t, unsigned)
	// Another image's hash: systemd-boot (sbsign pads the image to 8 bytes,
	// which Authenticode then covers, so the signed and unsigned add-on
	// stubs may share a digest).
	otherImage := filepath.Join(k.dir, "other.efi")
	if err := os.WriteFile(otherImage, read(t, reftools.Locate(t).Path(t, "UKIBUILD_SYSTEMD_BOOT_262")), 0o644); err != nil {
		t.Fatal(err)
	}
	otherHash := hashESL(t, otherImage)

	// hash-to-efi-sig-list's digest is the image's Authenticode SHA-256.
	for _, c := range []struct{ image, list string }{{signed, signedHash}, {unsigned, unsignedHash}} {
		f, err := os.Open(c.image)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := f.Stat()
		d, err := sign.ImageDigest(f, st.Size(), crypto.SHA256)
		f.Close()
		es := readDB(t, c.list).Entries()
		if err != nil || len(es) != 1 || es[0].Type != secureboot.CertSHA256 || !bytes.Equal(es[0].Data, d) {
			t.Fatalf("%s: hash-to-efi-sig-list's entry %x, the image's digest %x (%v)", c.image, es[0].Data, d, err)
		}
	}

	// Signed twice: by "other", then by "leaf" (sbsign appends).
	twice := filepath.Join(k.dir, "twice.efi")
	run(t, "sbsign", "sbsigntool", "--key", k.key("other"), "--cert", k.crt("other"), "--output", filepath.Join(k.dir, "once.efi"), unsigned)
	run(t, "sbsign", "sbsigntool", "--key", k.key("leaf"), "--cert", k.crt("leaf"), "--output", twice, filepath.Join(k.dir, "once.efi"))

	type want struct {
		err    error  // a refusal reason, or nil
		entry  string // the authorizing entry's list file
		byHash bool
	}
	for _, c := range []struct {
		name    string
		image   string
		db, dbx []string
		want    want
	}{
		{"db signer", signed, []string{other, leaf}, nil, want{entry: leaf}},
		{"db root", signed, []string{other, root}, nil, want{entry: root}},
		{"db order: root first", signed, []string{root, leaf}, nil, want{entry: root}},
		{"db order: leaf first", signed, []string{leaf, root}, nil, want{entry: leaf}},
		{"not in db", signed, []string{other}, nil, want{err: secureboot.ErrNotAuthorized}},
		{"signed, by db hash", signed, []string{other, signedHash}, nil, want{entry: signedHash, byHash: true}},
		{"db cert before db hash", signed, []string{signedHash, leaf}, nil, want{entry: leaf}},
		{"image hash in dbx", signed, []string{leaf}, []string{signedHash}, want{err: secureboot.ErrHashInDBX}},
		{"signer in dbx", signed, []string{root}, []string{leaf}, want{err: secureboot.ErrCertificateInDBX}},
		{"chain certificate in dbx", signed, []string{leaf}, []string{root}, want{err: secureboot.ErrCertificateInDBX}},
		{"signer digest in dbx", signed, []string{root}, []string{leafHash}, want{err: secureboot.ErrCertificateHashInDBX}},
		{"db root's digest in dbx", signed, []string{root}, []string{rootHash}, want{err: secureboot.ErrNotAuthorized}},
		{"db root's digest in dbx, image hash in db", signed, []string{root, signedHash}, []string{rootHash}, want{entry: signedHash, byHash: true}},
		{"unrelated dbx", signed, []string{leaf}, []string{other, otherHash}, want{entry: leaf}},
		{"two signatures: the second authorizes", twice, []string{leaf}, nil, want{entry: leaf}},
		{"two signatures: the first authorizes", twice, []string{leaf, other}, nil, want{entry: other}},
		{"two signatures: the second is forbidden", twice, []string{other}, []string{root}, want{err: secureboot.ErrCertificateInDBX}},
		{"two signatures: the first is forbidden", twice, []string{leaf}, []string{other}, want{err: secureboot.ErrCertificateInDBX}},
		{"unsigned, by db hash", unsigned, []string{leaf, unsignedHash}, nil, want{entry: unsignedHash, byHash: true}},
		{"unsigned, not in db", unsigned, []string{leaf, otherHash}, nil, want{err: secureboot.ErrNotAuthorized}},
		{"unsigned, hash in dbx", unsigned, []string{unsignedHash}, []string{unsignedHash}, want{err: secureboot.ErrHashInDBX}},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, err := secureboot.AuthorizeFile(context.Background(), c.image, readDB(t, c.db...), readDB(t, c.dbx...))
			if c.want.err != nil {
				var r *secureboot.Refusal
				if !errors.Is(err, c.want.err) || !errors.As(err, &r) {
					t.Fatalf("got %v, want a refusal for %v", err, c.want.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantEntry := readDB(t, c.want.entry).Entries()[0]
			if len(res.Authorities) != 1 || !bytes.Equal(res.Authorities[0].SignatureData(), wantEntry.SignatureData()) || res.ByHash != c.want.byHash {
				t.Errorf("authorities %d, by hash %v; want the entry of %s", len(res.Authorities), res.ByHash, filepath.Base(c.want.entry))
			}
			if !c.want.byHash && (res.Signature == nil || !res.Signature.OK()) {
				t.Errorf("no authorizing signature reported")
			}
		})
	}

	// A cancelled context stops Authorize before it reads the image,
	// signed (sign.Verify) or not (the digests).
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, image := range []string{signed, unsigned} {
		if res, err := secureboot.AuthorizeFile(ctx, image, readDB(t, leaf, unsignedHash), readDB(t)); !errors.Is(err, context.Canceled) {
			t.Errorf("%s: AuthorizeFile with a cancelled context: %v, %v; want context.Canceled", image, res, err)
		}
	}
}
