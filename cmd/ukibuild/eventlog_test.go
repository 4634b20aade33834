package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const vectors = "../../testvectors/eventlog"

// osslsigncodeDigest is the Authenticode SHA-256 digest of a signed PE
// image as osslsigncode (Debian package osslsigncode) computes it (it prints
// none for an unsigned one).
func osslsigncodeDigest(t *testing.T, file string) string {
	t.Helper()
	out, _ := exec.Command("osslsigncode", "verify", "-in", file).CombinedOutput() // fails: unsigned
	m := regexp.MustCompile(`Calculated message digest\s*:\s*([0-9A-F]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("osslsigncode verify -in %s printed no digest (is osslsigncode installed?):\n%s", file, out)
	}
	return strings.ToLower(string(m[1]))
}

// TestMeasureExplain: "measure FILE --explain --json" lists PCR 4 and 11
// events whose replay is "measure FILE"'s PCR 11 value, and the UKI's PCR 4
// event carries osslsigncode's Authenticode digest.
func TestMeasureExplain(t *testing.T) {
	f := getFixture(t)
	dir := t.TempDir()
	efi := filepath.Join(dir, "uki.efi")
	if code, _, e := runUkify(t, f.tools, dir, "build", "--stub", f.stubs["262"], "--linux", f.kernel,
		"--initrd", filepath.Join(f.dir, "initrd1"), "--cmdline", "quiet", "--output", filepath.Join(dir, "unsigned.efi")); code != 0 {
		t.Fatalf("ukify: %s", e)
	}
	key, cert := selfSignedKeyCert(t, dir, "sb")
	if code, _, e := runOurs("sign", filepath.Join(dir, "unsigned.efi"), "-o", efi, "--key", key, "--cert", cert); code != 0 {
		t.Fatalf("sign: %s", e)
	}
	code, out, e := runOurs("measure", efi, "--explain", "--pcrs", "4,11", "--bank", "sha256", "--json=short", "--boot-attempts", "2")
	if code != 0 {
		t.Fatalf("measure --explain: exit %d: %s", code, e)
	}
	var doc struct {
		Events []struct {
			PCR         int               `json:"pcr"`
			Type        string            `json:"type"`
			Description string            `json:"description"`
			Digests     map[string]string `json:"digests"`
		} `json:"events"`
		PCRs map[string]map[string][]string `json:"pcrs"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var types []string
	for _, ev := range doc.Events {
		if ev.PCR == 4 {
			types = append(types, ev.Type)
		}
	}
	if want := "EV_EFI_ACTION EV_SEPARATOR EV_EFI_ACTION EV_EFI_ACTION EV_EFI_BOOT_SERVICES_APPLICATION"; strings.Join(types, " ") != want {
		t.Errorf("PCR 4 events %v, want %s", types, want)
	}
	if n := len(doc.Events); n < 6 || doc.Events[4].Digests["sha256"] != osslsigncodeDigest(t, efi) {
		t.Errorf("the UKI's PCR 4 event %+v; osslsigncode's digest %s", doc.Events[min(4, n-1)], osslsigncodeDigest(t, efi))
	}
	_, calc, _ := runOurs("measure", efi, "--bank", "sha256", "--phase=:")
	if want := "11:sha256=" + strings.Join(doc.PCRs["11"]["sha256"], ""); len(doc.PCRs["11"]["sha256"]) != 1 || strings.TrimSpace(calc) != want {
		t.Errorf("PCR 11 replay %s; measure says %s", want, calc)
	}
	_, text, _ := runOurs("measure", efi, "--explain", "--pcrs", "11", "--bank", "sha256")
	if !strings.Contains(text, "PCR 11 event 1: EV_IPL section .linux (data,") || !strings.Contains(text, strings.TrimSpace(calc)) {
		t.Errorf("measure --explain text output:\n%s", text)
	}
	if code, _, e := runOurs("measure", efi, "--explain", "--pcrs", "10"); code == 0 || !strings.Contains(e, "PCR 10: not predicted") {
		t.Errorf("--pcrs 10: exit %d, %s", code, e)
	}
	if code, _, e := runOurs("measure", efi, "--explain", "--pcrs", "7"); code == 0 || !strings.Contains(e, "PCR 7 needs --pk and --db") {
		t.Errorf("--pcrs 7 without variables: exit %d, %s", code, e)
	}
}

// TestEventlogVerifyReportsFirstDivergingEvent runs "eventlog verify" on
// the event log recorded from the stub 252 boot (testvectors) against
// another UKI built from the same stub and kernel: PCR 4 differs at the
// UKI's event, PCR 11 at the first section that differs; the quoted PCR
// values the TPM reported match the log's replay, and a changed one does
// not.
func TestEventlogVerifyReportsFirstDivergingEvent(t *testing.T) {
	f := getFixture(t)
	dir := t.TempDir()
	efi := filepath.Join(dir, "uki.efi")
	if code, _, e := runUkify(t, f.tools, dir, "build", "--stub", f.stubs["252"], "--linux", f.kernel,
		"--initrd", filepath.Join(f.dir, "initrd1"), "--cmdline", "console=ttyS0 panic=-1", "--os-release", "ID=other", "--output", efi); code != 0 {
		t.Fatalf("ukify: %s", e)
	}
	log := filepath.Join(vectors, "ovmf-sb-stub252.bin")
	quote := filepath.Join(vectors, "ovmf-sb-stub252.pcrs")
	code, out, e := runOurs("eventlog", "verify", log, "--uki", efi, "--pcrs", "4,11", "--boot-attempts", "2", "--quote-pcrs", quote)
	if code != 1 || !strings.Contains(e, "2 PCR(s) differ") {
		t.Errorf("exit %d, stderr %q", code, e)
	}
	for _, want := range []string{
		"PCR 11 sha256: the log replays to the quoted value",
		"PCR 7 sha256: the log replays to the quoted value",
		"PCR 4: event 4 differs (sha1 digest):\n  expected EV_EFI_BOOT_SERVICES_APPLICATION sha1:",
		"PCR 11: event 1 differs",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	q, err := os.ReadFile(quote)
	if err != nil {
		t.Fatal(err)
	}
	bad := writeFile(dir, "bad.pcrs", []byte(strings.Replace(string(q), "7:sha256=c", "7:sha256=d", 1)))
	code, out, _ = runOurs("eventlog", "verify", log, "--uki", efi, "--pcrs", "4", "--quote-pcrs", bad)
	if code != 1 || !strings.Contains(out, "PCR 7 sha256: the log replays to cccf7aed") {
		t.Errorf("a changed quote: exit %d:\n%s", code, out)
	}
	if code, _, e := runOurs("eventlog", "verify", log, "--uki", efi, "--pcrs", "10"); code != 1 || !strings.Contains(e, "PCR 10: not predicted") {
		t.Errorf("--pcrs 10: exit %d, %s", code, e)
	}
}

// TestEventlogVerifyPCR7 runs "eventlog verify --pcrs 7" on the recorded
// stub 252 log with the boot's PK and KEK and virt-fw-vars' dbx, but a db
// of another certificate (which signed this UKI): the first diverging event
// is the db variable's.
func TestEventlogVerifyPCR7(t *testing.T) {
	f := getFixture(t)
	dir := t.TempDir()
	if code, _, e := runUkify(t, f.tools, dir, "build", "--stub", f.stubs["252"], "--linux", f.kernel,
		"--initrd", filepath.Join(f.dir, "initrd1"), "--output", filepath.Join(dir, "unsigned.efi")); code != 0 {
		t.Fatalf("ukify: %s", e)
	}
	key, cert := selfSignedKeyCert(t, dir, "db")
	efi := filepath.Join(dir, "uki.efi")
	if code, _, e := runOurs("sign", filepath.Join(dir, "unsigned.efi"), "-o", efi, "--key", key, "--cert", cert); code != 0 {
		t.Fatalf("sign: %s", e)
	}
	// virt-fw-vars' dbx: EFI_CERT_SHA256_GUID, sizes 76, 0, 48, the owner
	// a0baa8a3-041d-48a8-bc87-c36d121b5e3d and SHA-256("").
	dbx, _ := hex.DecodeString("2616c4c14c509240aca941f9369343284c0000000000000030000000" +
		"a3a8baa01d04a848bc87c36d121b5e3d" + "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
	dbxFile := writeFile(dir, "dbx.esl", dbx)
	args := []string{"eventlog", "verify", filepath.Join(vectors, "ovmf-sb-stub252.bin"), "--uki", efi, "--pcrs", "7",
		"--pk", filepath.Join(vectors, "pk.pem"), "--kek", filepath.Join(vectors, "kek.pem"), "--dbx", dbxFile}
	code, _, e := runOurs(append(args, "--db", cert)...)
	if code != 1 || !strings.Contains(e, "--owner-guid") {
		t.Errorf("without --owner-guid: exit %d, %s", code, e)
	}
	args = append(args, "--owner-guid", "7ab1e5e2-0c3b-4b8e-9a51-1f0ddba11e55")
	code, out, e := runOurs(append(args, "--db", cert)...)
	if code != 1 || !strings.Contains(out, "PCR 7: event 3 differs (sha1 digest):\n  expected EV_EFI_VARIABLE_DRIVER_CONFIG") ||
		!strings.Contains(out, `"variable db (1656 bytes of data)"`) {
		t.Errorf("another db: exit %d, %s\n%s", code, e, out)
	}
	// The recorded db, which did not sign this UKI: the variables match,
	// the authority is missing.
	code, out, e = runOurs(append(args, "--db", filepath.Join(vectors, "db.pem"), "--db", filepath.Join(vectors, "hsm.pem"))...)
	if code != 1 || !strings.Contains(e, "the firmware refuses the UKI under Secure Boot") ||
		!strings.Contains(out, "PCR 7: event 6 differs:\n  expected (none: the list ends)\n  seen     PCR 7 EV_EFI_VARIABLE_AUTHORITY") {
		t.Errorf("a db that did not sign the UKI: exit %d, %s\n%s", code, e, out)
	}
}

// TestEventlogVerifyAddon runs "eventlog verify --pcrs 12,13" on the
// recorded stub 262 boot with a signed add-on, a credential and a sysext
// (testvectors/eventlog/ovmf-sb-stub262-addon.*) against a UKI built from
// the same stub with the boot's command line and those files in its
// .extra.d/, or the add-on in the ESP's /loader/addons/: PCR 12 (add-on
// command line, credential) and 13 match. A command line in the load
// options is dropped under Secure Boot (the UKI has a .cmdline) and
// predicted as PCR 12's first event without; so is a profile; without the
// add-on PCR 12 differs at its first event; and an add-on next to a stub
// whose add-on handling is not modelled is refused.
//
// The add-on is not stored (it is mostly Debian's addonx64.efi.stub): it
// is rebuilt from the fetched stub with the boot test's buildAddon command,
// signed with a fresh key (the boot's db key is gone), and osslsigncode's
// Authenticode digest of it must be the one osslsigncode computed for the
// booted add-on (ovmf-sb-stub262-addon.addon.json): the digest leaves the
// signature out, so this proves the rebuild is the image the firmware
// measured. The recorded PCR 7 authority is the boot's db certificate,
// which did not sign this copy, so PCR 7 is not compared here; PCR 12 and
// 13 depend on the add-on's sections only, the same in both.
func TestEventlogVerifyAddon(t *testing.T) {
	f := getFixture(t)
	dir := t.TempDir()
	rec := filepath.Join(vectors, "ovmf-sb-stub262-addon")
	addon := filepath.Join(dir, "ukibuild-e2e.addon.efi")
	key, cert := selfSignedKeyCert(t, dir, "db")
	if code, _, e := runOurs("build", "--stub", f.tools.Path(t, "UKIBUILD_ADDON_STUB_262"), "--cmdline", "ukibuild.addon=e2e",
		"--secureboot-private-key", key, "--secureboot-certificate", cert, "--output", addon); code != 0 {
		t.Fatalf("build the add-on: %s", e)
	}
	var aj struct {
		Authenticode string `json:"addon_authenticode_sha256"`
	}
	j, err := os.ReadFile(rec + ".addon.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(j, &aj); err != nil || aj.Authenticode == "" {
		t.Fatalf("%s.addon.json: %v", rec, err)
	}
	if got := osslsigncodeDigest(t, addon); got != aj.Authenticode {
		t.Fatalf("the rebuilt add-on's Authenticode digest is %s, the booted one's %s: not the same image", got, aj.Authenticode)
	}
	build := func(stub, out string) {
		t.Helper()
		if code, _, e := runOurs("build", "--stub", stub, "--linux", f.kernel, "--initrd", filepath.Join(f.dir, "initrd1"),
			"--cmdline", "console=ttyS0 panic=-1", "--os-release", "ID=other", "--output", out); code != 0 {
			t.Fatalf("build: %s", e)
		}
	}
	efi := filepath.Join(dir, "uki.efi")
	build(f.stubs["262"], efi)
	copyTo := func(d string, names ...string) {
		t.Helper()
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			src := filepath.Join(rec+".extra.d", n)
			if n == filepath.Base(addon) {
				src = addon
			}
			b, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			writeFile(d, n, b)
		}
	}
	copyTo(efi+".extra.d", "ukibuild-e2e.cred", "ukibuild-e2e.raw", "ukibuild-e2e.addon.efi")
	verify := func(uki string, extra ...string) (int, string, string) {
		return runOurs(append([]string{"eventlog", "verify", rec + ".bin", "--uki", uki, "--pcrs", "12,13", "--quote-pcrs", rec + ".pcrs"}, extra...)...)
	}
	const match = "PCR 12: match (2 events)\nPCR 13: match (1 events)"
	if code, out, e := verify(efi); code != 0 || !strings.Contains(out, match) || !strings.Contains(out, "PCR 12 sha256: the log replays to the quoted value") {
		t.Errorf("add-on in .extra.d: exit %d, %s\n%s", code, e, out)
	}
	if code, out, e := verify(efi, "--cmdline-override", "quiet"); code != 0 || !strings.Contains(out, match) {
		t.Errorf("--cmdline-override under Secure Boot: exit %d, %s\n%s", code, e, out)
	}
	if code, out, _ := verify(efi, "--cmdline-override", "quiet", "--no-secure-boot"); code != 1 ||
		!strings.Contains(out, "PCR 12: event 0 differs (sha1 digest):\n  expected EV_IPL sha1:") || !strings.Contains(out, `"quiet"`) {
		t.Errorf("--cmdline-override without Secure Boot: exit %d\n%s", code, out)
	}
	if code, _, e := verify(efi, "--profile", "1"); code != 1 || !strings.Contains(e, "profile 1 does not exist") {
		t.Errorf("--profile 1 of a UKI without profiles: exit %d, %s", code, e)
	}
	// The add-on in the ESP's /loader/addons/ instead: the same events.
	other := filepath.Join(dir, "esp", "EFI", "Linux", "uki.efi")
	if err := os.MkdirAll(filepath.Dir(other), 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(efi)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(filepath.Dir(other), "uki.efi", b)
	copyTo(other+".extra.d", "ukibuild-e2e.cred", "ukibuild-e2e.raw")
	copyTo(filepath.Join(dir, "esp", "loader", "addons"), "ukibuild-e2e.addon.efi")
	if code, out, e := verify(other, "--esp", filepath.Join(dir, "esp")); code != 0 || !strings.Contains(out, match) {
		t.Errorf("add-on in /loader/addons: exit %d, %s\n%s", code, e, out)
	}
	if code, out, _ := verify(other); code != 1 || !strings.Contains(out, "PCR 12: event 0 differs") {
		t.Errorf("without the add-on: exit %d\n%s", code, out)
	}
	// measure --explain lists the add-on's event, with its command line.
	code, out, e := runOurs("measure", efi, "--explain", "--pcrs", "12", "--bank", "sha256")
	if code != 0 || !strings.Contains(out, "PCR 12 event 0: EV_IPL ukibuild.addon=e2e") {
		t.Errorf("measure --explain --pcrs 12: exit %d, %s\n%s", code, e, out)
	}
	// Stub 257: what it does with add-ons was not checked.
	old := filepath.Join(dir, "uki257.efi")
	build(f.stubs["257"], old)
	copyTo(old+".extra.d", "ukibuild-e2e.addon.efi")
	if code, _, e := verify(old); code != 1 || !strings.Contains(e, "systemd-stub 257") || !strings.Contains(e, "not modelled") {
		t.Errorf("stub 257 with an add-on: exit %d, %s", code, e)
	}
}

// TestMeasureExplainProfile: for profile 1 of a two-profile UKI, "measure
// FILE --explain --profile 1" predicts PCR 12's profile event (EV_EVENT_TAG,
// H("1" in UTF-16LE with its NUL), spelled here by hand) and PCR 11 events
// whose replay is "measure FILE --profile 1"'s value; PCR 9 has the
// profile's command line.
func TestMeasureExplainProfile(t *testing.T) {
	f := getFixture(t)
	dir := t.TempDir()
	prof := filepath.Join(dir, "p1.efi")
	if code, _, e := runOurs("build", "--stub", f.tools.Path(t, "UKIBUILD_ADDON_STUB_262"), "--profile", "ID=one", "--cmdline", "one", "--output", prof); code != 0 {
		t.Fatalf("build profile: %s", e)
	}
	efi := filepath.Join(dir, "uki.efi")
	if code, _, e := runOurs("build", "--stub", f.stubs["262"], "--linux", f.kernel, "--initrd", filepath.Join(f.dir, "initrd1"),
		"--cmdline", "quiet", "--profile", "ID=zero", "--join-profile", prof, "--output", efi); code != 0 {
		t.Fatalf("build: %s", e)
	}
	code, out, e := runOurs("measure", efi, "--explain", "--profile", "1", "--pcrs", "11,12", "--bank", "sha256", "--json=short")
	if code != 0 {
		t.Fatalf("measure --explain --profile 1: exit %d: %s", code, e)
	}
	var doc struct {
		Events []struct {
			PCR     int               `json:"pcr"`
			Type    string            `json:"type"`
			Digests map[string]string `json:"digests"`
		} `json:"events"`
		PCRs map[string]map[string][]string `json:"pcrs"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	one := sha256.Sum256([]byte{'1', 0, 0, 0})
	var pcr12 []string
	for _, ev := range doc.Events {
		if ev.PCR == 12 {
			pcr12 = append(pcr12, ev.Type+" "+ev.Digests["sha256"])
		}
	}
	if want := "EV_EVENT_TAG " + hex.EncodeToString(one[:]); strings.Join(pcr12, ",") != want {
		t.Errorf("PCR 12 events %v, want %s", pcr12, want)
	}
	_, calc, _ := runOurs("measure", efi, "--profile", "1", "--bank", "sha256", "--phase=:")
	if want := "11:sha256=" + strings.Join(doc.PCRs["11"]["sha256"], ""); len(doc.PCRs["11"]["sha256"]) != 1 || strings.TrimSpace(calc) != want {
		t.Errorf("PCR 11 replay %s; measure --profile 1 says %s", want, calc)
	}
	// PCR 9: Linux measures profile 1's command line ("one", the profile
	// PE's --cmdline) and the initrd (with /.extra/profile; case 15 of the
	// boot tests checks its digest against systemd-stub 262.1's).
	if code, o, e := runOurs("measure", efi, "--explain", "--profile", "1", "--pcrs", "9", "--consoles", "none"); code != 0 || !strings.Contains(o, `LoadOptions: "one"`) || !strings.Contains(o, "Linux initrd") {
		t.Errorf("--pcrs 9 --profile 1: exit %d, %s%s", code, o, e)
	}
}

// TestEventlogVerifyLoader: --loader puts boot loaders before the UKI in
// PCR 4's chain. On the log recorded with systemd-boot 262.1 starting the
// UKI (testvectors/eventlog/ovmf-sb-sdboot262.*), Debian's systemd-boot
// signed here with another key (the Authenticode digest leaves the
// signature out) matches the log's first image event, and another UKI than
// the recorded one differs at the next, event 5; "measure --explain
// --loader" lists the loader's event, with osslsigncode's digest, before
// the UKI's.
func TestEventlogVerifyLoader(t *testing.T) {
	f := getFixture(t)
	dir := t.TempDir()
	key, cert := selfSignedKeyCert(t, dir, "sb")
	loader := filepath.Join(dir, "systemd-bootx64.efi")
	if code, _, e := runOurs("sign", f.tools.Path(t, "UKIBUILD_SYSTEMD_BOOT_262"), "-o", loader, "--key", key, "--cert", cert); code != 0 {
		t.Fatalf("sign: %s", e)
	}
	efi := filepath.Join(dir, "uki.efi")
	if code, _, e := runOurs("build", "--stub", f.stubs["262"], "--linux", f.kernel, "--cmdline", "other", "--os-release", "ID=other",
		"--secureboot-private-key", key, "--secureboot-certificate", cert, "--output", efi); code != 0 {
		t.Fatalf("build: %s", e)
	}
	log := filepath.Join(vectors, "ovmf-sb-sdboot262.bin")
	code, out, e := runOurs("eventlog", "verify", log, "--uki", efi, "--loader", loader, "--pcrs", "4", "--boot-attempts", "2")
	if code != 1 || !strings.Contains(out, "PCR 4: event 5 differs") || !strings.Contains(out, "expected EV_EFI_BOOT_SERVICES_APPLICATION sha1:") {
		t.Errorf("with --loader: exit %d, want PCR 4 to differ at event 5 (the UKI's):\n%s%s", code, out, e)
	}
	code, out, e = runOurs("eventlog", "verify", log, "--uki", efi, "--pcrs", "4", "--boot-attempts", "2")
	if code != 1 || !strings.Contains(out, "PCR 4: event 4 differs") {
		t.Errorf("without --loader: exit %d, want PCR 4 to differ at event 4:\n%s%s", code, out, e)
	}
	code, out, e = runOurs("measure", efi, "--explain", "--pcrs", "4", "--bank", "sha256", "--json=short", "--boot-attempts", "2", "--loader", loader)
	if code != 0 {
		t.Fatalf("measure --explain --loader: exit %d: %s", code, e)
	}
	var doc struct {
		Events []struct {
			Description string            `json:"description"`
			Digests     map[string]string `json:"digests"`
		} `json:"events"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(doc.Events) != 6 || doc.Events[4].Digests["sha256"] != osslsigncodeDigest(t, loader) || doc.Events[5].Digests["sha256"] != osslsigncodeDigest(t, efi) {
		t.Errorf("PCR 4 events %+v; want 4 firmware events, then systemd-boot (%s) and the UKI (%s)", doc.Events, osslsigncodeDigest(t, loader), osslsigncodeDigest(t, efi))
	}
}

// TestEventlogVerifyGlobalExtras runs "eventlog verify --pcrs 12,13 --esp"
// on the recorded stub 257 and 254 boots with a credential, a sysext and a
// confext in BOOTX64.EFI.extra.d/ and in the ESP's /loader/credentials/
// and /loader/extensions/ (testvectors/eventlog/ovmf-sb-stub{257,254}-
// global.*), against a UKI built from the same stub with those files next
// to it: PCR 12 and 13 match and replay to the TPM's values; without --esp
// PCR 12 differs at the global credential's event. With a stub version
// whose handling of configuration extensions was not examined (255), PCR
// 12 is refused, and PCR 4, which does not depend on it, is still
// predicted.
func TestEventlogVerifyGlobalExtras(t *testing.T) {
	f := getFixture(t)
	for _, c := range []struct {
		version string
		match   string
	}{
		{"257", "PCR 12: match (3 events)\nPCR 13: match (1 events)"},
		{"254", "PCR 12: match (2 events)\nPCR 13: match (1 events)"},
	} {
		t.Run(c.version, func(t *testing.T) {
			dir := t.TempDir()
			rec := filepath.Join(vectors, "ovmf-sb-stub"+c.version+"-global")
			efi := filepath.Join(dir, "uki.efi")
			if code, _, e := runOurs("build", "--stub", f.stubs[c.version], "--linux", f.kernel, "--initrd", filepath.Join(f.dir, "initrd1"),
				"--cmdline", "console=ttyS0 panic=-1", "--os-release", "ID=other", "--output", efi); code != 0 {
				t.Fatalf("build: %s", e)
			}
			copyTree(t, rec+".extra.d", efi+".extra.d")
			verify := func(extra ...string) (int, string, string) {
				return runOurs(append([]string{"eventlog", "verify", rec + ".bin", "--uki", efi, "--quote-pcrs", rec + ".pcrs"}, extra...)...)
			}
			code, out, e := verify("--pcrs", "12,13", "--esp", rec+".esp")
			if code != 0 || !strings.Contains(out, c.match) || !strings.Contains(out, "PCR 12 sha256: the log replays to the quoted value") ||
				!strings.Contains(out, "PCR 13 sha256: the log replays to the quoted value") {
				t.Errorf("--esp: exit %d, %s\n%s", code, e, out)
			}
			if code, out, _ := verify("--pcrs", "12,13"); code != 1 || !strings.Contains(out, "PCR 12: event 1 differs") || !strings.Contains(out, "Global credentials initrd") {
				t.Errorf("without --esp: exit %d\n%s", code, out)
			}
			code, _, e = verify("--pcrs", "12,13", "--esp", rec+".esp", "--stub-version", "255")
			if code != 1 || !strings.Contains(e, "whether systemd-stub 255 picks up configuration extensions (*.confext.raw) is not known") {
				t.Errorf("stub 255: exit %d, %s", code, e)
			}
			code, out, e = runOurs("measure", efi, "--explain", "--pcrs", "4", "--stub-version", "255", "--bank", "sha256")
			if code != 0 || !strings.Contains(out, "PCR 4 event 2: EV_EFI_BOOT_SERVICES_APPLICATION") {
				t.Errorf("measure --explain --pcrs 4 of stub 255 with a confext: exit %d, %s\n%s", code, e, out)
			}
		})
	}
}

// TestExampleAttestMatchesCLI: examples/attest, a Go program of under 60
// lines on the attest package, prints the same per-PCR report as
// "eventlog verify" on the same inputs (the recorded stub 257 boot with
// global credentials and extensions, with and without its ESP) and fails
// alike when a PCR differs.
func TestExampleAttestMatchesCLI(t *testing.T) {
	f := getFixture(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "attest")
	if out, err := exec.Command("go", "build", "-o", bin, "../../examples/attest").CombinedOutput(); err != nil {
		t.Fatalf("go build examples/attest: %v\n%s", err, out)
	}
	if b, err := os.ReadFile("../../examples/attest/main.go"); err != nil || bytes.Count(b, []byte("\n")) >= 60 {
		t.Errorf("examples/attest/main.go: %d lines (%v), want under 60", bytes.Count(b, []byte("\n")), err)
	}
	rec := filepath.Join(vectors, "ovmf-sb-stub257-global")
	efi := filepath.Join(dir, "uki.efi")
	if code, _, e := runOurs("build", "--stub", f.stubs["257"], "--linux", f.kernel, "--cmdline", "console=ttyS0", "--output", efi); code != 0 {
		t.Fatalf("build: %s", e)
	}
	copyTree(t, rec+".extra.d", efi+".extra.d")
	for _, c := range []struct {
		esp   []string
		code  int
		match string
	}{
		{[]string{"--esp", rec + ".esp"}, 0, "PCR 12: match (3 events)\nPCR 13: match (1 events)\n"},
		{nil, 1, "PCR 12: event 1 differs"},
	} {
		code, cli, e := runOurs(append([]string{"eventlog", "verify", rec + ".bin", "--uki", efi, "--pcrs", "12,13"}, c.esp...)...)
		if code != c.code || !strings.Contains(cli, c.match) {
			t.Errorf("eventlog verify %v: exit %d, %s\n%s", c.esp, code, e, cli)
		}
		args := []string{"-uki", efi, "-log", rec + ".bin", "-pcrs", "12,13"}
		if c.esp != nil {
			args = append(args, "-esp", c.esp[1])
		}
		cmd := exec.Command(bin, args...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if stdout.String() != cli || (err == nil) != (c.code == 0) {
			t.Errorf("examples/attest %v: %v, %s\n--- example\n%s--- eventlog verify\n%s", c.esp, err, stderr.String(), stdout.String(), cli)
		}
	}
}

// TestEventlogVerifyPCR7ESLAndDBX: the recorded stub 252 boot's PK, KEK
// and db given as EFI signature lists made by efitools
// (cert-to-efi-sig-list) predict what the PEM files predict; a UKI signed
// by a db certificate given as .esl gets its authority event (which the
// PEM-only code missed); the UKI's hash in dbx (hash-to-efi-sig-list) is
// predicted as refused by the firmware, with no authority, and said so.
func TestEventlogVerifyPCR7ESLAndDBX(t *testing.T) {
	f := getFixture(t)
	dir := t.TempDir()
	const owner = "7ab1e5e2-0c3b-4b8e-9a51-1f0ddba11e55"
	esl := func(pem string) string {
		out := filepath.Join(dir, filepath.Base(pem)+".esl")
		if b, err := exec.Command("cert-to-efi-sig-list", "-g", owner, pem, out).CombinedOutput(); err != nil {
			t.Fatalf("cert-to-efi-sig-list: %v\n%s", err, b)
		}
		return out
	}
	key, cert := selfSignedKeyCert(t, dir, "db")
	efi := filepath.Join(dir, "uki.efi")
	if code, _, e := runOurs("build", "--stub", f.stubs["252"], "--linux", f.kernel, "--secureboot-private-key", key,
		"--secureboot-certificate", cert, "--output", efi); code != 0 {
		t.Fatalf("build: %s", e)
	}
	explain := func(keys ...string) (int, string, string) {
		return runOurs(append([]string{"measure", efi, "--explain", "--pcrs", "7", "--bank", "sha256", "--json=short"}, keys...)...)
	}
	vec := func(n string) string { return filepath.Join(vectors, n) }
	code, pemOut, e := explain("--owner-guid", owner, "--pk", vec("pk.pem"), "--kek", vec("kek.pem"), "--db", cert, "--db", vec("db.pem"))
	if code != 0 || !strings.Contains(pemOut, "EV_EFI_VARIABLE_AUTHORITY") {
		t.Fatalf("PEM: exit %d, %s\n%s", code, e, pemOut)
	}
	code, eslOut, e := explain("--pk", esl(vec("pk.pem")), "--kek", esl(vec("kek.pem")), "--db", esl(cert), "--db", esl(vec("db.pem")))
	if code != 0 || eslOut != pemOut {
		t.Errorf(".esl: exit %d, %s\n%s\nPEM:\n%s", code, e, eslOut, pemOut)
	}
	dbx := filepath.Join(dir, "dbx.esl")
	if b, err := exec.Command("hash-to-efi-sig-list", efi, dbx).CombinedOutput(); err != nil {
		t.Fatalf("hash-to-efi-sig-list: %v\n%s", err, b)
	}
	code, out, e := explain("--pk", esl(vec("pk.pem")), "--kek", esl(vec("kek.pem")), "--db", esl(cert), "--dbx", dbx)
	if code != 0 || strings.Contains(out, "EV_EFI_VARIABLE_AUTHORITY") || !strings.Contains(e, "the firmware refuses the UKI") ||
		!strings.Contains(e, "dbx") {
		t.Errorf("the UKI's hash in dbx: exit %d, %s\n%s", code, e, out)
	}
}
