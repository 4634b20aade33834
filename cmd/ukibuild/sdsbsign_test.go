package main

// The systemd-sbsign signature profile against systemd-sbsign 262.1 (Debian
// sid, run through sid's loader by internal/reftools) and ukify 262.1
// calling it: "sign --profile systemd-sbsign", its offline files, "build
// --signtool=systemd-sbsign" and SecureBootSigningTool=systemd-sbsign.

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// sdEpoch is the SOURCE_DATE_EPOCH of these tests (2025-02-05T12:26:40Z).
const sdEpoch = "1738758400"

// runSystemdSbsign runs systemd-sbsign 262.1 with SOURCE_DATE_EPOCH set to
// epoch, or unset when epoch is "", and fails the test if it fails.
func runSystemdSbsign(t *testing.T, f *fixture, epoch string, args ...string) {
	t.Helper()
	cmd := f.tools.SystemdSbsign(t, args...)
	var env []string
	for _, kv := range cmd.Env {
		if !strings.HasPrefix(kv, "SOURCE_DATE_EPOCH=") {
			env = append(env, kv)
		}
	}
	if epoch != "" {
		env = append(env, "SOURCE_DATE_EPOCH="+epoch)
	}
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("systemd-sbsign %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// sdImages builds an unsigned UKI and an unsigned PE add-on with ukibuild.
func sdImages(t *testing.T, f *fixture, dir string) map[string]string {
	t.Helper()
	uki, addon := filepath.Join(dir, "uki.efi"), filepath.Join(dir, "addon.efi")
	if code, _, e := runOurs("build", "--stub", f.stubs["262"], "--linux", f.kernel, "--initrd", filepath.Join(f.dir, "initrd1"),
		"--cmdline", "console=ttyS0", "--os-release", "@"+filepath.Join(f.dir, "os-release"), "--output", uki); code != 0 {
		t.Fatalf("build: %s", e)
	}
	if code, _, e := runOurs("build", "--stub", f.tools.Path(t, "UKIBUILD_ADDON_STUB_262"), "--cmdline", "ukibuild.addon=1", "--output", addon); code != 0 {
		t.Fatalf("build add-on: %s", e)
	}
	return map[string]string{"uki": uki, "addon": addon, "stub": f.stubs["262"]}
}

// TestSignSystemdSbsignProfile: "ukibuild sign --profile systemd-sbsign"
// writes the bytes of "systemd-sbsign sign" (same key, certificate and
// SOURCE_DATE_EPOCH) for a UKI and an add-on built by ukibuild and the bare
// stub; sbverify and "ukibuild verify" accept them.
func TestSignSystemdSbsignProfile(t *testing.T) {
	f := getFixture(t)
	dir := t.TempDir()
	key, cert := selfSignedKeyCert(t, dir, "db")
	t.Setenv("SOURCE_DATE_EPOCH", sdEpoch)
	for name, in := range sdImages(t, f, dir) {
		t.Run(name, func(t *testing.T) {
			ref, ours := filepath.Join(dir, name+".sd.efi"), filepath.Join(dir, name+".ours.efi")
			runSystemdSbsign(t, f, sdEpoch, "sign", "--private-key", key, "--certificate", cert, "--output", ref, in)
			if code, _, e := runOurs("sign", in, "--profile", "systemd-sbsign", "--key", key, "--cert", cert, "-o", ours); code != 0 {
				t.Fatalf("sign: %s", e)
			}
			compareFiles(t, ref, ours)
			if out, err := exec.Command("sbverify", "--cert", cert, ours).CombinedOutput(); err != nil {
				t.Errorf("sbverify (apt-get install sbsigntool) refuses the signature: %v\n%s", err, out)
			}
			if code, out, e := runOurs("verify", ours, "--cert", cert); code != 0 || !strings.Contains(out, "verification succeeded") {
				t.Errorf("verify: exit %d %s %s", code, out, e)
			}
		})
	}
	// What systemd-sbsign cannot do is refused, and nothing is written.
	in := filepath.Join(dir, "uki.efi")
	for _, extra := range [][]string{{"--chain", cert}, {"--hash", "sha384"}} {
		out := filepath.Join(dir, "refused.efi")
		args := append([]string{"sign", in, "--profile", "systemd-sbsign", "--key", key, "--cert", cert, "-o", out}, extra...)
		if code, _, e := runOurs(args...); code == 0 || !strings.Contains(e, "systemd-sbsign profile") {
			t.Errorf("%v: exit %d, %s", extra, code, e)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%v: an output file was written", extra)
		}
	}
}

// TestSignOfflineSystemdSbsign: with --profile systemd-sbsign,
// --export-attributes writes what "systemd-sbsign sign
// --prepare-offline-signing" writes, and --attach-signature with
// --signed-data (systemd-sbsign's export, made at its current time) writes
// what systemd-sbsign's --signed-data/--signed-data-signature write; and
// systemd-sbsign attaching a signature of our export writes our bytes.
func TestSignOfflineSystemdSbsign(t *testing.T) {
	f := getFixture(t)
	dir := t.TempDir()
	key, cert := selfSignedKeyCert(t, dir, "db")
	images := sdImages(t, f, dir)
	osslSign := func(data string) string {
		t.Helper()
		sig := data + ".sig"
		if out, err := exec.Command("openssl", "dgst", "-sha256", "-sign", key, "-out", sig, data).CombinedOutput(); err != nil {
			t.Fatalf("openssl dgst -sign: %v\n%s", err, out)
		}
		return sig
	}
	for _, name := range []string{"uki", "addon"} {
		in := images[name]
		t.Run(name, func(t *testing.T) {
			d := filepath.Join(dir, name)
			if err := os.Mkdir(d, 0o755); err != nil {
				t.Fatal(err)
			}
			// Step 1 at the same SOURCE_DATE_EPOCH: the same file.
			t.Setenv("SOURCE_DATE_EPOCH", sdEpoch)
			refAttrs, ourAttrs := filepath.Join(d, "sd.attrs"), filepath.Join(d, "ours.attrs")
			runSystemdSbsign(t, f, sdEpoch, "sign", "--certificate", cert, "--prepare-offline-signing", "--output", refAttrs, in)
			if code, out, e := runOurs("sign", in, "--profile", "systemd-sbsign", "--cert", cert, "--export-attributes", ourAttrs); code != 0 || strings.TrimSpace(out) != "sha256" {
				t.Fatalf("export: exit %d, %q, %s", code, out, e)
			}
			compareFiles(t, refAttrs, ourAttrs)

			// systemd-sbsign attaching a signature of our export.
			sig := osslSign(ourAttrs)
			ref, ours := filepath.Join(d, "sd.efi"), filepath.Join(d, "ours.efi")
			runSystemdSbsign(t, f, "", "sign", "--certificate", cert, "--signed-data", ourAttrs, "--signed-data-signature", sig, "--output", ref, in)
			if code, _, e := runOurs("sign", in, "--profile", "systemd-sbsign", "--cert", cert, "--attach-signature", sig, "-o", ours); code != 0 {
				t.Fatalf("attach: %s", e)
			}
			compareFiles(t, ref, ours)

			// systemd-sbsign's export without SOURCE_DATE_EPOCH (its
			// current time), attached by both without it.
			os.Unsetenv("SOURCE_DATE_EPOCH") // restored by t.Setenv's cleanup
			nowAttrs := filepath.Join(d, "now.attrs")
			runSystemdSbsign(t, f, "", "sign", "--certificate", cert, "--prepare-offline-signing", "--output", nowAttrs, in)
			sig = osslSign(nowAttrs)
			ref, ours = filepath.Join(d, "sd-now.efi"), filepath.Join(d, "ours-now.efi")
			runSystemdSbsign(t, f, "", "sign", "--certificate", cert, "--signed-data", nowAttrs, "--signed-data-signature", sig, "--output", ref, in)
			if code, _, e := runOurs("sign", in, "--profile", "systemd-sbsign", "--cert", cert, "--attach-signature", sig, "-o", ours); code == 0 || !strings.Contains(e, "--signed-data") {
				t.Errorf("attach without the signing time: exit %d, %s", code, e)
			}
			if code, _, e := runOurs("sign", in, "--profile", "systemd-sbsign", "--cert", cert, "--signed-data", nowAttrs, "--attach-signature", sig, "-o", ours); code != 0 {
				t.Fatalf("attach with --signed-data: %s", e)
			}
			compareFiles(t, ref, ours)
			if out, err := exec.Command("sbverify", "--cert", cert, ours).CombinedOutput(); err != nil {
				t.Errorf("sbverify refuses the offline-signed image: %v\n%s", err, out)
			}
		})
	}
	// Attributes of another image are refused, naming the file; nothing
	// is written.
	other := filepath.Join(dir, "other.attrs")
	runSystemdSbsign(t, f, sdEpoch, "sign", "--certificate", cert, "--prepare-offline-signing", "--output", other, images["stub"])
	sig := osslSign(other)
	out := filepath.Join(dir, "refused.efi")
	if code, _, e := runOurs("sign", images["uki"], "--profile", "systemd-sbsign", "--cert", cert, "--signed-data", other, "--attach-signature", sig, "-o", out); code == 0 ||
		!strings.Contains(e, other) || !strings.Contains(e, "messageDigest") {
		t.Errorf("attributes of another image: exit %d, %s", code, e)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("an output file was written for attributes of another image")
	}
	// --signed-data belongs to step 2 only.
	for _, mode := range [][]string{{"--key", key}, {"--export-attributes", filepath.Join(dir, "x.attrs")}} {
		args := append([]string{"sign", images["uki"], "--profile", "systemd-sbsign", "--cert", cert, "--signed-data", other, "-o", out}, mode...)
		if code, _, e := runOurs(args...); code == 0 || !strings.Contains(e, "--signed-data goes with --attach-signature") {
			t.Errorf("--signed-data with %s: exit %d, %s", mode[0], code, e)
		}
	}
}

// TestBuildSystemdSbsignMatchesUkify: "build --signtool=systemd-sbsign"
// (and --signature-profile=systemd-sbsign, and SecureBootSigningTool= in a
// configuration file) makes the bytes ukify 262.1 makes running
// systemd-sbsign 262.1, for a UKI whose kernel gets signed too and for an
// add-on; both take the signing time from SOURCE_DATE_EPOCH.
func TestBuildSystemdSbsignMatchesUkify(t *testing.T) {
	f := getFixture(t)
	tools := sidToolsDir(t, f)
	kdir := t.TempDir()
	key, cert := selfSignedKeyCert(t, kdir, "db")
	t.Setenv("SOURCE_DATE_EPOCH", sdEpoch)
	sb := []string{"--secureboot-private-key", key, "--secureboot-certificate", cert}
	uki := append([]string{"build", "--stub", f.stubs["262"], "--linux", f.kernel, "--initrd", filepath.Join(f.dir, "initrd1"),
		"--cmdline", "console=ttyS0", "--os-release", "@" + filepath.Join(f.dir, "os-release")}, sb...)
	addon := append([]string{"build", "--stub", f.tools.Path(t, "UKIBUILD_ADDON_STUB_262"), "--cmdline", "ukibuild.addon=1"}, sb...)
	conf := writeFile(kdir, "uki.conf", []byte("[UKI]\nSecureBootPrivateKey="+key+"\nSecureBootCertificate="+cert+"\nSecureBootSigningTool=systemd-sbsign\n"))
	confArgs := []string{"build", "--config", conf, "--stub", f.stubs["262"], "--linux", f.kernel, "--cmdline", "quiet", "--os-release", "ID=test"}
	for _, c := range []struct {
		name       string
		args       []string
		ours       []string // ukibuild's own arguments, after args
		ukifyExtra []string // ukify only: systemd-sbsign cannot tell whether a kernel is signed
	}{
		{"uki-signtool", uki, []string{"--signtool", "systemd-sbsign"}, []string{"--signtool", "systemd-sbsign", "--sign-kernel"}},
		{"uki-profile", uki, []string{"--signature-profile", "systemd-sbsign"}, []string{"--signtool", "systemd-sbsign", "--sign-kernel"}},
		{"addon-signtool", addon, []string{"--signtool", "systemd-sbsign"}, []string{"--signtool", "systemd-sbsign"}},
		{"config", confArgs, nil, []string{"--sign-kernel"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			ref, ours := filepath.Join(dir, "ukify.efi"), filepath.Join(dir, "ours.efi")
			if code, _, e := runUkify(t, f.tools, dir, append(append(append([]string{}, c.args...), c.ukifyExtra...), "--tools", tools, "--output", ref)...); code != 0 {
				t.Fatalf("ukify: %s", e)
			}
			code, _, e := runOurs(append(append(append([]string{}, c.args...), c.ours...), "--output", ours)...)
			if code != 0 {
				t.Fatalf("ukibuild: %s", e)
			}
			compareFiles(t, ref, ours)
			if out, err := exec.Command("sbverify", "--cert", cert, ours).CombinedOutput(); err != nil {
				t.Errorf("sbverify refuses the image: %v\n%s", err, out)
			}
		})
	}
}
