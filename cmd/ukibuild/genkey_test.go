package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestGenkey: the keys and certificate of "genkey" are what openssl reads
// as ukify's (RSA-2048, CN, CA:FALSE critical, SHA-256, the validity),
// private keys are mode 0600, "build" signs with them and sbverify accepts
// the result; an existing file makes genkey fail without writing anything.
func TestGenkey(t *testing.T) {
	f := getFixture(t)
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	code, _, e := runOurs("genkey", "--secureboot-private-key", p("db.key"), "--secureboot-certificate", p("db.crt"),
		"--secureboot-certificate-common-name", "ukibuild genkey test", "--secureboot-certificate-validity", "30",
		"--pcr-private-key", p("pcr1.key"), "--pcr-public-key", p("pcr1.pub"), "--pcr-private-key", p("pcr2.key"))
	if code != 0 {
		t.Fatalf("genkey: %s", e)
	}
	for name, want := range map[string]os.FileMode{"db.key": 0o600, "db.crt": 0o644, "pcr1.key": 0o600, "pcr1.pub": 0o644, "pcr2.key": 0o600} {
		st, err := os.Stat(p(name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", name, st.Mode().Perm(), want)
		}
	}
	openssl := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("openssl", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	text := openssl("x509", "-in", p("db.crt"), "-noout", "-text")
	for _, want := range []string{"Subject: CN = ukibuild genkey test", "Issuer: CN = ukibuild genkey test", "Public-Key: (2048 bit)",
		"Signature Algorithm: sha256WithRSAEncryption", "X509v3 Basic Constraints: critical", "CA:FALSE"} {
		if !strings.Contains(text, want) {
			t.Errorf("the certificate lacks %q:\n%s", want, text)
		}
	}
	// Valid now, not valid 31 days from now.
	openssl("x509", "-in", p("db.crt"), "-noout", "-checkend", "0")
	if out, err := exec.Command("openssl", "x509", "-in", p("db.crt"), "-noout", "-checkend", "2678400").CombinedOutput(); err == nil {
		t.Errorf("the certificate is valid for more than 30 days: %s", out)
	}
	for _, k := range []string{"db.key", "pcr1.key", "pcr2.key"} {
		if out := openssl("rsa", "-in", p(k), "-check", "-noout"); !strings.Contains(out, "RSA key ok") {
			t.Errorf("%s: %s", k, out)
		}
	}
	modulus := func(args ...string) string { return openssl(append([]string{"rsa", "-noout", "-modulus"}, args...)...) }
	if modulus("-in", p("pcr1.key")) != modulus("-pubin", "-in", p("pcr1.pub")) {
		t.Errorf("pcr1.pub is not the public key of pcr1.key")
	}
	uki := p("uki.efi")
	if code, _, e := runOurs("build", "--stub", f.stubs["262"], "--linux", f.kernel, "--secureboot-private-key", p("db.key"),
		"--secureboot-certificate", p("db.crt"), "--pcr-private-key", p("pcr1.key"), "--pcr-public-key", p("pcr1.pub"), "--output", uki); code != 0 {
		t.Fatalf("build with the generated keys: %s", e)
	}
	if out, err := exec.Command("sbverify", "--cert", p("db.crt"), uki).CombinedOutput(); err != nil {
		t.Errorf("sbverify refuses the UKI signed with the generated key: %v\n%s", err, out)
	}

	before, _ := os.ReadFile(p("pcr1.key"))
	code, _, e = runOurs("genkey", "--pcr-private-key", p("new.key"), "--pcr-private-key", p("pcr1.key"))
	if code == 0 || !strings.Contains(e, p("pcr1.key")) || !strings.Contains(e, "exists") {
		t.Errorf("genkey over an existing key: exit %d, %q", code, e)
	}
	after, _ := os.ReadFile(p("pcr1.key"))
	if !bytes.Equal(before, after) {
		t.Errorf("genkey changed an existing key")
	}
	if _, err := os.Stat(p("new.key")); err == nil {
		t.Errorf("genkey wrote new.key although it failed")
	}
	if code, _, e := runOurs("genkey"); code == 0 || !strings.Contains(e, "must be given") {
		t.Errorf("genkey without files: exit %d %q", code, e)
	}
}

// TestGenkeyRefusesTokenURIs: genkey makes key files; a pkcs11: URI (a key
// on a token) is refused with nothing written, never taken as a file name
// (ukify 262.1 writes a PEM file named like the URI).
func TestGenkeyRefusesTokenURIs(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, args := range [][]string{
		{"genkey", "--pcr-private-key", "pkcs11:token=t;object=pcr", "--pcr-public-key", "pcr.pub"},
		{"genkey", "--secureboot-private-key", "pkcs11:token=t;object=db", "--secureboot-certificate", "db.crt"},
	} {
		code, _, e := runOurs(args...)
		if code == 0 || !strings.Contains(e, "made with the token's own tools") {
			t.Errorf("%v: exit %d, %s", args, code, e)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Errorf("%v: wrote %v", args, ents)
		}
	}
}
