package pkcs11

import "testing"

func TestCheckCertificateURI(t *testing.T) {
	key := "pkcs11:token=t;object=db;type=private"
	for cert, ok := range map[string]bool{
		"pkcs11:token=t;object=db;type=cert": true,
		"pkcs11:token=t;object=db":           true,
		"pkcs11:token=u;object=db;type=cert": false,
		"pkcs11:token=t;object=kek":          false,
		"pkcs11:token=t;type=cert":           false,
		"pkcs11:token=t;object=db;type=data": false,
		"not a uri":                          false,
	} {
		if err := CheckCertificateURI(key, cert); (err == nil) != ok {
			t.Errorf("CheckCertificateURI(%q): %v, want ok=%v", cert, err, ok)
		}
	}
}
