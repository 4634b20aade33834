package shim_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"debug/pe"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ukibuild/ukibuild/eventlog"
	"github.com/ukibuild/ukibuild/internal/reftools"
	"github.com/ukibuild/ukibuild/pcr"
	"github.com/ukibuild/ukibuild/shim"
	"github.com/ukibuild/ukibuild/sign"
	"github.com/ukibuild/ukibuild/uefi"
)

// objcopySection returns a section of file as GNU objcopy (binary:
// objcopy for x86-64 images, aarch64-linux-gnu-objcopy for arm64 ones)
// extracts it; binutils resolves the long section names through the
// string table.
func objcopySection(t *testing.T, objcopy, file, name string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "section")
	if b, err := exec.Command(objcopy, "-O", "binary", "--only-section="+name, file, out).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", objcopy, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestReadDebianShim161 reads bookworm's shim-unsigned 16.1 for x86-64
// (shimx64.efi) and arm64 (shimaa64.efi) and checks what it found against
// the Debian package's version, objcopy's view of the sections (the host's
// objcopy does not know arm64 PE images: binutils-aarch64-linux-gnu's
// does) and openssl's of the vendor certificate. The two builds carry the
// same vendor certificate but different built-in dbx lists (Debian's
// per-architecture revocations), so MokListX differs between them.
func TestReadDebianShim161(t *testing.T) {
	tools := reftools.Locate(t)
	var dbx [][]byte
	for _, c := range []struct{ arch, key, objcopy string }{
		{"x64", "UKIBUILD_SHIM_161", "objcopy"},
		{"aa64", "UKIBUILD_SHIM_161_AA64", "aarch64-linux-gnu-objcopy"},
	} {
		t.Run(c.arch, func(t *testing.T) {
			path := tools.Path(t, c.key)
			if _, err := exec.LookPath(c.objcopy); err != nil {
				t.Fatalf("the reference %s: %v", c.objcopy, err)
			}
			b, err := shim.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			// The package version (fetch.sh's marker) is upstream-debianrevision.
			markers, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "../../../.deb-shim-unsigned*"))
			if len(markers) != 1 {
				t.Fatalf("fetch.sh's package marker next to %s: %q", path, markers)
			}
			marker, err := os.ReadFile(markers[0])
			if err != nil {
				t.Fatal(err)
			}
			upstream, _, _ := strings.Cut(strings.TrimSpace(string(marker)), "-")
			if b.Version != upstream || b.Version != "16.1" {
				t.Errorf("version %q; the package is %q", b.Version, marker)
			}
			level := objcopySection(t, c.objcopy, path, ".sbatlevel")
			if !bytes.HasSuffix(bytes.TrimRight(level, "\x00"), []byte(b.SbatLevelAutomatic+"\x00"+b.SbatLevelLatest)) ||
				!strings.HasPrefix(b.SbatLevelAutomatic, "sbat,1,") || !strings.HasPrefix(b.SbatLevelLatest, "sbat,1,") {
				t.Errorf("SBAT levels %q, %q; objcopy's .sbatlevel %q", b.SbatLevelAutomatic, b.SbatLevelLatest, level)
			}
			if want := string(bytes.TrimRight(objcopySection(t, c.objcopy, path, ".sbat"), "\x00")); b.SBAT != want {
				t.Errorf(".sbat %q, objcopy's %q", b.SBAT, want)
			}
			ident := objcopySection(t, c.objcopy, path, ".data.ident")
			if !bytes.Contains(ident, []byte("$Version: "+b.Version+" $")) {
				t.Errorf("version %q; objcopy's .data.ident %q", b.Version, ident)
			}
			vc := objcopySection(t, c.objcopy, path, ".vendor_cert")
			if len(b.VendorCert) == 0 || !bytes.Contains(vc, b.VendorCert) || len(b.VendorDBX) == 0 || !bytes.Contains(vc, b.VendorDBX) || b.VendorDB != nil {
				t.Errorf("vendor certificate %d bytes, dbx %d bytes, db %d bytes: not the parts of objcopy's .vendor_cert (%d bytes)",
					len(b.VendorCert), len(b.VendorDBX), len(b.VendorDB), len(vc))
			}
			// The table's sizes account for the whole section: nothing of
			// it is left unread.
			if len(vc) != 16+len(b.VendorCert)+len(b.VendorDBX) {
				t.Errorf("objcopy's .vendor_cert has %d bytes; the 16-byte table, the certificate (%d) and the dbx (%d) make %d",
					len(vc), len(b.VendorCert), len(b.VendorDBX), 16+len(b.VendorCert)+len(b.VendorDBX))
			}
			dbx = append(dbx, b.VendorDBX)
			cert := filepath.Join(t.TempDir(), "vendor.der")
			if err := os.WriteFile(cert, b.VendorCert, 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command("openssl", "x509", "-inform", "DER", "-in", cert, "-noout", "-subject").CombinedOutput()
			if err != nil || !strings.Contains(string(out), "Debian Secure Boot CA") {
				t.Errorf("openssl x509 on the vendor certificate: %v\n%s", err, out)
			}
			boot, err := shim.NewBoot(b, shim.Machine{SecureBoot: true, Banks: []pcr.Bank{pcr.SHA256}})
			if err != nil {
				t.Fatalf("NewBoot: %v", err)
			}
			// PCR 14's MokListX event of a fresh install is the image's
			// own built-in dbx, as objcopy extracts it.
			found := false
			for _, ev := range boot.Startup() {
				d, _ := ev.Digest(pcr.SHA256)
				want := sha256.Sum256(b.VendorDBX)
				found = found || (ev.PCR == 14 && bytes.Equal(d, want[:]))
			}
			if !found {
				t.Errorf("no PCR 14 event of the built-in dbx's digest")
			}
		})
	}
	if len(dbx) == 2 && bytes.Equal(dbx[0], dbx[1]) {
		t.Errorf("shimx64.efi and shimaa64.efi have the same built-in dbx: the test shows nothing per architecture")
	}
}

