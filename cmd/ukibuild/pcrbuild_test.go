package main

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ukibuild/ukibuild/keys"
)

// sidToolsDir writes wrappers that run sid's systemd-measure,
// systemd-keyutil and systemd-sbsign through sid's loader, for ukify's
// --tools.
func sidToolsDir(t *testing.T, f *fixture) string {
	t.Helper()
	dir := t.TempDir()
	root := f.tools.Path(t, "UKIBUILD_SID_ROOT")
	libs := f.tools.Var("UKIBUILD_SID_LIBRARY_PATH")
	for _, tool := range []string{"systemd-measure", "systemd-keyutil", "systemd-sbsign"} {
		bin := filepath.Join(root, "usr/lib/systemd", tool)
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("%s: %v (run internal/reftools/fetch.sh)", tool, err)
		}
		script := fmt.Sprintf("#!/bin/sh\nexec %s/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 --library-path %s %s \"$@\"\n", root, libs, bin)
		if err := os.WriteFile(filepath.Join(dir, tool), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// selfSignedCert writes a certificate for the key in privPath.
func selfSignedCert(t *testing.T, dir, privPath string) string {
	t.Helper()
	return selfSignedCertNamed(t, dir, privPath, "pcr")
}

// selfSignedCertNamed writes NAME.crt, a certificate for the key in privPath.
func selfSignedCertNamed(t *testing.T, dir, privPath, name string) string {
	t.Helper()
	signer, err := keys.PrivateKey(privPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ukibuild test " + name},
		NotBefore: time.Unix(0, 0), NotAfter: time.Unix(4e9, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, signer.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(dir, name+".crt", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// TestBuildWithPCRKeysMatchesUkify: with PCR signing keys, the UKI (with its
// .pcrpkey and .pcrsig) is byte-identical to ukify 262.1's, which runs
// systemd-measure and systemd-keyutil 262.1 (RSASSA-PKCS1-v1_5 signatures
// are deterministic); on the x86-64, arm64 and riscv64 stubs.
func TestBuildWithPCRKeysMatchesUkify(t *testing.T) {
	f := getFixture(t)
	for _, stub := range profileStubs {
		t.Run(stub, func(t *testing.T) { testBuildWithPCRKeys(t, f, stub) })
	}
}

func testBuildWithPCRKeys(t *testing.T, f *fixture, stub string) {
	tools := sidToolsDir(t, f)
	kdir := t.TempDir()
	k1, p1 := rsaKeyPEM(t, kdir, "k1")
	k2, _ := rsaKeyPEM(t, kdir, "k2")
	cert := selfSignedCert(t, kdir, k1)
	base := []string{"build", "--stub", f.stubs[stub], "--linux", f.kernelFor(stub), "--efi-arch", stubArch(stub), "--initrd", filepath.Join(f.dir, "initrd1"),
		"--cmdline", "console=ttyS0", "--os-release", "@" + filepath.Join(f.dir, "os-release")}
	cases := map[string][]string{
		"one-key":             {"--pcr-private-key", k1},
		"public-key-phases":   {"--pcr-private-key", k1, "--pcr-public-key", p1, "--phases", "enter-initrd, enter-initrd:leave-initrd", "--pcr-banks", "sha256,sha1"},
		"certificate":         {"--pcr-private-key", k1, "--pcr-certificate", cert, "--pcr-banks", "sha384"},
		"two-keys":            {"--pcr-private-key", k1, "--phases", "enter-initrd", "--pcr-private-key", k2, "--phases", "enter-initrd:leave-initrd enter-initrd:leave-initrd:sysinit"},
		"two-keys-policyrefs": {"--pcr-private-key", k1, "--policyref", "initrd", "--pcr-private-key", k2, "--policyref", "system"},
	}
	for name, extra := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			ref, ours := filepath.Join(dir, "ukify.efi"), filepath.Join(dir, "ours.efi")
			args := append(append([]string{}, base...), extra...)
			if code, _, e := runUkify(t, f.tools, dir, append(args, "--tools", tools, "--output", ref)...); code != 0 {
				t.Fatalf("ukify: %s", e)
			}
			if code, _, e := runOurs(append(args, "--output", ours)...); code != 0 {
				t.Fatalf("ukibuild: %s", e)
			}
			compareFiles(t, ref, ours)
			if stub == "262" {
				compareInspect(t, f, dir, ours)
			} else {
				compareInspectModes(t, f, dir, ours, inspectShort...)
			}
			_, out, _ := runUkify(t, f.tools, dir, "inspect", ours, "--section", ".pcrsig:text", "--section", ".pcrpkey:text", "--json=short")
			if !strings.Contains(out, `\"sig\": \"`) || !strings.Contains(out, "BEGIN PUBLIC KEY") && name != "two-keys" && name != "two-keys-policyrefs" {
				t.Errorf("no signed .pcrsig or no .pcrpkey: %s", out)
			}
		})
	}
}

// TestBuildMeasureAndOfflineSigningMatchUkify: --measure output, the
// --policy-digest UKI and printed policies, and --join-pcrsig with
// signatures made offline by openssl are byte-identical to ukify's.
func TestBuildMeasureAndOfflineSigningMatchUkify(t *testing.T) {
	f := getFixture(t)
	tools := sidToolsDir(t, f)
	kdir := t.TempDir()
	k1, p1 := rsaKeyPEM(t, kdir, "k1")
	base := []string{"build", "--stub", f.stubs["262"], "--linux", f.kernel, "--initrd", filepath.Join(f.dir, "initrd1"),
		"--cmdline", "console=ttyS0", "--os-release", "@" + filepath.Join(f.dir, "os-release")}
	both := func(t *testing.T, dir string, extra ...string) (ukifyOut, oursOut string) {
		t.Helper()
		ref, ours := filepath.Join(dir, "ukify.efi"), filepath.Join(dir, "ours.efi")
		args := append(append([]string{}, base...), extra...)
		code, uout, e := runUkify(t, f.tools, dir, append(args, "--tools", tools, "--output", ref)...)
		if code != 0 {
			t.Fatalf("ukify: %s", e)
		}
		code, oout, e := runOurs(append(args, "--output", ours)...)
		if code != 0 {
			t.Fatalf("ukibuild: %s", e)
		}
		compareFiles(t, ref, ours)
		return uout, oout
	}
	for _, mode := range []string{"off", "short", "pretty"} {
		t.Run("measure-"+mode, func(t *testing.T) {
			u, o := both(t, t.TempDir(), "--measure", "--json", mode, "--pcr-private-key", k1, "--phases", "enter-initrd enter-initrd:leave-initrd", "--pcr-banks", "sha1,sha256")
			if u != o || !strings.Contains(u, "11") {
				t.Errorf("--measure output differs:\n--- ukify\n%s\n--- ukibuild\n%s", u, o)
			}
		})
	}
	t.Run("policy-digest-then-join", func(t *testing.T) {
		dir := t.TempDir()
		u, o := both(t, dir, "--policy-digest", "--pcr-public-key", p1, "--sign-initrd-pcrs", "--pcr-banks", "sha256")
		if u != o || !strings.Contains(u, `"tbs"`) {
			t.Fatalf("--policy-digest output differs:\n--- ukify\n%q\n--- ukibuild\n%q", u, o)
		}
		// Sign every "tbs" offline with openssl, as a hash-only signer would.
		var policies map[string][]map[string]any
		if err := json.Unmarshal([]byte(u), &policies); err != nil {
			t.Fatalf("policy digest output: %v", err)
		}
		for _, list := range policies {
			for _, p := range list {
				tbs, err := hex.DecodeString(p["tbs"].(string))
				if err != nil {
					t.Fatal(err)
				}
				in := writeFile(dir, "tbs", tbs)
				sig, err := exec.Command("openssl", "dgst", "-sha256", "-sign", k1, in).Output()
				if err != nil {
					t.Fatalf("openssl dgst -sign: %v", err)
				}
				p["sig"] = base64.StdEncoding.EncodeToString(sig)
			}
		}
		signed, _ := json.Marshal(policies)
		sigFile := writeFile(dir, "signed.json", signed)
		ref, ours := filepath.Join(dir, "ukify-signed.efi"), filepath.Join(dir, "ours-signed.efi")
		if code, _, e := runUkify(t, f.tools, dir, "build", "--join-pcrsig", filepath.Join(dir, "ukify.efi"), "--pcrsig", "@"+sigFile, "--output", ref); code != 0 {
			t.Fatalf("ukify --join-pcrsig: %s", e)
		}
		if code, _, e := runOurs("build", "--join-pcrsig", filepath.Join(dir, "ours.efi"), "--pcrsig", "@"+sigFile, "--output", ours); code != 0 {
			t.Fatalf("ukibuild --join-pcrsig: %s", e)
		}
		compareFiles(t, ref, ours)
		_, out, _ := runUkify(t, f.tools, dir, "inspect", ours, "--section", ".pcrsig:text", "--json=short")
		// The default 4 phases plus the enter-initrd policy with ref "initrd".
		if n := strings.Count(out, `\"sig\"`); n != 5 {
			t.Errorf("want 5 signed policies in .pcrsig, found %d: %s", n, out)
		}
	})
}
