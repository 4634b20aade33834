package sign

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"strings"
	"testing"
	"time"
)

func TestCertificateWarnings(t *testing.T) {
	key, _ := testKey(t, "db")
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	mk := func(tmpl x509.Certificate) *x509.Certificate {
		t.Helper()
		tmpl.SerialNumber = big.NewInt(1)
		tmpl.Subject = pkix.Name{CommonName: "test"}
		if tmpl.NotBefore.IsZero() {
			tmpl.NotBefore = now.Add(-time.Hour)
		}
		if tmpl.NotAfter.IsZero() {
			tmpl.NotAfter = now.Add(time.Hour)
		}
		der, err := x509.CreateCertificate(rand.Reader, &tmpl, &tmpl, key.Public().(*rsa.PublicKey), key)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, c := range []struct {
		name string
		cert *x509.Certificate
		want []string
	}{
		{"good", mk(x509.Certificate{KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}}), nil},
		{"no usages", mk(x509.Certificate{}), nil},
		{"expired", mk(x509.Certificate{NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-24 * time.Hour)}), []string{`certificate "CN=test" expired on 2029-12-31T00:00:00Z`}},
		{"not yet valid", mk(x509.Certificate{NotBefore: now.Add(24 * time.Hour), NotAfter: now.Add(48 * time.Hour)}), []string{"is not valid before 2030-01-02T00:00:00Z"}},
		{"key usage", mk(x509.Certificate{KeyUsage: x509.KeyUsageKeyEncipherment}), []string{"does not include digitalSignature"}},
		{"extended key usage", mk(x509.Certificate{ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}), []string{"does not include codeSigning"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := CertificateWarnings(c.cert, now)
			if len(got) != len(c.want) {
				t.Fatalf("warnings %q, want %d", got, len(c.want))
			}
			for i, w := range c.want {
				if !strings.Contains(got[i], w) || !strings.Contains(got[i], "UEFI firmware does not check this") {
					t.Errorf("warning %q does not contain %q", got[i], w)
				}
			}
		})
	}
}
