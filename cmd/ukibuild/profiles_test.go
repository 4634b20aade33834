package main

// Multi-profile UKIs, add-ons, .dtbauto, .hwids and .efifw against the real
// ukify 262.1 (with sid's systemd-measure and systemd-keyutil), systemd-measure
// 262.1 and a simulated TPM.

import (
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-tpm/tpm2/transport/simulator"

	"github.com/ukibuild/ukibuild/internal/tpmunseal"
	"github.com/ukibuild/ukibuild/keys"
	"github.com/ukibuild/ukibuild/pcr"
)

// inspectShort is what the profile tests compare inspect in (the JSON with
// "_profiles" and the text); one case per test compares every mode.
var inspectShort = [][]string{{"--json=short"}, {}}

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
	return profilePEsArch(t, f, dir, "262")
}

// profilePEsArch is profilePEs on the add-on stub that goes with the stub
// key stub (UKIBUILD_ADDON_STUB_<stub>).
func profilePEsArch(t *testing.T, f *fixture, dir, stub string) []string {
	t.Helper()
	addon := f.tools.Path(t, "UKIBUILD_ADDON_STUB_"+stub)
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

// profileStubs are the 262.1 stubs of every architecture whose add-on stub
// Debian ships, as stub keys.
var profileStubs = []string{"262", "262_AA64", "262_RISCV64"}

// TestJoinProfilesMatchUkify: UKIs with two joined profiles, without and
// with PCR keys, --sign-profile, --measure and --policy-digest, are
// byte-identical to ukify's, print the same, and inspect the same; on the
// x86-64, arm64 and riscv64 stubs.
func TestJoinProfilesMatchUkify(t *testing.T) {
	f := getFixture(t)
	for _, stub := range profileStubs {
		t.Run(stub, func(t *testing.T) {
			t.Parallel()
			testJoinProfiles(t, f, stub)
		})
	}
}

func testJoinProfiles(t *testing.T, f *fixture, stub string) {
	pdir := t.TempDir()
	profiles := profilePEsArch(t, f, pdir, stub)
	kdir := t.TempDir()
	k1, p1 := rsaKeyPEM(t, kdir, "k1")
	k2, _ := rsaKeyPEM(t, kdir, "k2")
	baseProfile := writeFile(kdir, "base-profile", []byte("ID=base\r\nTITLE=Base\r\n"))
	base := []string{"--stub", f.stubs[stub], "--linux", f.kernelFor(stub), "--efi-arch", stubArch(stub), "--initrd", filepath.Join(f.dir, "initrd1"),
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
			if c.name == "one-key" && stub == "262" {
				compareInspect(t, f, dir, filepath.Join(dir, "ours.efi"))
			} else {
				compareInspectModes(t, f, dir, filepath.Join(dir, "ours.efi"), inspectShort...)
			}
		})
	}
}

