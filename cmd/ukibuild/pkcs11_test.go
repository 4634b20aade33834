//go:build cgo

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ukibuild/ukibuild/internal/softhsmtest"
)

// TestPKCS11Commands: a key on a SoftHSM2 token signs through a pkcs11: URI
// in "sign" (certificate from the token) and in "build" (with ukify's
// --signing-engine=pkcs11 and without it); sbverify accepts the results
// against the token's certificate. The PIN comes from
// $UKIBUILD_PKCS11_PIN and never shows in messages; a wrong PIN and a URI
// that matches no key fail clearly without writing anything.
func TestPKCS11Commands(t *testing.T) {
	f := getFixture(t)
	hsm := softhsmtest.Shared(t)
	dir := t.TempDir()
	key := hsm.URI("token="+softhsmtest.Token+";object=signer;type=private", "")
	t.Setenv("UKIBUILD_PKCS11_PIN", softhsmtest.PIN)
	sbverify := func(file string) {
		t.Helper()
		if out, err := exec.Command("sbverify", "--cert", hsm.CertPEM, file).CombinedOutput(); err != nil {
			t.Errorf("sbverify %s: %v\n%s", filepath.Base(file), err, out)
		}
	}
	unsigned := filepath.Join(dir, "uki.efi")
	if code, _, e := runOurs("build", "--stub", f.stubs["262"], "--linux", f.kernel, "--output", unsigned); code != 0 {
		t.Fatal(e)
	}
	signed := filepath.Join(dir, "signed.efi")
	if code, _, e := runOurs("sign", unsigned, "-o", signed, "--key", key); code != 0 {
		t.Fatalf("sign with %s: %s", key, e)
	}
	sbverify(signed)
	for name, extra := range map[string][]string{
		"uri-only":       {"--secureboot-private-key", key},
		"ukify-engine":   {"--signing-engine", "pkcs11", "--secureboot-private-key", key, "--secureboot-certificate", hsm.CertPEM},
		"ukify-provider": {"--signing-provider", "pkcs11", "--secureboot-private-key", key, "--secureboot-certificate", hsm.CertPEM},
	} {
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "uki.efi")
			args := append([]string{"build", "--stub", f.stubs["262"], "--linux", f.kernel, "--output", out}, extra...)
			if code, _, e := runOurs(args...); code != 0 {
				t.Fatalf("build: %s", e)
			}
			sbverify(out)
		})
	}

	t.Run("wrong-pin", func(t *testing.T) {
		t.Setenv("UKIBUILD_PKCS11_PIN", "0000-wrong")
		out := filepath.Join(t.TempDir(), "uki.efi")
		code, _, e := runOurs("build", "--stub", f.stubs["262"], "--linux", f.kernel, "--secureboot-private-key", key, "--output", out)
		if code == 0 || !strings.Contains(strings.ToLower(e), "pin") || strings.Contains(e, "0000-wrong") {
			t.Errorf("wrong PIN: exit %d, %q", code, e)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("an output file was written")
		}
	})
	t.Run("no-such-key", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "signed.efi")
		code, _, e := runOurs("sign", unsigned, "-o", out, "--key", hsm.URI("token="+softhsmtest.Token+";object=absent;type=private", ""))
		if code == 0 || !strings.Contains(e, "absent") {
			t.Errorf("a URI matching no key: exit %d, %q", code, e)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("an output file was written")
		}
	})
}

func TestMain(m *testing.M) {
	code := m.Run()
	softhsmtest.RemoveShared()
	os.Exit(code)
}
