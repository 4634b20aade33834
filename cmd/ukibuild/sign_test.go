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

// TestSignOffline: the attributes exported by --export-attributes, signed by
// openssl (as a hash-only signer elsewhere would), attached with
// --attach-signature, give the same bytes as signing with the key directly,
// and sbverify (osslsigncode for SHA-384) accepts them. A signature of other bytes is refused.
func TestSignOffline(t *testing.T) {
	f := getFixture(t)
	dir := t.TempDir()
	key, cert := selfSignedKeyCert(t, dir, "db")
	otherKey, _ := selfSignedKeyCert(t, dir, "other")
	in := filepath.Join(dir, "uki.efi")
	if code, _, e := runOurs("build", "--stub", f.stubs["262"], "--linux", f.kernel, "--output", in); code != 0 {
		t.Fatal(e)
	}
	for _, hash := range []string{"sha256", "sha384"} {
		t.Run(hash, func(t *testing.T) {
			direct, offline := filepath.Join(dir, hash+"-direct.efi"), filepath.Join(dir, hash+"-offline.efi")
			if code, _, e := runOurs("sign", in, "-o", direct, "--key", key, "--cert", cert, "--hash", hash); code != 0 {
				t.Fatalf("sign: %s", e)
			}
			attrs := filepath.Join(dir, hash+".attrs")
			code, out, e := runOurs("sign", in, "--cert", cert, "--hash", hash, "--export-attributes", attrs)
			if code != 0 || strings.TrimSpace(out) != hash {
				t.Fatalf("export: exit %d, stdout %q, stderr %s", code, out, e)
			}
			for _, k := range []string{otherKey, key} {
				sig := filepath.Join(dir, hash+".sig")
				if o, err := exec.Command("openssl", "dgst", "-"+hash, "-sign", k, "-out", sig, attrs).CombinedOutput(); err != nil {
					t.Fatalf("openssl dgst -sign: %v\n%s", err, o)
				}
				code, _, e = runOurs("sign", in, "-o", offline, "--cert", cert, "--hash", hash, "--attach-signature", sig)
				if k == otherKey {
					if code == 0 || !strings.Contains(e, sig) {
						t.Errorf("a signature by another key was attached (exit %d, %q)", code, e)
					}
					if _, err := os.Stat(offline); err == nil {
						t.Errorf("an output file was written for a bad signature")
					}
					continue
				}
				if code != 0 {
					t.Fatalf("attach: %s", e)
				}
			}
			compareFiles(t, direct, offline)
			verifier := []string{"sbverify", "--cert", cert, offline} // sbverify knows SHA-256 only
			if hash != "sha256" {
				verifier = []string{"osslsigncode", "verify", "-CAfile", cert, "-in", offline}
			}
			if o, err := exec.Command(verifier[0], verifier[1:]...).CombinedOutput(); err != nil {
				t.Errorf("%s refuses the offline-signed image: %v\n%s", verifier[0], err, o)
			}
		})
	}
	if code, _, e := runOurs("sign", in, "--key", key, "--cert", cert, "--export-attributes", filepath.Join(dir, "x")); code == 0 || !strings.Contains(e, "exactly one") {
		t.Errorf("--key with --export-attributes: exit %d %q", code, e)
	}
}
