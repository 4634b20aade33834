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

// TestCertificateProviderPKCS11: ukify's --certificate-provider=pkcs11
// with --signtool=systemd-sbsign reads --secureboot-certificate, a pkcs11:
// URI of the key's certificate object, from the token: the UKI is the one
// signed with the token's certificate taken implicitly, and sbverify
// accepts it; another provider, another signtool, a URI of another object
// and a PEM certificate are refused with nothing written.
func TestCertificateProviderPKCS11(t *testing.T) {
	f := getFixture(t)
	hsm := softhsmtest.Shared(t)
	t.Setenv("UKIBUILD_PKCS11_PIN", softhsmtest.PIN)
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	key := hsm.URI("token="+softhsmtest.Token+";object=signer;type=private", "")
	cert := hsm.URI("token="+softhsmtest.Token+";object=signer;type=cert", "")
	dir := t.TempDir()
	build := func(out string, extra ...string) (int, string) {
		code, _, e := runOurs(append([]string{"build", "--stub", f.stubs["262"], "--linux", f.kernel, "--output", out,
			"--secureboot-private-key", key, "--signtool", "systemd-sbsign"}, extra...)...)
		return code, e
	}
	implicit, viaProvider := filepath.Join(dir, "implicit.efi"), filepath.Join(dir, "provider.efi")
	if code, e := build(implicit); code != 0 {
		t.Fatalf("build: %s", e)
	}
	if code, e := build(viaProvider, "--certificate-provider", "pkcs11", "--secureboot-certificate", cert); code != 0 {
		t.Fatalf("build --certificate-provider=pkcs11: %s", e)
	}
	compareFiles(t, implicit, viaProvider)
	if out, err := exec.Command("sbverify", "--cert", hsm.CertPEM, viaProvider).CombinedOutput(); err != nil {
		t.Errorf("sbverify: %v\n%s", err, out)
	}
	other := hsm.URI("token="+softhsmtest.Token+";object=someone-else;type=cert", "")
	for name, c := range map[string]struct {
		args []string
		want string
	}{
		"provider tpm2":   {[]string{"--certificate-provider", "tpm2", "--secureboot-certificate", cert}, "OpenSSL providers are not available"},
		"another object":  {[]string{"--certificate-provider", "pkcs11", "--secureboot-certificate", other}, "another object"},
		"PEM certificate": {[]string{"--certificate-provider", "pkcs11", "--secureboot-certificate", hsm.CertPEM}, "as pkcs11: URIs"},
	} {
		out := filepath.Join(dir, "refused.efi")
		if code, e := build(out, c.args...); code == 0 || !strings.Contains(e, c.want) {
			t.Errorf("%s: exit %d, %s", name, code, e)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%s: %s was written", name, out)
		}
	}
	code, _, e := runOurs("build", "--stub", f.stubs["262"], "--linux", f.kernel, "--output", filepath.Join(dir, "x.efi"),
		"--secureboot-private-key", key, "--certificate-provider", "pkcs11", "--secureboot-certificate", cert)
	if code == 0 || !strings.Contains(e, "--certificate-provider= can only be used with --signtool=systemd-sbsign") {
		t.Errorf("without --signtool=systemd-sbsign: exit %d, %s", code, e)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	softhsmtest.RemoveShared()
	os.Exit(code)
}