// TestAddonsMatchUkify: PE add-ons (no --linux: the add-on stub, the add-on
// SBAT default, .sbat not measured) are byte-identical to ukify's, on every
// add-on stub Debian ships (x86-64 262.1, arm64 254, 257 and 262.1, riscv64
// 257 and 262.1; the arm64 ones with real arm64 devicetrees).
func TestAddonsMatchUkify(t *testing.T) {
	f := getFixture(t)
	addon := f.tools.Path(t, "UKIBUILD_ADDON_STUB_262")
	kdir := t.TempDir()
	k1, _ := rsaKeyPEM(t, kdir, "k1")
	d := f.dir
	dtb2 := writeFile(kdir, "dtb2", append([]byte{0xd0, 0x0d, 0xfe, 0xed}, randomBytes(9, 200)...))
	cases := map[string]func(dtb1, dtb2 string) []string{
		"cmdline-initrd": func(_, _ string) []string {
			return []string{"--cmdline", "  console=ttyS0   debug ", "--initrd", filepath.Join(d, "initrd1")}
		},
		"all-parts": func(dtb1, dtb2 string) []string {
			return []string{"--cmdline", "@" + filepath.Join(d, "cmdline"), "--devicetree", dtb1,
				"--devicetree-auto", dtb1, "--devicetree-auto", dtb2,
				"--initrd", filepath.Join(d, "initrd1"), "--initrd", filepath.Join(d, "initrd2"),
				"--microcode", filepath.Join(d, "ucode"), "--uname", "6.1.0-50-amd64", "--sbat", "@" + filepath.Join(d, "sbat.csv")}
		},
	}
	for _, stub := range []string{"262", "254_AA64", "257_AA64", "262_AA64", "257_RISCV64", "262_RISCV64"} {
		dtbs := [2]string{filepath.Join(d, "dtb"), dtb2}
		if stubArch(stub) == "aa64" {
			dtbs = f.dtbAA64
		}
		for name, extra := range cases {
			t.Run(stub+"/"+name, func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				buildBoth(t, f, dir, append([]string{"--stub", f.tools.Path(t, "UKIBUILD_ADDON_STUB_"+stub), "--efi-arch", stubArch(stub)}, extra(dtbs[0], dtbs[1])...)...)
				compareInspectModes(t, f, dir, filepath.Join(dir, "ours.efi"), inspectShort...)
			})
		}
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
// --measure, and with .efifw firmware (without keys), are byte-identical to ukify's; on the
// x86-64, arm64 (with real arm64 devicetrees) and riscv64 stubs.
func TestDevicetreeAutoHWIDsEFIFWMatchUkify(t *testing.T) {
	f := getFixture(t)
	for _, stub := range profileStubs {
		t.Run(stub, func(t *testing.T) {
			t.Parallel()
			testDevicetreeAutoHWIDsEFIFW(t, f, stub)
		})
	}
}

func testDevicetreeAutoHWIDsEFIFW(t *testing.T, f *fixture, stub string) {
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
	dtbs := [2]string{filepath.Join(f.dir, "dtb"), dtb2}
	if stubArch(stub) == "aa64" {
		dtbs = f.dtbAA64
	}
	base := []string{"--stub", f.stubs[stub], "--linux", f.kernelFor(stub), "--efi-arch", stubArch(stub), "--initrd", filepath.Join(f.dir, "initrd1"),
		"--cmdline", "quiet", "--os-release", "@" + filepath.Join(f.dir, "os-release"),
		"--devicetree-auto", dtbs[0], "--devicetree-auto", dtbs[1]}
	cases := []struct {
		name      string
		extra     []string
		cmpStdout bool
	}{
		{name: "hwids-two-keys", extra: []string{"--hwids", hw, "--pcr-private-key", k1, "--pcr-private-key", k2, "--phases", "enter-initrd", "--phases", "enter-initrd:leave-initrd"}},
		{name: "sid-hwids-measure", extra: []string{"--hwids", sid, "--measure", "--pcr-private-key", k1, "--pcr-banks", "sha256"}, cmpStdout: true},
		// Without PCR keys: with them, the .pcrsig for a stub that
		// measures .efifw has more policies than ukify's (see
		// TestEFIFWMeasureAndUnseal).
		{name: "efifw", extra: []string{"--hwids", hw, "--efifw", filepath.Join(kdir, "fw", "test-fw"), "--efifw", filepath.Join(kdir, "fw", "other-fw") + "/"}},
		{name: "no-hwids", extra: []string{"--hwids", ""}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			u, o := buildBoth(t, f, dir, append(append([]string{}, base...), c.extra...)...)
			if c.cmpStdout && (u != o || strings.Count(u, "sha256") != 2*4) {
				t.Errorf("stdout differs (or is not one calculation per devicetree):\n--- ukify\n%s\n--- ukibuild\n%s", u, o)
			}
			if c.name == "efifw" && stub == "262" {
				compareInspect(t, f, dir, filepath.Join(dir, "ours.efi"))
			} else {
				compareInspectModes(t, f, dir, filepath.Join(dir, "ours.efi"), inspectShort...)
			}
		})
	}
}

