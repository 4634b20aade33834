package main

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestJoinPCRSigSecureBoot: --join-pcrsig with Secure Boot keys writes a
// UKI that sbverify accepts, with the same .pcrsig as the unsigned join; a
// signed input is refused (exit 1, no output) unless
// --existing-signature=drop, which gives the unsigned join byte for byte,
// or, with keys, a UKI signed once by the new key.
func TestJoinPCRSigSecureBoot(t *testing.T) {
	f := getFixture(t)
	dir := t.TempDir()
	pcrKey, _ := rsaKeyPEM(t, dir, "pcr")
	pub, err := exec.Command("openssl", "rsa", "-in", pcrKey, "-pubout").Output()
	if err != nil {
		t.Fatalf("openssl rsa -pubout: %v", err)
	}
	digest := filepath.Join(dir, "digest.efi")
	code, out, e := runOurs("build", "--stub", f.stubs["262"], "--linux", f.kernel, "--pcr-public-key", writeFile(dir, "pcr.pub", pub),
		"--policy-digest", "--pcr-banks", "sha256", "--output", digest)
	if code != 0 {
		t.Fatalf("build --policy-digest: %s", e)
	}
	// The policies signed offline by openssl, as an HSM elsewhere would.
	var policies map[string][]map[string]any
	if err := json.Unmarshal([]byte(out), &policies); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, list := range policies {
		for _, p := range list {
			tbs, err := hex.DecodeString(p["tbs"].(string))
			if err != nil {
				t.Fatal(err)
			}
			sig, err := exec.Command("openssl", "dgst", "-sha256", "-sign", pcrKey, writeFile(dir, "tbs", tbs)).Output()
			if err != nil {
				t.Fatalf("openssl dgst -sign: %v", err)
			}
			p["sig"] = base64.StdEncoding.EncodeToString(sig)
		}
	}
	signed, _ := json.Marshal(policies)
	sigs := "@" + writeFile(dir, "signed.json", signed)
	dbKey, dbCert := selfSignedKeyCert(t, dir, "db")
	otherKey, otherCert := selfSignedKeyCert(t, dir, "other")
	join := func(in, out string, extra ...string) (int, string) {
		code, _, e := runOurs(append([]string{"build", "--join-pcrsig", in, "--pcrsig", sigs, "--output", out}, extra...)...)
		return code, e
	}
	sbverify := func(file, cert string) string {
		out, err := exec.Command("sbverify", "--cert", cert, file).CombinedOutput()
		if err != nil {
			t.Errorf("sbverify --cert %s %s: %v\n%s", cert, file, err, out)
		}
		list, _ := exec.Command("sbverify", "--list", file).CombinedOutput()
		return string(list)
	}
	unsignedJoin := filepath.Join(dir, "joined.efi")
	if code, e := join(digest, unsignedJoin); code != 0 {
		t.Fatalf("join: %s", e)
	}
	signedJoin := filepath.Join(dir, "joined-signed.efi")
	if code, e := join(digest, signedJoin, "--secureboot-private-key", dbKey, "--secureboot-certificate", dbCert); code != 0 {
		t.Fatalf("join with Secure Boot keys: %s", e)
	}
	sbverify(signedJoin, dbCert)
	a, b := pcrsigSection(t, unsignedJoin), pcrsigSection(t, signedJoin)
	if !bytes.Contains(a, []byte(`"sig"`)) || !bytes.Equal(a, b) {
		t.Errorf(".pcrsig of the signed join differs from the unsigned one's:\n%s\n%s", a, b)
	}

	// A signed input.
	signedIn := filepath.Join(dir, "digest-signed.efi")
	if code, _, e := runOurs("sign", digest, "-o", signedIn, "--key", otherKey, "--cert", otherCert); code != 0 {
		t.Fatalf("sign: %s", e)
	}
	for _, extra := range [][]string{nil, {"--secureboot-private-key", dbKey, "--secureboot-certificate", dbCert}} {
		refused := filepath.Join(dir, "refused.efi")
		if code, e := join(signedIn, refused, extra...); code != 1 || !strings.Contains(e, signedIn+" is signed") || !strings.Contains(e, "--existing-signature=drop") {
			t.Errorf("signed input %v: exit %d, %s", extra, code, e)
		}
		if _, err := os.Stat(refused); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("a refused join left %s", refused)
		}
	}
	dropped := filepath.Join(dir, "dropped.efi")
	if code, e := join(signedIn, dropped, "--existing-signature", "drop"); code != 0 {
		t.Fatalf("--existing-signature=drop: %s", e)
	}
	if list, _ := exec.Command("sbverify", "--list", dropped).CombinedOutput(); !strings.Contains(string(list), "No signature table present") {
		t.Errorf("sbverify --list of the dropped join:\n%s", list)
	}
	compareFiles(t, unsignedJoin, dropped)
	resigned := filepath.Join(dir, "resigned.efi")
	if code, e := join(signedIn, resigned, "--existing-signature", "drop", "--secureboot-private-key", dbKey, "--secureboot-certificate", dbCert); code != 0 {
		t.Fatalf("--existing-signature=drop with keys: %s", e)
	}
	if list := sbverify(resigned, dbCert); len(regexp.MustCompile(`(?m)^signature \d+$`).FindAllString(list, -1)) != 1 {
		t.Errorf("sbverify --list: want one signature:\n%s", list)
	}
	if code, _, e := runOurs("build", "--stub", f.stubs["262"], "--linux", f.kernel, "--existing-signature", "drop", "--output", filepath.Join(dir, "x.efi")); code == 0 || !strings.Contains(e, "--existing-signature is for --join-pcrsig") {
		t.Errorf("--existing-signature without --join-pcrsig: exit %d, %s", code, e)
	}
}

// pcrsigSection returns the .pcrsig section's bytes as objcopy extracts them.
func pcrsigSection(t *testing.T, file string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "pcrsig")
	if b, err := exec.Command("objcopy", "-O", "binary", "--only-section=.pcrsig", file, out).CombinedOutput(); err != nil {
		t.Fatalf("objcopy: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.TrimRight(b, "\x00")
}