// TestVersionRefused: the same shim claiming another version is refused,
// and a PE image that is not shim is told apart from a malformed shim.
func TestVersionRefused(t *testing.T) {
	tools := reftools.Locate(t)
	data, err := os.ReadFile(tools.Path(t, "UKIBUILD_SHIM_161"))
	if err != nil {
		t.Fatal(err)
	}
	changed := bytes.Replace(data, []byte("$Version: 16.1 $"), []byte("$Version: 16.9 $"), 1)
	if bytes.Equal(changed, data) {
		t.Fatal(`no "$Version: 16.1 $" in the image`)
	}
	b, err := shim.Read(bytes.NewReader(changed), int64(len(changed)))
	if err != nil {
		t.Fatal(err)
	}
	_, err = shim.NewBoot(b, shim.Machine{SecureBoot: true})
	var ve *shim.VersionError
	if !errors.As(err, &ve) || ve.Version != "16.9" || !strings.Contains(err.Error(), "not examined") {
		t.Errorf("NewBoot of shim 16.9: %v, want a *VersionError", err)
	}
	_, err = shim.Open(tools.Path(t, "UKIBUILD_SYSTEMD_BOOT_262"))
	if !errors.Is(err, shim.ErrNotShim) || !errors.Is(err, shim.ErrFormat) {
		t.Errorf("Open(systemd-boot): %v, want ErrNotShim", err)
	}
	_, err = shim.Read(bytes.NewReader(data[:4096]), 4096)
	if err == nil || errors.Is(err, shim.ErrNotShim) {
		t.Errorf("Read of a truncated shim: %v, want an error other than ErrNotShim", err)
	}
}

// testKey is a code signing key and its self-signed certificate.
type testKey struct {
	key  *rsa.PrivateKey
	cert *x509.Certificate
}

func newTestKey(t *testing.T, cn string) testKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{k, c}
}