// stubOrder is the order in which systemd-stub 262 measures UKI sections
// into PCR 11 (the UnifiedSection enumeration of src/fundamental/uki.h,
// v262, without .pcrsig), written out here so that the TPM test does not
// depend on the predictor it checks.
var stubOrder = []string{".linux", ".osrel", ".cmdline", ".initrd", ".ucode", ".splash", ".dtb", ".uname", ".sbat",
	".pcrpkey", ".profile", ".dtbauto", ".hwids", ".efifw"}

// TestMeasureProfilesMatchSystemdMeasureAndUnseal: on a UKI with three
// profiles (the implicit main one and two joined) and two .dtbauto
// sections, "ukibuild measure FILE --profile N --dtbauto I" equals
// systemd-measure 262.1 given the files of the sections the stub uses; and
// for every profile and devicetree, a secret sealed to the PCR key unseals
// in a simulated TPM whose PCR 11 was extended as the stub extends it, with
// that profile's .pcrsig only.
func TestMeasureProfilesMatchSystemdMeasureAndUnseal(t *testing.T) {
	f := getFixture(t)
	dir := t.TempDir()
	profiles := profilePEs(t, f, t.TempDir())
	k1, _ := rsaKeyPEM(t, dir, "k1")
	dtb2 := writeFile(dir, "dtb2", append([]byte{0xd0, 0x0d, 0xfe, 0xed}, randomBytes(11, 400)...))
	hw := hwidsDir(t, dir)
	efi := filepath.Join(dir, "multi.efi")
	if code, _, e := runOurs("build", "--stub", f.stubs["262"], "--linux", f.kernel, "--initrd", filepath.Join(f.dir, "initrd1"),
		"--cmdline", "quiet", "--os-release", "@"+filepath.Join(f.dir, "os-release"),
		"--devicetree-auto", filepath.Join(f.dir, "dtb"), "--devicetree-auto", dtb2, "--hwids", hw,
		"--join-profile", profiles[0], "--join-profile", profiles[1],
		"--pcr-private-key", k1, "--pcr-banks", "sha256", "--output", efi); code != 0 {
		t.Fatalf("ukibuild: %s", e)
	}
	// The sections that exist once, as ukify's inspect extracts them.
	files := map[string]string{".linux": f.kernel, ".initrd": filepath.Join(f.dir, "initrd1")}
	for _, s := range []string{".uname", ".sbat", ".pcrpkey", ".hwids"} {
		out := filepath.Join(dir, "section"+s)
		if code, _, e := runUkify(t, f.tools, dir, "inspect", efi, "--section", s+":binary@"+out); code != 0 {
			t.Fatalf("ukify inspect: %s", e)
		}
		files[s] = out
	}
	// The per-profile ones, from the inputs.
	type profile struct{ profile, cmdline, osrel string }
	prof := []profile{
		{"ID=main", "quiet", filepath.Join(f.dir, "os-release")},
		{"ID=factory-reset\nTITLE=Factory Reset", "systemd.unit=factory-reset.target", filepath.Join(f.dir, "os-release")},
		{"ID=\"debug\"\nTITLE='Debug ünicode'", "debug loglevel=7", "ID=debug-os\n"},
	}
	// Each profile's .pcrsig, as ukify's inspect reports it.
	_, js, _ := runUkify(t, f.tools, dir, "inspect", efi, "--json=short", "--section", ".pcrsig:text", "--section", ".profile:text")
	var insp struct {
		Profiles []map[string]struct{ Text string } `json:"_profiles"`
	}
	if err := json.Unmarshal([]byte(js), &insp); err != nil || len(insp.Profiles) != 3 {
		t.Fatalf("inspect: %v: %s", err, js)
	}
	signer, err := keys.PrivateKey(k1, nil)
	if err != nil {
		t.Fatal(err)
	}
	pub := signer.Public().(*rsa.PublicKey)
	for n, p := range prof {
		if got := insp.Profiles[n][".profile"].Text; got != p.profile {
			t.Fatalf("profile %d is %q, want %q", n, got, p.profile)
		}
		osrel := p.osrel
		if !strings.HasPrefix(osrel, "/") {
			osrel = writeFile(dir, fmt.Sprintf("osrel%d", n), []byte(osrel))
		}
		secs := map[string]string{
			".profile": writeFile(dir, fmt.Sprintf("profile%d", n), []byte(p.profile)),
			".cmdline": writeFile(dir, fmt.Sprintf("cmdline%d", n), []byte(p.cmdline)),
			".osrel":   osrel,
		}
		for k, v := range files {
			secs[k] = v
		}
		for i, dtb := range []string{filepath.Join(f.dir, "dtb"), dtb2} {
			secs[".dtbauto"] = dtb
			var args []string
			for name, file := range secs {
				args = append(args, "--"+name[1:]+"="+file)
			}
			_, want, e := runMeasure(t, f, "262", append([]string{"calculate", "--json=short", "--bank=sha256"}, args...)...)
			code, got, oe := runOurs("measure", efi, "--profile", fmt.Sprint(n), "--dtbauto", fmt.Sprint(i), "--json=short", "--bank=sha256")
			if code != 0 || got != want || want == "" {
				t.Errorf("profile %d, dtbauto %d: exit %d %s\n--- systemd-measure %s\n%s--- ukibuild\n%s", n, i, code, oe, e, want, got)
			}
			// The TPM: the stub's measurements, then enter-initrd.
			for m := range prof {
				secret, err := unsealAfter(t, secs, insp.Profiles[m][".pcrsig"].Text, pub)
				switch {
				case m == n && err != nil:
					t.Errorf("profile %d, dtbauto %d: unseal with its .pcrsig: %v", n, i, err)
				case m == n && string(secret) != "profile secret":
					t.Errorf("profile %d, dtbauto %d: unsealed %q", n, i, secret)
				case m != n && !errors.Is(err, tpmunseal.ErrNoPolicy):
					t.Errorf("profile %d, dtbauto %d: the .pcrsig of profile %d gave %q, %v; want %v", n, i, m, secret, err, tpmunseal.ErrNoPolicy)
				}
			}
		}
	}
	// Without --dtbauto the prediction is ambiguous; profiles beyond the
	// last do not exist.
	if code, _, e := runOurs("measure", efi); code == 0 || !strings.Contains(e, "--dtbauto=INDEX") {
		t.Errorf("measure without --dtbauto: exit %d, %s", code, e)
	}
	if code, _, e := runOurs("measure", efi, "--profile", "3", "--dtbauto", "none"); code == 0 || !strings.Contains(e, "profile 3 does not exist") {
		t.Errorf("measure --profile 3: exit %d, %s", code, e)
	}
}

