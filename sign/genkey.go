package sign

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"
)

// CommonNameMaxLen is the longest X.509 commonName (RFC 5280 ub-common-name).
const CommonNameMaxLen = 64

// GenerateKeyCertificate makes a Secure Boot signing key and its
// self-signed certificate, as "ukify genkey" does (ukify 262,
// generate_key_cert_pair): RSA-2048 (the size Microsoft documents for
// Secure Boot keys), subject and issuer CN=commonName, valid from now for
// validDays days, a random 159-bit serial number, BasicConstraints CA:FALSE
// (critical), signed with SHA-256. The key is PEM "RSA PRIVATE KEY"
// (PKCS#1) and the certificate PEM "CERTIFICATE". rnd is the randomness
// source (nil: crypto/rand).
func GenerateKeyCertificate(rnd io.Reader, commonName string, validDays int, now time.Time) (keyPEM, certPEM []byte, err error) {
	switch {
	case commonName == "":
		return nil, nil, errors.New("the certificate common name is empty")
	case len(commonName) > CommonNameMaxLen:
		return nil, nil, fmt.Errorf("the certificate common name is longer than %d bytes: %q", CommonNameMaxLen, commonName)
	case validDays <= 0:
		return nil, nil, fmt.Errorf("the certificate validity must be at least one day, not %d", validDays)
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	key, err := rsa.GenerateKey(rnd, 2048)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rnd, new(big.Int).Lsh(big.NewInt(1), 159))
	if err != nil {
		return nil, nil, err
	}
	name := pkix.Name{CommonName: commonName}
	tmpl := &x509.Certificate{
		SerialNumber:          serial.Add(serial, big.NewInt(1)), // positive, never zero
		Subject:               name,
		Issuer:                name,
		NotBefore:             now.UTC(),
		NotAfter:              now.UTC().AddDate(0, 0, validDays),
		BasicConstraintsValid: true,
		SignatureAlgorithm:    x509.SHA256WithRSA,
	}
	der, err := x509.CreateCertificate(rnd, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("creating the certificate: %w", err)
	}
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return keyPEM, certPEM, nil
}