// TestVerifyAuthorities: MokManager (which has a .sbat section) signed by
// a db key, by a MOK, and by neither, verified by shim 16.1 on a machine
// whose db holds the first and whose MokList the second: the authority
// shim logs is "db", then "MokListRT" (its MokListRT holds its vendor
// certificate's list and then MokList), and the third is refused. Each
// authority is logged once per boot.
func TestVerifyAuthorities(t *testing.T) {
	tools := reftools.Locate(t)
	bin, err := shim.Open(tools.Path(t, "UKIBUILD_SHIM_161"))
	if err != nil {
		t.Fatal(err)
	}
	mm := tools.Path(t, "UKIBUILD_SHIM_161_MM")
	dbKey, mokKey, other := newTestKey(t, "db"), newTestKey(t, "mok"), newTestKey(t, "other")
	owner := uefi.GUID{1, 2, 3}
	m := shim.Machine{SecureBoot: true, Banks: []pcr.Bank{pcr.SHA256},
		DB:        eventlog.X509SignatureList(owner, dbKey.cert.Raw),
		Variables: shim.Variables{MokList: eventlog.X509SignatureList(shim.LockGUID(), mokKey.cert.Raw)}}
	boot, err := shim.NewBoot(bin, m)
	if err != nil {
		t.Fatal(err)
	}
	if rt := boot.MokListRT(); !bytes.Equal(rt, append(eventlog.X509SignatureList(shim.LockGUID(), bin.VendorCert), m.Variables.MokList...)) {
		t.Errorf("MokListRT is not the vendor certificate's list and MokList")
	}
	signed := func(k testKey) string {
		out := filepath.Join(t.TempDir(), "mm.efi")
		if err := sign.SignFile(context.Background(), mm, out, k.key, sign.Options{Certificate: k.cert}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	startup := boot.Startup()
	// A cancelled context: an error, no authority, and nothing measured
	// (the first db-signed image below still logs db's entry).
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if a, evs, err := boot.VerifyFile(cancelled, signed(dbKey)); !errors.Is(err, context.Canceled) || a != nil || len(evs) != 0 {
		t.Errorf("VerifyFile with a cancelled context: %v, %d events, %v; want context.Canceled", a, len(evs), err)
	}
	for _, c := range []struct {
		k         testKey
		variable  string
		guid      uefi.GUID
		owner     uefi.GUID
		newEvents int
	}{
		{dbKey, "db", uefi.ImageSecurityDatabase, owner, 1},
		{mokKey, "MokListRT", shim.LockGUID(), shim.LockGUID(), 1},
		{dbKey, "db", uefi.ImageSecurityDatabase, owner, 0}, // logged already
	} {
		a, evs, err := boot.VerifyFile(context.Background(), signed(c.k))
		if err != nil {
			t.Fatalf("%s: %v", c.variable, err)
		}
		data := eventlog.SignatureData(c.owner, c.k.cert.Raw)
		if a.Variable != c.variable || !bytes.Equal(a.Data, data) || len(evs) != c.newEvents {
			t.Errorf("authority %s (%d events), want %s (%d)", a.Variable, len(evs), c.variable, c.newEvents)
			continue
		}
		if c.newEvents == 1 {
			want := sha256.Sum256(eventlog.VariableData(c.guid, c.variable, data))
			if d, _ := evs[0].Digest(pcr.SHA256); evs[0].PCR != 7 || evs[0].Type != eventlog.EvEFIVariableAuthority || !bytes.Equal(d, want[:]) {
				t.Errorf("%s: event %v", c.variable, evs[0])
			}
		}
	}
	_, _, err = boot.VerifyFile(context.Background(), signed(other))
	if !errors.Is(err, shim.ErrRefused) {
		t.Errorf("an image signed by a key in neither db nor MokList: %v, want a refusal", err)
	}
	if len(startup) != 4 || boot.Startup() != nil {
		t.Errorf("Startup: %d events, then %d (want 4, then none)", len(startup), len(boot.Startup()))
	}
	// db ignored (MokDBState 1): the db-signed image is refused.
	m.Variables.MokDBState = []byte{1}
	boot, err = shim.NewBoot(bin, m)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := boot.VerifyFile(context.Background(), signed(dbKey)); !errors.Is(err, shim.ErrRefused) {
		t.Errorf("MokDBState 1, a db-signed image: %v, want a refusal", err)
	}
}

// TestDigestAllowedSBAT: shim 16.1's verify_buffer runs the SBAT check
// after Authenticode whatever authorized the image, so MokManager allowed
// by its SHA-256 digest in db is refused when the SbatLevel in force
// revokes the generation of a component in its .sbat (as objcopy extracts
// it), and the db entry that authorized it is measured all the same.
func TestDigestAllowedSBAT(t *testing.T) {
	tools := reftools.Locate(t)
	bin, err := shim.Open(tools.Path(t, "UKIBUILD_SHIM_161"))
	if err != nil {
		t.Fatal(err)
	}
	mm := tools.Path(t, "UKIBUILD_SHIM_161_MM")
	data, err := os.ReadFile(mm)
	if err != nil {
		t.Fatal(err)
	}
	d, err := sign.MeasuredImageDigest(bytes.NewReader(data), int64(len(data)), crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	owner := uefi.GUID{4, 5, 6}
	db, err := eventlog.SignatureList(uefi.CertSHA256, eventlog.SignatureData(owner, d))
	if err != nil {
		t.Fatal(err)
	}
	// The first component line of MokManager's .sbat after the header.
	lines := strings.Split(strings.TrimRight(string(objcopySection(t, "objcopy", mm, ".sbat")), "\x00\n"), "\n")
	if len(lines) < 2 {
		t.Fatalf("MokManager's .sbat: %q", lines)
	}
	f := strings.Split(lines[1], ",")
	gen, err := strconv.Atoi(f[1])
	if err != nil {
		t.Fatalf("MokManager's .sbat line %q: %v", lines[1], err)
	}
	for _, c := range []struct {
		level  string
		refuse bool
	}{
		{fmt.Sprintf("sbat,1,2099010100\n%s,%d\n", f[0], gen), false},
		{fmt.Sprintf("sbat,1,2099010100\n%s,%d\n", f[0], gen+1), true},
	} {
		boot, err := shim.NewBoot(bin, shim.Machine{SecureBoot: true, Banks: []pcr.Bank{pcr.SHA256}, DB: db,
			Variables: shim.Variables{SbatLevel: []byte(c.level)}})
		if err != nil {
			t.Fatal(err)
		}
		if boot.SbatLevel() != c.level {
			t.Fatalf("SbatLevel %q, want the variable's %q kept", boot.SbatLevel(), c.level)
		}
		// The context cancelled once the image is hashed, as shim's
		// SBAT check reads .sbat: an error, not a refusal.
		ctx, cancel := context.WithCancel(context.Background())
		if a, _, err := boot.Verify(ctx, "mm.efi", cancelAtEnd{bytes.NewReader(data), int64(len(data)), cancel}, int64(len(data))); !errors.Is(err, context.Canceled) || errors.Is(err, shim.ErrRefused) || a != nil {
			t.Errorf("level %q: Verify cancelled before the SBAT check: %v, %v; want context.Canceled", c.level, a, err)
		}
		boot, err = shim.NewBoot(bin, shim.Machine{SecureBoot: true, Banks: []pcr.Bank{pcr.SHA256}, DB: db,
			Variables: shim.Variables{SbatLevel: []byte(c.level)}})
		if err != nil {
			t.Fatal(err)
		}
		a, evs, err := boot.VerifyFile(context.Background(), mm)
		want := sha256.Sum256(eventlog.VariableData(uefi.ImageSecurityDatabase, "db", eventlog.SignatureData(owner, d)))
		if len(evs) != 1 {
			t.Fatalf("level %q: %d events, want db's entry", c.level, len(evs))
		}
		if got, _ := evs[0].Digest(pcr.SHA256); !bytes.Equal(got, want[:]) {
			t.Errorf("level %q: event %v, want db's digest entry", c.level, evs[0])
		}
		if c.refuse {
			if !errors.Is(err, shim.ErrRefused) || a != nil || !strings.Contains(err.Error(), "SBAT") {
				t.Errorf("level %q: %v, %v; want an SBAT refusal", c.level, a, err)
			}
		} else if err != nil || a == nil || a.Variable != "db" {
			t.Errorf("level %q: %v, %v; want db's authority", c.level, a, err)
		}
	}
}

// cancelAtEnd cancels a context once a read reaches the end of the data
// (the image is hashed): the reads after it fail.
type cancelAtEnd struct {
	r      io.ReaderAt
	size   int64
	cancel context.CancelFunc
}

func (c cancelAtEnd) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	if off+int64(n) >= c.size {
		c.cancel()
	}
	return n, err
}

// TestVariableError: a malformed shim variable is refused by NewBoot with
// a *VariableError naming it, whatever the image.
func TestVariableError(t *testing.T) {
	tools := reftools.Locate(t)
	bin, err := shim.Open(tools.Path(t, "UKIBUILD_SHIM_161"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		v    shim.Variables
	}{
		{"MokList", shim.Variables{MokList: []byte("garbage")}},
		{"MokListX", shim.Variables{MokListX: []byte("garbage")}},
		{"SbatPolicy", shim.Variables{SbatPolicy: []byte{1, 2}}},
		{"SbatLevel", shim.Variables{SbatLevel: []byte("sbat,1,2099010100\nbroken\n")}},
	} {
		_, err := shim.NewBoot(bin, shim.Machine{SecureBoot: true, Variables: c.v})
		var ve *shim.VariableError
		if !errors.As(err, &ve) || ve.Name != c.name || ve.Err == nil {
			t.Errorf("%s: %v, want a *VariableError naming it", c.name, err)
		}
	}
}

// TestInsecureModeRefused: MokSBState 01 under Secure Boot makes shim
// 16.1's secure_mode() false (user_insecure_mode): not examined, so
// refused; MokSBState 00, or 01 without Secure Boot, is predicted.
func TestInsecureModeRefused(t *testing.T) {
	tools := reftools.Locate(t)
	bin, err := shim.Open(tools.Path(t, "UKIBUILD_SHIM_161"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = shim.NewBoot(bin, shim.Machine{SecureBoot: true, Variables: shim.Variables{MokSBState: []byte{1}}})
	var ve *shim.VariableError
	if !errors.As(err, &ve) || ve.Name != "MokSBState" || !strings.Contains(err.Error(), "insecure mode") || !strings.Contains(err.Error(), "not examined") {
		t.Errorf("MokSBState 01 under Secure Boot: %v, want a *VariableError", err)
	}
	for _, c := range []struct {
		sb    bool
		state byte
	}{{true, 0}, {false, 1}} {
		if _, err := shim.NewBoot(bin, shim.Machine{SecureBoot: c.sb, Variables: shim.Variables{MokSBState: []byte{c.state}}}); err != nil {
			t.Errorf("Secure Boot %v, MokSBState %02x: %v", c.sb, c.state, err)
		}
	}
}

// TestHooksLoadImage: shim 16.1 hooks LoadImage under Secure Boot when it
// carries a vendor certificate, vendor db or built-in dbx (shim.c,
// shim_init), and not otherwise.
func TestHooksLoadImage(t *testing.T) {
	tools := reftools.Locate(t)
	bin, err := shim.Open(tools.Path(t, "UKIBUILD_SHIM_161"))
	if err != nil {
		t.Fatal(err)
	}
	bare := *bin
	bare.VendorCert, bare.VendorDBX = nil, nil
	dbxOnly := *bin
	dbxOnly.VendorCert = nil
	for _, c := range []struct {
		what string
		bin  *shim.Binary
		sb   bool
		want bool
	}{
		{"Debian's shim under Secure Boot", bin, true, true},
		{"Debian's shim without Secure Boot", bin, false, false},
		{"a shim with neither vendor certificate nor dbx", &bare, true, false},
		{"a shim with a built-in dbx only", &dbxOnly, true, true},
	} {
		boot, err := shim.NewBoot(c.bin, shim.Machine{SecureBoot: c.sb})
		if err != nil {
			t.Fatal(err)
		}
		if got := boot.HooksLoadImage(); got != c.want {
			t.Errorf("%s: HooksLoadImage %v, want %v", c.what, got, c.want)
		}
	}
}

// TestReadMalformedPE: a malformed PE image is a *shim.FormatError that
// keeps its cause, the *uefi.FormatError.
func TestReadMalformedPE(t *testing.T) {
	data := append([]byte("MZ"), make([]byte, 200)...)
	_, err := shim.Read(bytes.NewReader(data), int64(len(data)))
	var fe *uefi.FormatError
	var se *shim.FormatError
	if !errors.As(err, &se) || !errors.As(err, &fe) || !errors.Is(err, shim.ErrFormat) {
		t.Errorf("Read of a malformed PE image: %v (%T), want a *shim.FormatError wrapping a *uefi.FormatError", err, err)
	}
}

// eofReaderAt returns io.EOF with a read that fills its buffer and ends
// where a section's data ends, as an io.ReaderAt may when that is the end
// of its input: the data read is complete.
type eofReaderAt struct {
	r    *bytes.Reader
	ends map[int64]bool
}

func newEOFReaderAt(t *testing.T, data []byte) eofReaderAt {
	t.Helper()
	f, err := pe.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	e := eofReaderAt{bytes.NewReader(data), map[int64]bool{}}
	for _, s := range f.Sections {
		e.ends[int64(s.Offset)+int64(s.Size)] = true
		e.ends[int64(s.Offset)+int64(min(s.VirtualSize, s.Size))] = true
	}
	return e
}

func (e eofReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := e.r.ReadAt(p, off)
	if err == nil && e.ends[off+int64(n)] {
		err = io.EOF
	}
	return n, err
}

// TestReadEOFWithFullBuffer: shim 16.1's image read through an
// io.ReaderAt that reports io.EOF with complete reads of sections is read
// as through a bytes.Reader, and so is MokManager's .sbat when shim
// verifies it.
func TestReadEOFWithFullBuffer(t *testing.T) {
	tools := reftools.Locate(t)
	data, err := os.ReadFile(tools.Path(t, "UKIBUILD_SHIM_161"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := shim.Read(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	got, err := shim.Read(newEOFReaderAt(t, data), int64(len(data)))
	if err != nil {
		t.Fatalf("Read with io.EOF on full reads: %v", err)
	}
	if got.Version != want.Version || got.SBAT != want.SBAT || !bytes.Equal(got.VendorCert, want.VendorCert) {
		t.Errorf("Read with io.EOF on full reads differs")
	}
	k := newTestKey(t, "db")
	boot, err := shim.NewBoot(want, shim.Machine{SecureBoot: true, DB: eventlog.X509SignatureList(uefi.GUID{7}, k.cert.Raw)})
	if err != nil {
		t.Fatal(err)
	}
	signed := filepath.Join(t.TempDir(), "mm.efi")
	if err := sign.SignFile(context.Background(), tools.Path(t, "UKIBUILD_SHIM_161_MM"), signed, k.key, sign.Options{Certificate: k.cert}); err != nil {
		t.Fatal(err)
	}
	sd, err := os.ReadFile(signed)
	if err != nil {
		t.Fatal(err)
	}
	if a, _, err := boot.Verify(context.Background(), "mm.efi", newEOFReaderAt(t, sd), int64(len(sd))); err != nil || a == nil {
		t.Errorf("Verify with io.EOF on full reads: %v, %v", a, err)
	}
}

// TestLockGUID: SHIM_LOCK_GUID as rhboot/shim 16.1's include/guid.h and
// mokutil spell it, and no caller can change it.
func TestLockGUID(t *testing.T) {
	g := shim.LockGUID()
	if g.String() != "605dab50-e046-4300-abb6-3dd810dd8b23" {
		t.Errorf("LockGUID %s", g)
	}
	g[0] ^= 0xff
	if shim.LockGUID().String() != "605dab50-e046-4300-abb6-3dd810dd8b23" {
		t.Errorf("changing the returned GUID changed LockGUID")
	}
	if uefi.CertSHA1.String() != "826ca512-cf10-4ac9-b187-be01496631bd" {
		t.Errorf("CertSHA1 %s", uefi.CertSHA1)
	}
}
