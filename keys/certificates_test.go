package keys

import (
	"bytes"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestCertificates: the certificates come in the order given, each the
// DER bytes of its PEM file (decoded here by encoding/pem); none gives
// nil; a missing file is an error.
func TestCertificates(t *testing.T) {
	dir := "../testvectors/eventlog"
	paths := []string{filepath.Join(dir, "db.pem"), filepath.Join(dir, "pk.pem"), filepath.Join(dir, "kek.pem")}
	certs, err := Certificates(paths...)
	if err != nil || len(certs) != len(paths) {
		t.Fatalf("%d certificates, %v", len(certs), err)
	}
	for i, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := pem.Decode(data)
		if !bytes.Equal(certs[i].Raw, b.Bytes) {
			t.Errorf("certificate %d is not %s's", i, p)
		}
	}
	if c, err := Certificates(); c != nil || err != nil {
		t.Errorf("none: %v, %v", c, err)
	}
	if _, err := Certificates(paths[0], filepath.Join(dir, "missing.pem")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}
