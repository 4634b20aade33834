package main

// Multi-profile UKIs, add-ons, .dtbauto, .hwids and .efifw against the real
// ukify 262.1 (with sid's systemd-measure and systemd-keyutil), systemd-measure
// 262.1 and a simulated TPM.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// buildBoth builds with ukify (run with sid's tools) and with ukibuild from
// the same arguments in dir, checks that the images are byte-identical and
// returns both standard outputs. The images are dir/ukify.efi and
// dir/ours.efi.
func buildBoth(t *testing.T, f *fixture, dir string, args ...string) (ukifyOut, oursOut string) {
	t.Helper()
	ref, ours := filepath.Join(dir, "ukify.efi"), filepath.Join(dir, "ours.efi")
	args = append([]string{"build"}, args...)
	code, uout, e := runUkify(t, f.tools, dir, append(args, "--tools", sidToolsDir(t, f), "--output", ref)...)
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

// profilePEs builds the profile PEs to join with ukify on the add-on stub
// and checks that ukibuild builds the same bytes. The second has .osrel
// (which is copied only when the base has one).
func profilePEs(t *testing.T, f *fixture, dir string) []string {
	t.Helper()
	addon := f.tools.Path(t, "UKIBUILD_ADDON_STUB_262")
	osrel := writeFile(dir, "profile-osrel", []byte("ID=debug-os\n"))
	var out []string
	for i, extra := range [][]string{
		{"--profile", "ID=factory-reset\nTITLE=Factory Reset", "--cmdline", "systemd.unit=factory-reset.target"},
		{"--profile", "ID=\"debug\"\nTITLE='Debug ünicode'", "--cmdline", "@" + writeFile(dir, "debug-cmdline", []byte("debug loglevel=7")),
			"--os-release", "@" + osrel},
	} {
		sub := filepath.Join(dir, fmt.Sprintf("p%d", i))
		if err := os.Mkdir(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		buildBoth(t, f, sub, append([]string{"--stub", addon}, extra...)...)
		out = append(out, filepath.Join(sub, "ukify.efi"))
	}
	return out
}

// TestJoinProfilesMatchUkify: UKIs with two joined profiles, without and
// with PCR keys, --sign-profile, --measure and --policy-digest, are
// byte-identical to ukify's, print the same, and inspect the same.
func TestJoinProfilesMatchUkify(t *testing.T) {
	f := getFixture(t)
	pdir := t.TempDir()
	profiles := profilePEs(t, f, pdir)
	kdir := t.TempDir()
	k1, p1 := rsaKeyPEM(t, kdir, "k1")
	k2, _ := rsaKeyPEM(t, kdir, "k2")
	baseProfile := writeFile(kdir, "base-profile", []byte("ID=base\r\nTITLE=Base\r\n"))
	base := []string{"--stub", f.stubs["262"], "--linux", f.kernel, "--initrd", filepath.Join(f.dir, "initrd1"),
		"--cmdline", "quiet", "--os-release", "@" + filepath.Join(f.dir, "os-release"),
		"--join-profile", profiles[0], "--join-profile", profiles[1]}
	cases := []struct {
		name      string
		extra     []string
		cmpStdout bool
	}{
		{name: "no-keys"},
		{name: "one-key", extra: []string{"--pcr-private-key", k1, "--pcr-banks", "sha256"}},
		{name: "two-keys-sign-one-profile", extra: []string{"--pcr-private-key", k1, "--phases", "enter-initrd", "--pcr-private-key", k2,
			"--phases", "enter-initrd:leave-initrd", "--sign-profile", "factory-reset"}},
		{name: "sign-main-and-quoted-id", extra: []string{"--pcr-private-key", k1, "--sign-profile", "main", "--sign-profile", "debug", "--pcr-banks", "sha1"}},
		{name: "explicit-base-profile", extra: []string{"--profile", "@" + baseProfile, "--pcr-private-key", k1, "--sign-profile", "base", "--pcr-banks", "sha256"}},
		{name: "measure", extra: []string{"--measure", "--json", "short", "--pcr-private-key", k1, "--pcr-banks", "sha256,sha384"}, cmpStdout: true},
		{name: "policy-digest", extra: []string{"--policy-digest", "--pcr-public-key", p1, "--sign-initrd-pcrs", "--pcr-banks", "sha256"}, cmpStdout: true},
		{name: "policy-digest-one-profile", extra: []string{"--policy-digest", "--pcr-public-key", p1, "--sign-profile", "debug", "--pcr-banks", "sha256"}, cmpStdout: true},
		{name: "no-osrel", extra: []string{"--os-release", ""}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			u, o := buildBoth(t, f, dir, append(append([]string{}, base...), c.extra...)...)
			if c.cmpStdout && (u != o || u == "") {
				t.Errorf("stdout differs:\n--- ukify\n%s\n--- ukibuild\n%s", u, o)
			}
			compareInspect(t, f, dir, filepath.Join(dir, "ours.efi"))
		})
	}
}

// TestAddonsMatchUkify: PE add-ons (no --linux: the add-on stub, the add-on
// SBAT default, .sbat not measured) are byte-identical to ukify's.
func TestAddonsMatchUkify(t *testing.T) {
	f := getFixture(t)
	addon := f.tools.Path(t, "UKIBUILD_ADDON_STUB_262")
	kdir := t.TempDir()
	k1, _ := rsaKeyPEM(t, kdir, "k1")
	d := f.dir
	dtb2 := writeFile(kdir, "dtb2", append([]byte{0xd0, 0x0d, 0xfe, 0xed}, randomBytes(9, 200)...))
	cases := map[string][]string{
		"cmdline-initrd": {"--cmdline", "  console=ttyS0   debug ", "--initrd", filepath.Join(d, "initrd1")},
		"all-parts": {"--cmdline", "@" + filepath.Join(d, "cmdline"), "--devicetree", filepath.Join(d, "dtb"),
			"--devicetree-auto", filepath.Join(d, "dtb"), "--devicetree-auto", dtb2,
			"--initrd", filepath.Join(d, "initrd1"), "--initrd", filepath.Join(d, "initrd2"),
			"--microcode", filepath.Join(d, "ucode"), "--uname", "6.1.0-50-amd64", "--sbat", "@" + filepath.Join(d, "sbat.csv")},
	}
	for name, extra := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			buildBoth(t, f, dir, append([]string{"--stub", addon}, extra...)...)
			compareInspect(t, f, dir, filepath.Join(dir, "ours.efi"))
		})
	}
	t.Run("pcr-key", func(t *testing.T) {
		// systemd-measure refuses to predict without --linux, so ukify
		// cannot sign PCR policies for an add-on; neither does ukibuild.
		dir := t.TempDir()
		args := []string{"build", "--stub", addon, "--cmdline", "quiet", "--pcr-private-key", k1, "--output", filepath.Join(dir, "a.efi")}
		if code, _, e := runUkify(t, f.tools, dir, append(args, "--tools", sidToolsDir(t, f))...); code == 0 || !strings.Contains(e, "--linux") {
			t.Errorf("ukify: exit %d, %s", code, e)
		}
		if code, _, e := runOurs(args...); code == 0 || !strings.Contains(e, "need a kernel") {
			t.Errorf("ukibuild: exit %d, %s", code, e)
		}
	})
	t.Run("default-stub-and-output", func(t *testing.T) {
		// Without --stub an add-on uses addon<arch>.efi.stub; without
		// --output it fails, as ukify does.
		code, _, e := runOurs("build", "--cmdline", "quiet", "--efi-arch", "x64")
		if code == 0 || !strings.Contains(e, "--output must be given") {
			t.Errorf("exit %d, %s", code, e)
		}
		code, _, e = runOurs("build", "--cmdline", "quiet", "--efi-arch", "x64", "--output", filepath.Join(t.TempDir(), "a.efi"))
		if code == 0 || !strings.Contains(e, "/usr/lib/systemd/boot/efi/addonx64.efi.stub") {
			t.Errorf("exit %d, %s: want an error naming the default add-on stub", code, e)
		}
	})
}

