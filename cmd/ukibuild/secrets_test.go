package main

import (
	"strings"
	"testing"
)

// TestPINsNeverShown: a pin-value given where it does not belong (an
// extra argument kong rejects, a key URI that cannot be opened) never
// appears in what ukibuild prints.
func TestPINsNeverShown(t *testing.T) {
	const pin = "97531-secret"
	for _, args := range [][]string{
		{"sign", "missing.efi", "--key", "pkcs11:token=t?pin-value=" + pin},
		{"inspect", "pkcs11:token=t?pin-value=" + pin},
		{"verify", "--cert", "pkcs11:token=t?module-path=/x&pin-value=" + pin, "missing.efi"},
		{"build", "--pcr-private-key", "pkcs11:object=k?PIN-VALUE=" + pin, "--stub", "missing.stub", "--output", "x.efi"},
	} {
		code, stdout, stderr := runOurs(args...)
		if code == 0 {
			t.Errorf("%v succeeded", args)
		}
		if strings.Contains(stdout+stderr, pin) {
			t.Errorf("%v shows the PIN:\n%s%s", args, stdout, stderr)
		}
	}
}