// unsealAfter seals a secret to the PCR key in a fresh simulated TPM,
// extends PCR 11 (sha256) with the sections (name -> file) as systemd-stub
// does (in stubOrder: the name with its NUL, then the data; empty sections
// skipped), then with "enter-initrd", and unseals with pcrsig.
func unsealAfter(t *testing.T, secs map[string]string, pcrsig string, pub *rsa.PublicKey) ([]byte, error) {
	t.Helper()
	tpm, err := simulator.OpenSimulator()
	if err != nil {
		t.Fatalf("TPM simulator: %v", err)
	}
	defer tpm.Close()
	banks := []pcr.Bank{pcr.SHA256}
	public, private, err := tpmunseal.Seal(tpm, []byte("profile secret"), pub, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range stubOrder {
		file, ok := secs[name]
		if !ok {
			continue
		}
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if len(data) == 0 {
			continue
		}
		if err := tpmunseal.ExtendPhase(tpm, name+"\x00", banks); err != nil {
			t.Fatal(err)
		}
		if err := tpmunseal.ExtendPhase(tpm, string(data), banks); err != nil {
			t.Fatal(err)
		}
	}
	if err := tpmunseal.ExtendPhase(tpm, "enter-initrd", banks); err != nil {
		t.Fatal(err)
	}
	return tpmunseal.Unseal(tpm, public, private, []byte(pcrsig), pub, pcr.SHA256, "")
}
