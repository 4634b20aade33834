package pkcs11

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRedactMessage: a pin-value in a URI quoted in a message is hidden,
// whatever its case and blanks; the rest of the message is kept.
func TestRedactMessage(t *testing.T) {
	if got := RedactMessage(`x "pkcs11:a=b?module-path=/m& Pin-Value = 1234&pin-source=f" y`); got != `x "pkcs11:a=b?module-path=/m& Pin-Value = REDACTED&pin-source=f" y` {
		t.Errorf("RedactMessage = %q", got)
	}
	if got := RedactMessage("pkcs11:token=t?pin-value=97531 and more"); strings.Contains(got, "97531") || !strings.HasSuffix(got, " and more") {
		t.Errorf("RedactMessage = %q", got)
	}
}

// TestKeyWarning: a URI with pin-value and a key file others can read
// are warned about; a URI with pin-source and a key file only its owner
// reads are not.
func TestKeyWarning(t *testing.T) {
	if w := KeyWarning("pkcs11:token=t?PIN-VALUE=1"); !strings.Contains(w, "pin-value") {
		t.Errorf("pin-value: %q", w)
	}
	if w := KeyWarning("pkcs11:token=t?pin-source=file:/run/pin"); w != "" {
		t.Errorf("pin-source: %q", w)
	}
	key := filepath.Join(t.TempDir(), "k.pem")
	if err := os.WriteFile(key, []byte("-----BEGIN PRIVATE KEY-----\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if w := KeyWarning(key); w == "" {
		t.Error("no warning for a key file mode 0644")
	}
	if err := os.Chmod(key, 0o600); err != nil {
		t.Fatal(err)
	}
	if w := KeyWarning(key); w != "" {
		t.Errorf("mode 0600: %q", w)
	}
	if w := KeyWarning(""); w != "" {
		t.Errorf("empty: %q", w)
	}
}
