package pkcs11

import (
	"crypto"
	"crypto/x509"
	"errors"
	"time"

	"github.com/ukibuild/ukibuild/keys"
	"github.com/ukibuild/ukibuild/sign"
)

// SigningKey is a Secure Boot (Authenticode) signing key with its
// certificate, as OpenSigningKey opens them.
type SigningKey struct {
	// Signer is the private key: a PEM file's or a token's (*Key).
	Signer crypto.Signer
	// Certificate is the signer's certificate.
	Certificate *x509.Certificate
	// Warnings say what is odd about the certificate but accepted by
	// firmware (sign.CertificateWarnings: an expired certificate, say).
	Warnings []string

	closeFn func()
}

// Close releases a token key (nothing for a PEM key, or a SigningKey
// OpenSigningKey did not make).
func (k *SigningKey) Close() {
	if k != nil && k.closeFn != nil {
		k.closeFn()
	}
}

// ErrCertificateNeeded is OpenSigningKey's error for a PEM key given
// without a certificate: only a token holds one next to its key.
var ErrCertificateNeeded = errors.New("no signing certificate (a PEM key needs a certificate file)")

// Defect is what a SigningKeyError is about.
type Defect string

// The defects of a SigningKeyError.
const (
	DefectKey              Defect = "key"               // the key cannot sign for Secure Boot (sign.CheckKey)
	DefectCertificate      Defect = "certificate"       // the certificate cannot (sign.CheckCertificate)
	DefectMismatch         Defect = "mismatch"          // the certificate is not the key's (sign.CheckKeyMatches)
	DefectTokenCertificate Defect = "token certificate" // the token has no certificate for its key (Key.Certificate)
)

// SigningKeyError says why OpenSigningKey refused a key and certificate
// it could open.
type SigningKeyError struct {
	Defect Defect // DefectKey, DefectCertificate, DefectMismatch or DefectTokenCertificate
	Err    error
}

func (e *SigningKeyError) Error() string {
	if e.Defect == DefectMismatch {
		return "the key does not match the certificate: " + e.Err.Error()
	}
	return string(e.Defect) + ": " + e.Err.Error()
}

func (e *SigningKeyError) Unwrap() error { return e.Err }

// OpenSigningKey opens a Secure Boot signing key by the names a command
// line gives: name is a PEM file or a pkcs11: URI (OpenSigner, with opts
// and passphrase), certPath the certificate's PEM file, or "" for the
// certificate a token holds next to its key (Key.Certificate). The key
// must suit UEFI Secure Boot and match the certificate, and the
// certificate must be one firmware accepts (a *SigningKeyError says which
// is not); what is odd but accepted at time now is in Warnings. The
// caller closes the key.
func OpenSigningKey(name, certPath string, opts Options, passphrase keys.PassphraseFunc, now time.Time) (*SigningKey, error) {
	s, closeFn, err := OpenSigner(name, opts, passphrase)
	if err != nil {
		return nil, err
	}
	k := &SigningKey{Signer: s, closeFn: closeFn}
	fail := func(err error) (*SigningKey, error) {
		closeFn()
		return nil, err
	}
	if tk, ok := s.(*Key); ok && certPath == "" {
		if k.Certificate, err = tk.Certificate(); err != nil {
			return fail(&SigningKeyError{DefectTokenCertificate, err})
		}
	}
	if certPath != "" {
		if k.Certificate, err = keys.Certificate(certPath); err != nil {
			return fail(err)
		}
	}
	if k.Certificate == nil {
		return fail(ErrCertificateNeeded)
	}
	if err := sign.CheckKey(s.Public()); err != nil {
		return fail(&SigningKeyError{DefectKey, err})
	}
	if err := sign.CheckCertificate(k.Certificate); err != nil {
		return fail(&SigningKeyError{DefectCertificate, err})
	}
	if err := sign.CheckKeyMatches(k.Certificate, s.Public()); err != nil {
		return fail(&SigningKeyError{DefectMismatch, err})
	}
	k.Warnings = sign.CertificateWarnings(k.Certificate, now)
	return k, nil
}
