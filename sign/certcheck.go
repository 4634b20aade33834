package sign

import (
	"crypto"
	"crypto/x509"
	"fmt"
	"slices"
	"time"
)

// CheckKey reports whether UEFI firmware can verify signatures by a key
// with this public key: RSA of 2048, 3072 or 4096 bits. The error wraps
// ErrUnsupportedKey.
func CheckKey(pub crypto.PublicKey) error { return checkPublicKey(pub) }

// CheckCertificate reports whether UEFI firmware can verify signatures
// whose signer has this certificate: an RSA (PKCS#1 v1.5) key that CheckKey
// accepts. The error wraps ErrUnsupportedKey.
func CheckCertificate(cert *x509.Certificate) error { return checkCertificate(cert) }

// CheckKeyMatches reports whether pub is the public key of cert.
func CheckKeyMatches(cert *x509.Certificate, pub crypto.PublicKey) error { return matchKey(cert, pub) }

// CertificateWarnings lists what is odd about a signing certificate without
// making UEFI firmware reject its signatures: firmware checks neither
// validity periods nor key usages (EDK2 verifies Authenticode without a
// time and with any usage), but other verifiers (sbverify, shim's
// MokManager policy, a Windows host) and review processes may. now is the
// time to check the validity period at.
func CertificateWarnings(cert *x509.Certificate, now time.Time) []string {
	var w []string
	const later = "UEFI firmware does not check this, but other verifiers may refuse the signature"
	name := cert.Subject.String()
	switch {
	case now.After(cert.NotAfter):
		w = append(w, fmt.Sprintf("certificate %q expired on %s; %s", name, cert.NotAfter.UTC().Format(time.RFC3339), later))
	case now.Before(cert.NotBefore):
		w = append(w, fmt.Sprintf("certificate %q is not valid before %s; %s", name, cert.NotBefore.UTC().Format(time.RFC3339), later))
	}
	if cert.KeyUsage != 0 && cert.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		w = append(w, fmt.Sprintf("the key usage of certificate %q does not include digitalSignature; %s", name, later))
	}
	if len(cert.ExtKeyUsage) > 0 || len(cert.UnknownExtKeyUsage) > 0 {
		if !slices.Contains(cert.ExtKeyUsage, x509.ExtKeyUsageCodeSigning) && !slices.Contains(cert.ExtKeyUsage, x509.ExtKeyUsageAny) {
			w = append(w, fmt.Sprintf("the extended key usage of certificate %q does not include codeSigning; %s", name, later))
		}
	}
	return w
}
