package pkcs11

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestOpenSignerPEM: a file name opens the PEM key in it; a missing file
// is an error naming it; a pkcs11: URI goes to Open (here without a module).
func TestOpenSignerPEM(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "k.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	s, closeFn, err := OpenSigner(path, Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	closeFn()
	if !key.PublicKey.Equal(s.Public()) {
		t.Error("OpenSigner opened another key")
	}
	if _, _, err := OpenSigner(path+".missing", Options{}, nil); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, _, err := OpenSigner("pkcs11:token=none", Options{}, nil); err == nil {
		t.Error("a pkcs11: URI without a module opened")
	}
}
