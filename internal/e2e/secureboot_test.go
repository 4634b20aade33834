package e2e

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-attestation/attest"

	"github.com/ukibuild/ukibuild/internal/pe"
	"github.com/ukibuild/ukibuild/internal/softhsmtest"
)

// virtFwVars enrolls keys into an OVMF varstore (Debian package
// python3-virt-firmware; .ci/deps.sh installs it from bookworm-backports).
const virtFwVars = "virt-fw-vars"

// ownerGUID owns the test's PK, KEK and db entries (any GUID will do).
const ownerGUID = "7ab1e5e2-0c3b-4b8e-9a51-1f0ddba11e55"

// testCert is a key pair with its self-signed certificate, both as PEM
// files.
type testCert struct {
	key, cert string
	c         *x509.Certificate
}

// secureBoot is the Secure Boot setup every boot shares: our own PK, KEK
// and db, enrolled in a copy of OVMF's varstore with Secure Boot on. db
// holds the db certificate and the SoftHSM2 token's certificate; "wrong"
// is a key whose certificate is in no variable.
type secureBoot struct {
	pk, kek, db, wrong *testCert
	hsm                *softhsmtest.Fixture
	hsmURI             string // the token's signing key, with a PIN file
	vars               string // the varstore template; each boot uses a copy
}

