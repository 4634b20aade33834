package pkcs11

import (
	"errors"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/ukibuild/ukibuild/sign"
)

// opensslPair makes a key (openssl req with the arguments alg) and a self-signed
// certificate with subject CN=cn in dir.
func opensslPair(t *testing.T, dir, name, cn string, alg ...string) (key, cert string) {
	t.Helper()
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatalf("openssl (Debian package openssl) is needed: %v", err)
	}
	key, cert = filepath.Join(dir, name+".key"), filepath.Join(dir, name+".crt")
	args := append(append([]string{"req", "-x509"}, alg...), "-nodes", "-keyout", key, "-out", cert, "-subj", "/CN="+cn, "-days", "30")
	if out, err := exec.Command(openssl, args...).CombinedOutput(); err != nil {
		t.Fatalf("openssl req: %v\n%s", err, out)
	}
	return key, cert
}

// TestOpenSigningKey: an RSA key and its openssl certificate open, with
// the certificate's subject and no warnings; an ECDSA key, another key's
// certificate and a PEM key without a certificate are refused, each with
// its defect.
func TestOpenSigningKey(t *testing.T) {
	dir := t.TempDir()
	rsaKey, rsaCert := opensslPair(t, dir, "rsa", "ukibuild signing key test", "-newkey", "rsa:2048")
	_, otherCert := opensslPair(t, dir, "other", "other", "-newkey", "rsa:2048")
	ecKey, ecCert := opensslPair(t, dir, "ec", "ec", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1")
	now := time.Now()

	k, err := OpenSigningKey(rsaKey, rsaCert, Options{}, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if k.Certificate.Subject.CommonName != "ukibuild signing key test" || len(k.Warnings) != 0 {
		t.Errorf("certificate %s, warnings %q", k.Certificate.Subject, k.Warnings)
	}
	if err := sign.CheckKeyMatches(k.Certificate, k.Signer.Public()); err != nil {
		t.Error(err)
	}

	var ke *SigningKeyError
	if _, err := OpenSigningKey(rsaKey, otherCert, Options{}, nil, now); !errors.As(err, &ke) || ke.Defect != DefectMismatch {
		t.Errorf("another key's certificate: %v", err)
	}
	if _, err := OpenSigningKey(rsaKey, "", Options{}, nil, now); !errors.Is(err, ErrCertificateNeeded) {
		t.Errorf("no certificate: %v", err)
	}
	if _, err := OpenSigningKey(ecKey, ecCert, Options{}, nil, now); !errors.As(err, &ke) || ke.Defect != DefectKey || !errors.Is(err, sign.ErrUnsupportedKey) {
		t.Errorf("ECDSA key: %v", err)
	}
}