// hwidsDir writes device descriptions for the test devicetrees.
func hwidsDir(t *testing.T, dir string) string {
	t.Helper()
	hw := filepath.Join(dir, "hwids")
	if err := os.MkdirAll(filepath.Join(hw, "vendor"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, dev := range map[string]map[string]any{
		"board-a.json":        {"type": "devicetree", "name": "Board A", "compatible": "test,board-a", "hwids": []string{"45d37dbe-40fb-57bd-a257-55f422d4dc0a", "373bfde5-ffaa-504c-84f3-f8f5357dfc29"}},
		"vendor/board-b.json": {"type": "devicetree", "name": "Board B", "compatible": "test,board-b", "hwids": []string{"{e12521bf-0ed8-5406-af87-adad812c57c5}"}},
		"fw.json":             {"type": "uefi-fw", "name": "Board A firmware", "fwid": "test-fw", "hwids": []string{"45d37dbe-40fb-57bd-a257-55f422d4dc0a"}},
	} {
		b, _ := json.Marshal(dev)
		writeFile(hw, name, b)
	}
	return hw
}

// TestDevicetreeAutoHWIDsEFIFWMatchUkify: UKIs with two .dtbauto and a
// .hwids table, with PCR keys (one policy set per devicetree) and
// --measure, and with .efifw firmware, are byte-identical to ukify's.
func TestDevicetreeAutoHWIDsEFIFWMatchUkify(t *testing.T) {
	f := getFixture(t)
	kdir := t.TempDir()
	k1, _ := rsaKeyPEM(t, kdir, "k1")
	k2, _ := rsaKeyPEM(t, kdir, "k2")
	dtb2 := writeFile(kdir, "dtb2", append([]byte{0xd0, 0x0d, 0xfe, 0xed}, randomBytes(10, 500)...))
	hw := hwidsDir(t, kdir)
	for _, fw := range []string{"test-fw", "other-fw"} {
		if err := os.MkdirAll(filepath.Join(kdir, "fw", fw), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(filepath.Join(kdir, "fw", fw), "firmware.bin", randomBytes(uint64(len(fw)), 3000))
	}
	sid := filepath.Join(f.tools.Path(t, "UKIBUILD_SID_ROOT"), "usr/lib/systemd/boot/hwids/aa64")
	base := []string{"--stub", f.stubs["262"], "--linux", f.kernel, "--initrd", filepath.Join(f.dir, "initrd1"),
		"--cmdline", "quiet", "--os-release", "@" + filepath.Join(f.dir, "os-release"),
		"--devicetree-auto", filepath.Join(f.dir, "dtb"), "--devicetree-auto", dtb2}
	cases := []struct {
		name      string
		extra     []string
		cmpStdout bool
	}{
		{name: "hwids-two-keys", extra: []string{"--hwids", hw, "--pcr-private-key", k1, "--pcr-private-key", k2, "--phases", "enter-initrd", "--phases", "enter-initrd:leave-initrd"}},
		{name: "sid-hwids-measure", extra: []string{"--hwids", sid, "--measure", "--pcr-private-key", k1, "--pcr-banks", "sha256"}, cmpStdout: true},
		{name: "efifw", extra: []string{"--hwids", hw, "--efifw", filepath.Join(kdir, "fw", "test-fw"), "--efifw", filepath.Join(kdir, "fw", "other-fw") + "/",
			"--pcr-private-key", k1}},
		{name: "no-hwids", extra: []string{"--hwids", ""}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			u, o := buildBoth(t, f, dir, append(append([]string{}, base...), c.extra...)...)
			if c.cmpStdout && (u != o || strings.Count(u, "sha256") != 2*4) {
				t.Errorf("stdout differs (or is not one calculation per devicetree):\n--- ukify\n%s\n--- ukibuild\n%s", u, o)
			}
			compareInspect(t, f, dir, filepath.Join(dir, "ours.efi"))
		})
	}
}
