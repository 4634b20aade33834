//go:build !cgo

package pkcs11

import (
	"crypto"
	"crypto/x509"
	"io"
)

// Key is an RSA private key on a PKCS #11 token. This build has no cgo, so
// no Key can be opened: Open fails with ErrNoCgo.
type Key struct{}

// Mechanism names (see the cgo build).
const (
	MechanismPKCS1  = "CKM_RSA_PKCS"
	MechanismRawRSA = "CKM_RSA_X_509"
)

// Open fails with ErrNoCgo: loading a PKCS #11 module needs cgo. The URI is
// still checked, so that a malformed one is reported as such.
func Open(uri string, opts Options) (*Key, error) {
	if _, err := ParseURI(uri); err != nil {
		return nil, err
	}
	return nil, ErrNoCgo
}

// Public returns nil.
func (k *Key) Public() crypto.PublicKey { return nil }

// Sign fails with ErrNoCgo.
func (k *Key) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) { return nil, ErrNoCgo }

// Certificate fails with ErrNoCgo.
func (k *Key) Certificate() (*x509.Certificate, error) { return nil, ErrNoCgo }

// Token returns the zero TokenInfo.
func (k *Key) Token() TokenInfo { return TokenInfo{} }

// URI returns "".
func (k *Key) URI() string { return "" }

// Mechanism returns "".
func (k *Key) Mechanism() string { return "" }

// String describes the key.
func (k *Key) String() string { return "PKCS #11 key (unsupported: built without cgo)" }

// Close does nothing.
func (k *Key) Close() error { return nil }
