package pkcs11

import "fmt"

// CheckCertificateURI checks that certURI names the certificate of the key
// keyURI names, the only certificate Key.Certificate reads from a token:
// the same token attributes, type=cert if a type is given, and the key's
// id or object label (at least one of them). This is what ukify's
// --certificate-provider=pkcs11 with a certificate URI amounts to here.
func CheckCertificateURI(keyURI, certURI string) error {
	k, err := ParseURI(keyURI)
	if err != nil {
		return err
	}
	c, err := ParseURI(certURI)
	if err != nil {
		return err
	}
	if t, ok := c.Path("type"); ok && t != "cert" {
		return fmt.Errorf("the certificate URI %s has type=%s, not cert", c, t)
	}
	for _, a := range []string{"token", "manufacturer", "model", "serial"} {
		kv, _ := k.Path(a)
		cv, _ := c.Path(a)
		if kv != cv {
			return fmt.Errorf("the certificate URI %s names another token than the key's (%s %q, not %q)", c, a, cv, kv)
		}
	}
	matched := false
	for _, a := range []string{"id", "object"} {
		kv, kok := k.Path(a)
		cv, cok := c.Path(a)
		if cok && (!kok || kv != cv) {
			return fmt.Errorf("the certificate URI %s names another object than the key's (%s %q): only the key's own certificate is read from a token", c, a, cv)
		}
		matched = matched || cok
	}
	if !matched {
		return fmt.Errorf("the certificate URI %s names no object (give the key's id or object label)", c)
	}
	return nil
}
