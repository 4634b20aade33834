// Package keys loads keys and certificates from PEM files: private keys
// (PKCS#1, PKCS#8, SEC 1, and PKCS#8 encrypted with PBES2), public keys
// (SubjectPublicKeyInfo, PKCS#1) and X.509 certificates. Errors name the
// file and what is wrong with it, and never contain a passphrase.
//
// A file may hold several PEM blocks (a key and its certificate, say): each
// loader takes the first block of its kind.
//
// Package keys/genkey makes the key files "ukify genkey" makes.
package keys

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// privateKeyTypes are the PEM block types of private keys.
var privateKeyTypes = map[string]bool{
	"RSA PRIVATE KEY": true, "EC PRIVATE KEY": true, "PRIVATE KEY": true, "ENCRYPTED PRIVATE KEY": true,
}

// readPEM returns the first PEM block of path whose type want accepts.
func readPEM(path, what string, want func(string) bool) (*pem.Block, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return findPEM(data, path, what, want)
}

// findPEM returns the first PEM block of data whose type want accepts; the
// error lists the blocks there are instead.
func findPEM(data []byte, path, what string, want func(string) bool) (*pem.Block, error) {
	var seen []string
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if want(block.Type) {
			return block, nil
		}
		seen = append(seen, fmt.Sprintf("%q", block.Type))
	}
	if len(seen) == 0 {
		return nil, fmt.Errorf("%s %s: no PEM block found (a DER or empty file?)", what, path)
	}
	return nil, fmt.Errorf("%s %s: no %s in the file, only PEM %s", what, path, what, strings.Join(seen, ", "))
}

// PassphraseFunc returns the passphrase of the encrypted private key at
// path (from wherever the program keeps it).
type PassphraseFunc func(path string) ([]byte, error)

// PrivateKey loads a PEM private key. An encrypted one (PKCS#8
// "ENCRYPTED PRIVATE KEY") is decrypted with the passphrase passphrase
// returns; with a nil passphrase it is refused (ErrEncrypted).
func PrivateKey(path string, passphrase PassphraseFunc) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	if passphrase == nil {
		passphrase = func(string) ([]byte, error) { return nil, ErrEncrypted }
	}
	return parsePrivateKey(data, path, passphrase)
}

// ErrEncrypted: the private key is encrypted and no passphrase was given.
var ErrEncrypted = errors.New("the private key is encrypted and no passphrase source was given")

// parsePrivateKey parses the first private key of data; passphrase is
// asked for an encrypted one.
func parsePrivateKey(data []byte, path string, passphrase func(path string) ([]byte, error)) (crypto.Signer, error) {
	block, err := findPEM(data, path, "private key", func(t string) bool { return privateKeyTypes[t] })
	if err != nil {
		return nil, err
	}
	if block.Headers["Proc-Type"] != "" {
		return nil, fmt.Errorf("private key %s: legacy OpenSSL PEM encryption (Proc-Type %s) is not supported; convert the key to PKCS#8 with 'openssl pkcs8 -topk8 -v2 aes-256-cbc -in OLD -out NEW'", path, block.Headers["Proc-Type"])
	}
	var key any
	format := ""
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		format = "PKCS#1 RSA"
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
		format = "SEC 1 EC"
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		format = "PKCS#8"
	case "ENCRYPTED PRIVATE KEY":
		key, err = decryptPKCS8(block.Bytes, path, passphrase)
	}
	if err != nil && format != "" {
		return nil, fmt.Errorf("private key %s: the PEM %q block does not hold a valid %s key (%w)", path, block.Type, format, err)
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
	block, err := readPEM(path, "public key", func(t string) bool { return t == "PUBLIC KEY" || t == "RSA PUBLIC KEY" })
	if err != nil {
		return nil, err
	}
	var key any
	switch block.Type {
	case "PUBLIC KEY":
		key, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		key, err = x509.ParsePKCS1PublicKey(block.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("public key %s: %w", path, err)
	}
	return key, nil
}

// Certificate loads a PEM X.509 certificate.
func Certificate(path string) (*x509.Certificate, error) {
	block, err := readPEM(path, "certificate", func(t string) bool { return t == "CERTIFICATE" })
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("certificate %s: %w", path, err)
	}
	return cert, nil
}

// Certificates loads PEM X.509 certificates (Certificate), in order; nil
// for none.
func Certificates(paths ...string) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for _, p := range paths {
		c, err := Certificate(p)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// PermissionWarning returns a warning when the private key file at path can
// be read by users other than its owner, or "" when it cannot (or does not
// exist: loading it reports that).
func PermissionWarning(path string) string {
	st, err := os.Stat(path)
	if err != nil || !st.Mode().IsRegular() {
		return ""
	}
	if perm := st.Mode().Perm(); perm&0o044 != 0 {
		return fmt.Sprintf("private key %s is readable by %s (mode %#o); restrict it with 'chmod go-rwx %s'", path, readers(perm), perm, path)
	}
	return ""
}

func readers(perm fs.FileMode) string {
	switch {
	case perm&0o040 != 0 && perm&0o004 != 0:
		return "its group and all other users"
	case perm&0o040 != 0:
		return "its group"
	}
	return "all other users"
}
