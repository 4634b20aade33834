package keys

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ukibuild/ukibuild/internal/keypass"
)

const testPassphrase = "correct horse battery staple"

// openssl runs openssl (Debian package openssl); a missing one fails the
// test, never skips it.
func openssl(t testing.TB, args ...string) {
	t.Helper()
	p, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatal("openssl is missing: install the Debian package openssl (apt-get install -y openssl; .ci/deps.sh does)")
	}
	if out, err := exec.Command(p, args...).CombinedOutput(); err != nil {
		t.Fatalf("openssl %v: %v\n%s", args, err, out)
	}
}

func write(t testing.TB, dir, name string, data []byte, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// plainKey writes an unencrypted RSA key and returns its path and the key.
func plainKey(t testing.TB, dir string) (string, crypto.Signer) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return write(t, dir, "plain.key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600), k
}

func constPass(p string) func(string) ([]byte, error) {
	return func(string) ([]byte, error) { return []byte(p), nil }
}

// TestEncryptedKeys decrypts keys that OpenSSL encrypted with each
// supported PBES2 cipher and PRF, and refuses the unsupported kinds with
// a message that says what to do.
func TestEncryptedKeys(t *testing.T) {
	dir := t.TempDir()
	plain, want := plainKey(t, dir)
	passFile := write(t, dir, "pass", []byte(testPassphrase+"\n"), 0o600)
	encrypt := func(name string, args ...string) string {
		out := filepath.Join(dir, name+".key")
		openssl(t, append([]string{"pkcs8", "-topk8", "-in", plain, "-out", out, "-passout", "file:" + passFile}, args...)...)
		return out
	}
	for _, c := range []struct {
		name string
		args []string
	}{
		{"aes-256-cbc", []string{"-v2", "aes-256-cbc"}},
		{"aes-128-cbc-sha512", []string{"-v2", "aes-128-cbc", "-v2prf", "hmacWithSHA512", "-iter", "1000"}},
		{"aes-192-cbc-sha1", []string{"-v2", "aes-192-cbc", "-v2prf", "hmacWithSHA1"}},
		{"des3-sha384", []string{"-v2", "des3", "-v2prf", "hmacWithSHA384"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := encrypt(c.name, c.args...)
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			got, err := parsePrivateKey(data, p, constPass(testPassphrase))
			if err != nil {
				t.Fatal(err)
			}
			if !want.Public().(*rsa.PublicKey).Equal(got.Public()) {
				t.Fatal("decrypted a different key")
			}
			_, err = parsePrivateKey(data, p, constPass("wrong"))
			if err == nil || !strings.Contains(err.Error(), "wrong passphrase") || !strings.Contains(err.Error(), p) {
				t.Fatalf("wrong passphrase: %v", err)
			}
		})
	}

	// The passphrase comes from a file or the environment, never a flag.
	enc := encrypt("env", "-v2", "aes-256-cbc")
	t.Setenv(keypass.EnvPassphraseFile, passFile)
	if _, err := PrivateKey(enc, keypass.Passphrase); err != nil {
		t.Errorf("with $%s: %v", keypass.EnvPassphraseFile, err)
	}
	t.Setenv(keypass.EnvPassphraseFile, filepath.Join(dir, "missing"))
	if _, err := PrivateKey(enc, keypass.Passphrase); err == nil || !strings.Contains(err.Error(), keypass.EnvPassphraseFile) || !strings.Contains(err.Error(), enc) {
		t.Errorf("missing passphrase file: %v", err)
	}
	t.Setenv(keypass.EnvPassphraseFile, "")
	t.Setenv(keypass.EnvPassphrase, testPassphrase)
	if _, err := PrivateKey(enc, keypass.Passphrase); err != nil {
		t.Errorf("with $%s: %v", keypass.EnvPassphrase, err)
	}
	t.Setenv(keypass.EnvPassphrase, "not it")
	if _, err := PrivateKey(enc, keypass.Passphrase); err == nil || strings.Contains(err.Error(), "not it") {
		t.Errorf("wrong passphrase from the environment: %v", err)
	}

	for _, c := range []struct {
		name string
		mk   func() string
		want string
	}{
		{"scrypt", func() string { return encrypt("scrypt", "-scrypt") }, "scrypt, which is not supported"},
		{"legacy PEM encryption", func() string {
			out := filepath.Join(dir, "legacy.key")
			openssl(t, "rsa", "-in", plain, "-out", out, "-aes256", "-traditional", "-passout", "file:"+passFile)
			return out
		}, "legacy OpenSSL PEM encryption"},
		{"PBES1", func() string { return encrypt("pbes1", "-v1", "PBE-SHA1-3DES") }, "not PBES2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := c.mk()
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			_, err = parsePrivateKey(data, p, constPass(testPassphrase))
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), p) {
				t.Fatalf("error %v, want one naming %s and containing %q", err, p, c.want)
			}
		})
	}
}

