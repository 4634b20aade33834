// Package keys loads keys and certificates from PEM files: private keys
// (PKCS#1, PKCS#8, SEC 1), public keys (SubjectPublicKeyInfo, PKCS#1) and
// X.509 certificates. Errors name the file and what is wrong with it.
package keys

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
)

// readPEM returns the first PEM block of path.
func readPEM(path, what string) (*pem.Block, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%s %s: no PEM block found", what, path)
	}
	return block, nil
}

// PrivateKey loads a PEM private key.
func PrivateKey(path string) (crypto.Signer, error) {
	block, err := readPEM(path, "private key")
	if err != nil {
		return nil, err
	}
	var key any
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "ENCRYPTED PRIVATE KEY":
		return nil, fmt.Errorf("private key %s: encrypted keys are not supported", path)
	default:
		return nil, fmt.Errorf("private key %s: a PEM %q block is not a private key", path, block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("private key %s: %w", path, err)
	}
	s, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("private key %s: %T cannot sign", path, key)
	}
	return s, nil
}

// PublicKey loads a PEM public key (SubjectPublicKeyInfo or PKCS#1).
func PublicKey(path string) (crypto.PublicKey, error) {
	block, err := readPEM(path, "public key")
	if err != nil {
		return nil, err
	}
	var key any
	switch block.Type {
	case "PUBLIC KEY":
		key, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		key, err = x509.ParsePKCS1PublicKey(block.Bytes)
	default:
		return nil, fmt.Errorf("public key %s: a PEM %q block is not a public key", path, block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("public key %s: %w", path, err)
	}
	return key, nil
}

// Certificate loads a PEM X.509 certificate.
func Certificate(path string) (*x509.Certificate, error) {
	block, err := readPEM(path, "certificate")
	if err != nil {
		return nil, err
	}
	if block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("certificate %s: a PEM %q block is not a certificate", path, block.Type)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("certificate %s: %w", path, err)
	}
	return cert, nil
}
