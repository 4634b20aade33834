// Package softhsmtest is a test fixture: a SoftHSM2 token directory with RSA
// keys and a self-signed certificate made on the token, for the tests that
// sign with a real PKCS #11 token (sign/pkcs11, the Secure Boot boot tests in
// internal/e2e).
//
// The fixture lives in a private directory: its own SOFTHSM2_CONF and token
// directory, so the host's tokens are neither seen nor touched. Setup sets
// SOFTHSM2_CONF in the calling process (SoftHSM reads it at C_Initialize, in
// the test process and in the programs it starts alike).
//
// Tokens, all with the PIN [PIN]:
//
//	ukibuild-test ([Token]): RSA-2048 "signer" id 01 with a self-signed
//	    certificate (id 01, label "signer-cert", subject CN [CertCN]),
//	    RSA-2048 "nocert" id 02 with no certificate, EC P-256 "ec-key" id 03.
//	ukibuild-other ([OtherToken]): RSA-2048 "other" id 01.
//
// A missing SoftHSM2 (Debian package softhsm2, installed by .ci/deps.sh) is
// an error, never a reason to skip.
package softhsmtest

import (
	"crypto/x509"
	"os"
	"sync"
	"testing"
)

// The fixture's tokens, PIN and certificate subject.
const (
	PIN        = "1234-test"
	Token      = "ukibuild-test"
	OtherToken = "ukibuild-other"
	CertCN     = "ukibuild PKCS #11 test"
)

// DefaultModule is Debian's SoftHSM2 PKCS #11 module. The environment
// variable UKIBUILD_TEST_SOFTHSM_MODULE overrides it.
const DefaultModule = "/usr/lib/softhsm/libsofthsm2.so"

// Fixture is a set-up token directory.
type Fixture struct {
	Dir     string            // private directory holding everything below
	Conf    string            // the SOFTHSM2_CONF file
	Module  string            // the PKCS #11 module path
	Cert    *x509.Certificate // the "signer" key's self-signed certificate
	CertPEM string            // that certificate as a PEM file
}

// URI returns a pkcs11: URI with the given path attributes (such as
// "token=ukibuild-test;object=signer") and query attributes (such as
// "pin-value=..."; may be empty), naming the fixture's module.
func (f *Fixture) URI(path, query string) string {
	s := "pkcs11:" + path + "?module-path=" + f.Module
	if query != "" {
		s += "&" + query
	}
	return s
}

// SignerURI is the URI of the "signer" private key with its PIN.
func (f *Fixture) SignerURI() string {
	return f.URI("token="+Token+";object=signer;type=private", "pin-value="+PIN)
}

// Close removes the fixture's directory.
func (f *Fixture) Close() error {
	return os.RemoveAll(f.Dir)
}

var shared struct {
	once sync.Once
	f    *Fixture
	err  error
}

// Shared sets the fixture up once per test binary and returns it; it fails
// t (never skips) when that is not possible. Call RemoveShared from
// TestMain after the tests ran.
func Shared(t testing.TB) *Fixture {
	t.Helper()
	shared.once.Do(func() { shared.f, shared.err = Setup() })
	if shared.err != nil {
		t.Fatalf("SoftHSM2 fixture: %v", shared.err)
	}
	return shared.f
}

// RemoveShared removes the directory of the fixture Shared set up, if any.
func RemoveShared() {
	if shared.f != nil {
		_ = shared.f.Close()
	}
}
