package shim_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ukibuild/ukibuild/secureboot"
	"github.com/ukibuild/ukibuild/shim"
	"github.com/ukibuild/ukibuild/uefi"
)

// TestReadMokList: a DER and a PEM certificate become one X.509
// signature list each, in order, owned by shim's lock GUID
// (605dab50-e046-4300-abb6-3dd810dd8b23, rhboot/shim 16.1
// include/guid.h), holding the certificate; a missing file is an error
// naming it.
func TestReadMokList(t *testing.T) {
	dir := t.TempDir()
	var certs [][]byte
	for i, name := range []string{"a.der", "b.pem"} {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 1)), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Unix(1700000000, 0), NotAfter: time.Unix(1900000000, 0)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, der)
		data := der
		if strings.HasSuffix(name, ".pem") {
			data = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	list, err := shim.ReadMokList(filepath.Join(dir, "a.der"), filepath.Join(dir, "b.pem"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := secureboot.ParseSignatureLists(list)
	if err != nil {
		t.Fatal(err)
	}
	owner, err := uefi.ParseGUID("605dab50-e046-4300-abb6-3dd810dd8b23")
	if err != nil {
		t.Fatal(err)
	}
	es := db.Entries()
	if len(es) != 2 {
		t.Fatalf("%d entries", len(es))
	}
	for i, e := range es {
		if e.Owner != owner || e.Type != uefi.CertX509 || !bytes.Equal(e.Data, certs[i]) || e.List != i {
			t.Errorf("entry %d: owner %s, type %s, list %d", i, e.Owner, e.Type, e.List)
		}
	}
	missing := filepath.Join(dir, "missing.pem")
	if _, err := shim.ReadMokList(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing file: %v", err)
	}
	if l, err := shim.ReadMokList(); err != nil || l != nil {
		t.Errorf("no files: %x, %v", l, err)
	}
}
