package sign

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"
)

// TestChainToManyCrossSigned: certificates that all issue each other (same
// name, same key) form a graph with exponentially many paths; chainTo
// visits each certificate once, so this returns (a depth-first search
// would not finish), finding the anchor when it is among them and nil when
// it is not.
func TestChainToManyCrossSigned(t *testing.T) {
	key, _ := testKey(t, "db")
	name := pkix.Name{CommonName: "loop"}
	var certs []*x509.Certificate
	for i := 0; i < 16; i++ {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 1)), Subject: name, Issuer: name,
			NotBefore: time.Unix(0, 0), NotAfter: time.Unix(4e9, 0), BasicConstraintsValid: true, IsCA: true}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, c)
	}
	other := testCert(t, "other")
	if a := chainTo(certs[0], certs, []*x509.Certificate{other}); a != nil {
		t.Fatalf("chained to %q, which signed none of them", a.Subject)
	}
	if a := chainTo(certs[0], certs[:15], []*x509.Certificate{certs[15]}); a != certs[15] {
		t.Fatalf("chainTo = %v, want the anchor among the cross-signed certificates", a)
	}
}