func selfSigned(t testing.TB, key crypto.Signer) []byte {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "t"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// TestWrongFileTypes: each loader names the file and what it found.
func TestWrongFileTypes(t *testing.T) {
	dir := t.TempDir()
	keyPath, key := plainKey(t, dir)
	keyPEM, _ := os.ReadFile(keyPath)
	certPEM := selfSigned(t, key)
	cert := write(t, dir, "cert.pem", certPEM, 0o644)
	der := write(t, dir, "key.der", bytes.Repeat([]byte{0x30, 0x82}, 100), 0o600)
	empty := write(t, dir, "empty", nil, 0o600)
	both := write(t, dir, "both.pem", append(append([]byte{}, certPEM...), keyPEM...), 0o600)
	pubDER, _ := x509.MarshalPKIXPublicKey(key.Public())
	pub := write(t, dir, "pub.pem", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o644)
	garbled := write(t, dir, "garbled.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("garbage")}), 0o600)

	if _, err := PrivateKey(both, nil); err != nil {
		t.Errorf("a key after a certificate in one file: %v", err)
	}
	if _, err := Certificate(both); err != nil {
		t.Errorf("a certificate before a key in one file: %v", err)
	}
	for _, c := range []struct {
		name string
		load func(string) error
		path string
		want string
	}{
		{"certificate as private key", func(p string) error { _, err := PrivateKey(p, nil); return err }, cert, `no private key in the file, only PEM "CERTIFICATE"`},
		{"public key as private key", func(p string) error { _, err := PrivateKey(p, nil); return err }, pub, `only PEM "PUBLIC KEY"`},
		{"DER private key", func(p string) error { _, err := PrivateKey(p, nil); return err }, der, "no PEM block found"},
		{"empty private key", func(p string) error { _, err := PrivateKey(p, nil); return err }, empty, "no PEM block found"},
		{"garbled private key", func(p string) error { _, err := PrivateKey(p, nil); return err }, garbled, `the PEM "PRIVATE KEY" block does not hold a valid PKCS#8 key`},
		{"missing private key", func(p string) error { _, err := PrivateKey(p, nil); return err }, filepath.Join(dir, "nope"), "no such file"},
		{"key as certificate", func(p string) error { _, err := Certificate(p); return err }, keyPath, `no certificate in the file, only PEM "PRIVATE KEY"`},
		{"key as public key", func(p string) error { _, err := PublicKey(p); return err }, keyPath, `no public key in the file, only PEM "PRIVATE KEY"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.load(c.path)
			if err == nil || !strings.Contains(err.Error(), c.path) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one naming %s and containing %q", err, c.path, c.want)
			}
		})
	}
}

func TestPermissionWarning(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		mode os.FileMode
		want string
	}{
		{0o600, ""},
		{0o400, ""},
		{0o620, ""},
		{0o640, "readable by its group (mode 0640)"},
		{0o604, "readable by all other users (mode 0604)"},
		{0o644, "readable by its group and all other users (mode 0644)"},
	} {
		p := write(t, dir, "k", []byte("x"), c.mode)
		got := PermissionWarning(p)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) || (got != "" && !strings.Contains(got, p)) {
			t.Errorf("mode %#o: warning %q, want %q", c.mode, got, c.want)
		}
	}
	if w := PermissionWarning(filepath.Join(dir, "missing")); w != "" {
		t.Errorf("missing file: %q", w)
	}
}

// FuzzPrivateKey feeds arbitrary files to the private key reader, with
// encrypted PKCS#8 structures in the corpus: no panic, errors name the file
// and never contain the passphrase (unless the file itself does).
func FuzzPrivateKey(f *testing.F) {
	old := maxIterations
	maxIterations = 1000 // keep each input fast
	f.Cleanup(func() { maxIterations = old })
	dir := f.TempDir()
	plain, _ := plainKey(f, dir)
	data, err := os.ReadFile(plain)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	passFile := write(f, dir, "pass", []byte(testPassphrase), 0o600)
	for _, args := range [][]string{{"-v2", "aes-128-cbc", "-iter", "1"}, {"-v2", "des3", "-v2prf", "hmacWithSHA512", "-iter", "2"}} {
		out := filepath.Join(dir, "enc.key")
		openssl(f, append([]string{"pkcs8", "-topk8", "-in", plain, "-out", out, "-passout", "file:" + passFile}, args...)...)
		b, err := os.ReadFile(out)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		block, _ := pem.Decode(b)
		f.Add(block.Bytes) // DER, for the mutator to work on
	}
	f.Add([]byte("-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, in := range [][]byte{b, pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: b})} {
			s, err := parsePrivateKey(in, "fuzz.key", constPass(testPassphrase))
			if err != nil {
				if !strings.Contains(err.Error(), "fuzz.key") {
					t.Fatalf("error %q does not name the file", err)
				}
				if strings.Contains(err.Error(), testPassphrase) && !bytes.Contains(in, []byte(testPassphrase)) {
					t.Fatalf("error %q contains the passphrase", err)
				}
				if errors.Is(err, errDecrypt) && strings.Contains(err.Error(), "x509") {
					t.Fatalf("error %q tells more than that decryption failed", err)
				}
				continue
			}
			if s == nil || s.Public() == nil {
				t.Fatal("no key and no error")
			}
		}
	})
}

// TestEncryptedWithoutPassphrase: an encrypted key with no passphrase
// source is refused with ErrEncrypted, naming the file.
func TestEncryptedWithoutPassphrase(t *testing.T) {
	dir := t.TempDir()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	plain := write(t, dir, "plain.key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	enc := filepath.Join(dir, "enc.key")
	if out, err := exec.Command("openssl", "pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in", plain, "-out", enc, "-passout", "pass:"+testPassphrase).CombinedOutput(); err != nil {
		t.Fatalf("openssl pkcs8: %v\n%s", err, out)
	}
	if _, err := PrivateKey(enc, nil); !errors.Is(err, ErrEncrypted) || !strings.Contains(err.Error(), enc) {
		t.Errorf("encrypted key without a passphrase: %v", err)
	}
	if _, err := PrivateKey(plain, nil); err != nil {
		t.Errorf("plain key: %v", err)
	}
}
