package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestSignVerifyCommands: "ukibuild sign" output is accepted by sbverify and
// by "ukibuild verify"; a second signature is added, not nested; a wrong
// certificate is refused; the default output is reproducible.
func TestSignVerifyCommands(t *testing.T) {
	f := getFixture(t)
	dir := t.TempDir()
	key, cert := selfSignedKeyCert(t, dir, "db")
	otherKey, otherCert := selfSignedKeyCert(t, dir, "other")
	in := filepath.Join(dir, "uki.efi")
	if code, _, e := runOurs("build", "--stub", f.stubs["262"], "--linux", f.kernel, "--output", in); code != 0 {
		t.Fatal(e)
	}
	a, b := filepath.Join(dir, "a.efi"), filepath.Join(dir, "b.efi")
	for _, out := range []string{a, b} {
		if code, _, e := runOurs("sign", in, "-o", out, "--key", key, "--cert", cert); code != 0 {
			t.Fatalf("sign: %s", e)
		}
	}
	da, _ := os.ReadFile(a)
	db, _ := os.ReadFile(b)
	if !bytes.Equal(da, db) {
		t.Errorf("two signatures of the same input differ")
	}
	if out, err := exec.Command("sbverify", "--cert", cert, a).CombinedOutput(); err != nil {
		t.Errorf("sbverify (apt-get install sbsigntool) refuses our signature: %v\n%s", err, out)
	}
	if code, out, e := runOurs("verify", a, "--cert", cert); code != 0 || !strings.Contains(out, "verification succeeded") {
		t.Errorf("verify: exit %d %s %s", code, out, e)
	}
	if code, _, e := runOurs("verify", a, "--cert", otherCert); code == 0 {
		t.Errorf("verify accepted a signature that does not chain to the given certificate")
	} else if !strings.Contains(e, a) {
		t.Errorf("the error does not name the file: %s", e)
	}
	// A second signer: two entries in the table, both listed by sbverify.
	if code, _, e := runOurs("sign", a, "--key", otherKey, "--cert", otherCert); code != 0 {
		t.Fatalf("second sign: %s", e)
	}
	out, err := exec.Command("sbverify", "--list", a).CombinedOutput()
	if err != nil || len(regexp.MustCompile(`(?m)^signature \d+$`).FindAll(out, -1)) != 2 {
		t.Errorf("sbverify --list: want two signatures: %v\n%s", err, out)
	}
}

// selfSignedKeyCert makes an RSA key and a self-signed certificate (PEM).
func selfSignedKeyCert(t *testing.T, dir, name string) (key, cert string) {
	t.Helper()
	key, _ = rsaKeyPEM(t, dir, name)
	return key, selfSignedCertNamed(t, dir, key, name)
}
