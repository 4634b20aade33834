package genkey_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/ukibuild/ukibuild/keys"
	"github.com/ukibuild/ukibuild/keys/genkey"
	"github.com/ukibuild/ukibuild/sign"
)

// TestGenkey: the key matches the certificate, which has the common name
// asked for; refusals are typed; an existing file stops everything.
func TestGenkey(t *testing.T) {
	dir := t.TempDir()
	cn := "test key"
	o := genkey.Options{SecureBootKey: filepath.Join(dir, "db.key"), SecureBootCertificate: filepath.Join(dir, "db.crt"),
		CommonName: &cn, ValidityDays: 1, PCRPrivateKeys: []string{filepath.Join(dir, "pcr.key")}}
	files, err := genkey.Make(o)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 3 {
		t.Fatalf("%d files, want 3", len(files))
	}
	for _, f := range files {
		if err := os.WriteFile(f.Path, f.Data, f.Perm); err != nil {
			t.Fatal(err)
		}
	}
	key, err := keys.PrivateKey(o.SecureBootKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := keys.Certificate(o.SecureBootCertificate)
	if err != nil {
		t.Fatal(err)
	}
	if err := sign.CheckKeyMatches(cert, key.Public()); err != nil || cert.Subject.CommonName != cn {
		t.Errorf("certificate %q: %v", cert.Subject.CommonName, err)
	}
	var ee *genkey.ExistsError
	if _, err := genkey.Make(o); !errors.As(err, &ee) || ee.Path != o.SecureBootKey {
		t.Errorf("error %v, want an *ExistsError for %s", err, o.SecureBootKey)
	}

	empty := ""
	var ce *genkey.CommonNameError
	if _, err := genkey.Make(genkey.Options{SecureBootKey: "k", SecureBootCertificate: "c", CommonName: &empty, ValidityDays: 1}); !errors.As(err, &ce) {
		t.Errorf("error %v, want a *CommonNameError", err)
	}
	var te *genkey.TokenURIError
	if _, err := genkey.Make(genkey.Options{PCRPrivateKeys: []string{"pkcs11:token=t?pin-value=1234"}}); !errors.As(err, &te) {
		t.Errorf("error %v, want a *TokenURIError", err)
	} else if msg := err.Error(); msg != "a pkcs11: URI: "+te.Reason() {
		t.Errorf("message %q shows the URI", msg)
	}
	for _, c := range []struct {
		o    genkey.Options
		want error
	}{
		{genkey.Options{SecureBootKey: "k"}, genkey.ErrSecureBootPair},
		{genkey.Options{PCRPublicKeys: []string{"p"}}, genkey.ErrPCRPublicKeys},
		{genkey.Options{}, genkey.ErrNothingToMake},
	} {
		if _, err := genkey.Make(c.o); !errors.Is(err, c.want) {
			t.Errorf("%+v: error %v, want %v", c.o, err, c.want)
		}
	}
	if n := len(genkey.DefaultCommonName()); n == 0 || n > sign.CommonNameMaxLen {
		t.Errorf("DefaultCommonName %q", genkey.DefaultCommonName())
	}
}

// ExampleMake lists the files "ukify genkey" would create for these
// options; the output restates them.
func ExampleMake() {
	dir, _ := os.MkdirTemp("", "genkey")
	defer os.RemoveAll(dir)
	files, err := genkey.Make(genkey.Options{
		SecureBootKey:         filepath.Join(dir, "db.key"),
		SecureBootCertificate: filepath.Join(dir, "db.crt"),
		ValidityDays:          3650,
		PCRPrivateKeys:        []string{filepath.Join(dir, "pcr.key")},
		PCRPublicKeys:         []string{filepath.Join(dir, "pcr.pub")},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range files {
		fmt.Printf("%s %v %s\n", filepath.Base(f.Path), f.Perm, f.What)
	}
	// Output:
	// db.key -rw------- SecureBoot private key
	// db.crt -rw-r--r-- SecureBoot certificate
	// pcr.key -rw------- private key for PCR signing
	// pcr.pub -rw-r--r-- public key for PCR signing
}