// newTestCert makes an RSA-2048 key and a self-signed certificate for it.
func newTestCert(dir, name, cn string) (*testCert, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	// A random serial of a fixed DER length (in [2^62, 2^63)): the
	// certificates' sizes, and so those of the signature lists and
	// MokList the boots measure, do not change from run to run.
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, err
	}
	serial.SetBit(serial, 62, 1)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"ukibuild boot tests"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(30 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		return nil, fmt.Errorf("certificate %s: %w", cn, err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	tc := &testCert{key: filepath.Join(dir, name+".key"), cert: filepath.Join(dir, name+".pem"), c: c}
	if err := os.WriteFile(tc.key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(tc.cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, err
	}
	return tc, nil
}

// newSecureBoot makes the keys, the SoftHSM2 token and the varstore in dir.
func newSecureBoot(dir string) (*secureBoot, error) {
	sb := &secureBoot{vars: filepath.Join(dir, "OVMF_VARS_4M.ukibuild-e2e.fd")}
	var err error
	for _, k := range []struct {
		p        **testCert
		name, cn string
	}{
		{&sb.pk, "pk", "ukibuild e2e PK"},
		{&sb.kek, "kek", "ukibuild e2e KEK"},
		{&sb.db, "db", "ukibuild e2e db"},
		{&sb.wrong, "wrong", "ukibuild e2e key not in db"},
	} {
		if *k.p, err = newTestCert(dir, k.name, k.cn); err != nil {
			return nil, err
		}
	}
	if sb.hsm, err = softhsmtest.Setup(); err != nil {
		return nil, fmt.Errorf("SoftHSM2 token: %w", err)
	}
	pinFile := filepath.Join(dir, "token.pin")
	if err := os.WriteFile(pinFile, []byte(softhsmtest.PIN+"\n"), 0o600); err != nil {
		return sb, err
	}
	sb.hsmURI = sb.hsm.URI("token="+softhsmtest.Token+";object=signer;type=private", "pin-source=file:"+pinFile)
	cmd := exec.Command(virtFwVars, "--input", ovmfVars, "--output", sb.vars,
		"--set-pk", ownerGUID, sb.pk.cert, "--add-kek", ownerGUID, sb.kek.cert,
		"--add-db", ownerGUID, sb.db.cert, "--add-db", ownerGUID, sb.hsm.CertPEM, "--secure-boot")
	if out, err := cmd.CombinedOutput(); err != nil {
		return sb, fmt.Errorf("enrolling the test keys with %s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
	}
	return sb, nil
}

// buildSigned runs "ukibuild build args..." into efi, signed for Secure
// Boot by the build itself with key (the db key unless told otherwise).
func (e *env) buildSigned(t *testing.T, efi string, key *testCert, args ...string) {
	t.Helper()
	e.run(t, slices.Concat(args, []string{"--secureboot-private-key", key.key, "--secureboot-certificate", key.cert, "--output", efi})...)
}

// checkSecureBoot replays PCR 7 of the guest's event log against the value
// the guest read from the TPM and checks what the firmware measured there:
// Secure Boot on, our PK, KEK and db, and the UKI authorized by signer's
// db entry; and that the kernel saw Secure Boot on. It records one row
// under name.
func (e *env) checkSecureBoot(t *testing.T, name string, res *bootResult, signer *x509.Certificate) {
	t.Helper()
	expected := fmt.Sprintf("on (firmware, kernel); PK, KEK, db ours; UKI authorized by %q", signer.Subject.CommonName)
	seen, err := e.secureBootState(res, signer)
	if err == nil && !res.kernelSB {
		err = fmt.Errorf(`the kernel did not log "secureboot: Secure boot enabled"`)
	}
	seen = fmt.Sprintf("kernel: %v; %s", res.kernelSB, seen)
	record(t, name, "Secure Boot (event log, PCR 7)", expected, seen, err == nil)
	if err != nil {
		t.Errorf("%s: Secure Boot state: %v (serial log %s)", name, err, res.serial)
	}
}

func (e *env) secureBootState(res *bootResult, signer *x509.Certificate) (string, error) {
	el, err := attest.ParseEventLog(res.evlog)
	if err != nil {
		return "no event log", fmt.Errorf("parsing the event log: %w", err)
	}
	pcr7, err := hex.DecodeString(res.pcr7["sha256"])
	if err != nil || len(pcr7) != 32 {
		return "no PCR 7", fmt.Errorf("the guest printed no sha256 PCR 7 (%q)", res.pcr7["sha256"])
	}
	events, err := el.Verify([]attest.PCR{{Index: 7, Digest: pcr7, DigestAlg: crypto.SHA256}})
	if err != nil {
		return "PCR 7 replay fails", fmt.Errorf("replaying PCR 7 against the TPM's %x: %w", pcr7, err)
	}
	st, err := attest.ParseSecurebootState(events)
	if err != nil {
		return "unparsable PCR 7 events", fmt.Errorf("PCR 7 events: %w", err)
	}
	var authorities []string
	authorized := false
	for _, c := range st.PostSeparatorAuthority {
		authorities = append(authorities, fmt.Sprintf("%q", c.Subject.CommonName))
		authorized = authorized || c.Equal(signer)
	}
	seen := fmt.Sprintf("firmware: %v; PK %s, KEK %s, db %s; authorities %s", st.Enabled,
		certNames(st.PlatformKeys), certNames(st.ExchangeKeys), certNames(st.PermittedKeys), strings.Join(authorities, ", "))
	switch {
	case !st.Enabled:
		return seen, fmt.Errorf("the firmware measured SecureBoot=0")
	case !sameCerts(st.PlatformKeys, e.sb.pk.c):
		return seen, fmt.Errorf("PK is not the test PK")
	case !sameCerts(st.ExchangeKeys, e.sb.kek.c):
		return seen, fmt.Errorf("KEK is not the test KEK")
	case !sameCerts(st.PermittedKeys, e.sb.db.c, e.sb.hsm.Cert):
		return seen, fmt.Errorf("db is not the test db and token certificates")
	case !authorized:
		return seen, fmt.Errorf("no EV_EFI_VARIABLE_AUTHORITY event names %q", signer.Subject.CommonName)
	}
	return seen, nil
}

func certNames(cs []x509.Certificate) string {
	var names []string
	for _, c := range cs {
		names = append(names, fmt.Sprintf("%q", c.Subject.CommonName))
	}
	return "[" + strings.Join(names, " ") + "]"
}

// sameCerts reports whether got holds exactly want, in order.
func sameCerts(got []x509.Certificate, want ...*x509.Certificate) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if !bytes.Equal(got[i].Raw, want[i].Raw) {
			return false
		}
	}
	return true
}

// ukiArgs are the build arguments of the boot tests' plain UKI.
func (e *env) ukiArgs(t *testing.T, version string) []string {
	return []string{"build", "--stub", e.tools.Path(t, "UKIBUILD_STUB_"+version), "--linux", e.tools.Path(t, "UKIBUILD_KERNEL"),
		"--initrd", e.initrd, "--cmdline", "console=ttyS0 panic=-1", "--os-release", "ID=ukibuild-e2e"}
}

// TestSecureBootRefusesUntrustedUKI (case 3): the firmware refuses a UKI
// built and signed by ukibuild once its signature is removed, and once it
// is replaced by one of a key that is not in db ("Access Denied"
// from the boot manager, and nothing of the image runs). ukibuild verify
// against the db certificates predicts both refusals.
func TestSecureBootRefusesUntrustedUKI(t *testing.T) {
	e := setup(t)
	dir := e.workDir(t)
	signed := filepath.Join(dir, "uki.efi")
	e.buildSigned(t, signed, e.sb.db, e.ukiArgs(t, "262")...)
	// The other two are this UKI with its signature removed, and with it
	// replaced by one of the key not in db: the same bytes but for the
	// signature. The db-signed one (the control: case 1 boots one like
	// it) passes ukibuild's EDK2-rule check; the other two fail it.
	unsigned := filepath.Join(dir, "uki.unsigned.efi")
	if err := stripSignature(signed, unsigned); err != nil {
		t.Fatal(err)
	}
	wrong := filepath.Join(dir, "uki.wrong-key.efi")
	e.run(t, "sign", signed, "-o", wrong, "--replace", "--key", e.sb.wrong.key, "--cert", e.sb.wrong.cert)
	if out, err := e.verify(signed); err != nil {
		t.Fatalf("ukibuild verify of the db-signed UKI: %v\n%s", err, out)
	}
	for _, c := range []struct{ sub, name, efi string }{
		{"unsigned", "3 unsigned UKI", unsigned},
		{"wrong-key", "3 UKI signed, key not in db", wrong},
	} {
		t.Run(c.sub, func(t *testing.T) {
			out, verr := e.verify(c.efi)
			record(t, c.name, "ukibuild verify against db", "fails", verdict(out), verr != nil)
			if verr == nil {
				t.Errorf("%s: ukibuild verify accepted it against db:\n%s", c.name, out)
			}
			r := e.qemu(t, c.efi, newTPMState(t, e.workDir(t)), 10*time.Minute)
			checkRefused(t, c.name, "firmware", `refused: "Access Denied"`, "", r)
		})
	}
}

// TestSecureBootPKCS11SignedUKIBoots (case 4): the UKI signed by "ukibuild
// sign" with the SoftHSM2 token's key (certificate from the token, PIN
// from a file) boots; the firmware names the token's certificate as the
// authority and PCR 11 is still the prediction.
func TestSecureBootPKCS11SignedUKIBoots(t *testing.T) {
	e := setup(t)
	const name = "4 UKI signed on PKCS#11 token"
	dir := e.workDir(t)
	unsigned := filepath.Join(dir, "uki.unsigned.efi")
	e.run(t, slices.Concat(e.ukiArgs(t, "262"), []string{"--output", unsigned})...)
	efi := filepath.Join(dir, "uki.pkcs11.efi")
	e.run(t, "sign", unsigned, "-o", efi, "--key", e.sb.hsmURI)
	out, err := e.verify(efi)
	ok := err == nil && strings.Contains(out, "CN="+softhsmtest.CertCN)
	seen, _, _ := strings.Cut(out, "\n")
	record(t, name, "ukibuild verify against db", fmt.Sprintf("ok, signer CN=%s", softhsmtest.CertCN), seen, ok)
	if !ok {
		t.Errorf("ukibuild verify of the token-signed UKI: %v\n%s", err, out)
	}
	want := parseCalculate(e.run(t, "measure", efi, "--bank=sha256", "--phase=:"))
	res := e.boot(t, efi)
	e.checkSecureBoot(t, name, res, e.sb.hsm.Cert)
	ok = want["sha256"] != "" && res.pcr11["sha256"] == want["sha256"]
	record(t, name, "PCR 11 sha256", want["sha256"], res.pcr11["sha256"], ok)
	if !ok {
		t.Errorf("PCR 11 sha256: predicted %s, the TPM has %s (serial log %s)", want["sha256"], res.pcr11["sha256"], res.serial)
	}
}

// stripSignature writes in without its certificate table (its Authenticode
// signatures): the file cut where the table began, the security directory
// entry zeroed and the PE checksum recomputed.
func stripSignature(in, out string) error {
	b, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	f, err := pe.Parse(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	dir, ok := f.Security()
	entry, hasEntry := f.SecurityDirOffset()
	if !ok || !hasEntry || dir.Size == 0 {
		return fmt.Errorf("%s has no certificate table", in)
	}
	if int64(dir.VirtualAddress)+int64(dir.Size) != int64(len(b)) {
		return fmt.Errorf("%s: the certificate table (%d bytes at %d) does not end the file (%d bytes)", in, dir.Size, dir.VirtualAddress, len(b))
	}
	b = b[:dir.VirtualAddress]
	clear(b[entry : entry+8])
	sum, err := pe.ComputeChecksum(bytes.NewReader(b), int64(len(b)), f.ChecksumOffset())
	if err != nil {
		return err
	}
	binary.LittleEndian.PutUint32(b[f.ChecksumOffset():], sum)
	return os.WriteFile(out, b, 0o644)
}

// verify runs "ukibuild verify efi" against the db certificates.
func (e *env) verify(efi string) (string, error) {
	out, err := exec.Command(e.ukibuild, "verify", efi, "--cert", e.sb.db.cert, "--cert", e.sb.hsm.CertPEM).CombinedOutput()
	return string(out), err
}

// verdict shortens ukibuild verify's output to its reason: the text after
// "FAILED: ", else after the last ": " of the last line.
func verdict(out string) string {
	out = strings.TrimSpace(out)
	if _, after, ok := strings.Cut(out, "FAILED: "); ok {
		l, _, _ := strings.Cut(after, "\n")
		return "fails: " + l
	}
	lines := strings.Split(out, "\n")
	last := lines[len(lines)-1]
	if i := strings.LastIndex(last, ": "); i >= 0 {
		last = last[i+2:]
	}
	return last
}

// checkRefused records a refusal check: the boot r ended in a refusal
// (one containing want; any when want is "") before the image ran, the
// expected refusal described by expected.
func checkRefused(t *testing.T, name, check, expected, want string, r *qemuRun) {
	t.Helper()
	ran := strings.Contains(string(r.log), "EFI stub:") || strings.Contains(string(r.log), "UKIBUILD-E2E")
	ok := r.refusal != "" && strings.Contains(r.refusal, want) && !ran
	seen := r.refusal
	switch {
	case ran:
		seen = "the image ran"
	case r.refusal == "":
		seen = fmt.Sprintf("no refusal (qemu: %v)", r.err)
	}
	record(t, name, check, expected, seen, ok)
	if !ok {
		t.Errorf("%s: %s: want %s and nothing run; %s; serial log %s, its tail:\n%s", name, check, expected, seen, r.serial, tail(r.log))
	}
}
