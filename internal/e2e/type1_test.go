package e2e

import (
	"crypto/sha256"
	"debug/pe"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// type1Entry is case 15's Boot Loader Specification Type #1 entry
// (loader/entries/ukibuild-type1.conf): the UKI outside EFI/Linux/ (so that
// systemd-boot makes no Type #2 entry for it), its profile 1, a command line,
// a credential and a system extension.
const type1Entry = `# ukibuild e2e case 15
title ukibuild Type #1
uki /ukis/ukibuild.efi
profile 1
options ukibuild.entry=type1
extra /ukis/extras/ukibuild-entry.cred
extra /ukis/extras/ukibuild-entry.sysext.raw
`

// type1ProfileID is the .profile of the UKI's profile 1, which the stub
// passes as /.extra/profile.
const type1ProfileID = "ID=one\nTITLE=Profile one\n"

// type1Profile is the command line of the UKI's profile 1.
const type1Profile = "console=ttyS0 panic=-1 ukibuild.profile=one"

// TestBootType1 (case 15): Debian sid's systemd-boot 262.1 (signed with the
// db key) starts the stub 262 UKI from a Type #1 entry with "uki", "extra",
// "profile" and "options" (type1Entry). What it does, from systemd's
// src/boot/boot.c (main just before v262: boot_entry_add_type1,
// image_start, load_extras; the 262.1 binary has the "extra" key and the
// "Entry ... initrd" descriptions):
//
//   - it packs the credential into .extra/credentials and the system
//     extension (*.sysext.raw) into .extra/sysext, one cpio archive each,
//     measures them into PCR 12 and 13 (EV_IPL "Entry credentials
//     initrd", "Entry system extension initrd") and hands them to the stub
//     as an initrd, which the stub passes on: the guest must find both;
//
//   - it passes "@1 ukibuild.entry=type1" as the load options and measures
//     them into PCR 12 (EV_IPL, UTF-16);
//
//   - the stub boots profile 1 (its PCR 12 profile event, and PCR 11 of
//     that profile) and, under Secure Boot, ignores the options (the UKI
//     has a .cmdline): the kernel runs with profile 1's command line.
//
//   - the stub puts systemd-boot's initrd (the "previous" one) after the
//     UKI's .ucode and before its .initrd, and profile 1's .profile in
//     /.extra/profile after os-release; Linux measures that initrd and
//     the command line into PCR 9.
//
// "ukibuild eventlog verify --loader systemd-boot --entry" predicts PCR 4,
// 7, 9, 11, 12 and 13, and the log replays to the TPM's values.
func TestBootType1(t *testing.T) {
	e := setup(t)
	const name = "15 systemd-boot 262 Type #1 entry: uki, extra, profile, options"
	dir := e.workDir(t)
	prof := filepath.Join(dir, "profile1.efi")
	e.run(t, "build", "--stub", e.tools.Path(t, "UKIBUILD_ADDON_STUB_262"), "--profile", type1ProfileID,
		"--cmdline", type1Profile, "--output", prof)
	efi := filepath.Join(dir, "ukibuild.efi")
	e.buildSigned(t, efi, e.sb.db, slices.Concat(e.ukiArgs(t, "262"), []string{"--profile", "ID=zero", "--join-profile", prof})...)
	loader := filepath.Join(dir, "systemd-bootx64.efi")
	e.run(t, "sign", e.tools.Path(t, "UKIBUILD_SYSTEMD_BOOT_262"), "-o", loader, "--key", e.sb.db.key, "--cert", e.sb.db.cert)

	cred := []byte("ukibuild e2e Type #1 entry credential\n")
	sysext := []byte("ukibuild e2e Type #1 entry system extension image\n")
	esp := filepath.Join(dir, "esp")
	files := []espFile{
		{path: "EFI/BOOT/BOOTX64.EFI", from: loader},
		{path: "ukis/ukibuild.efi", from: efi},
		{path: "ukis/extras/ukibuild-entry.cred", data: cred},
		{path: "ukis/extras/ukibuild-entry.sysext.raw", data: sysext},
		{path: "loader/loader.conf", data: []byte("timeout 0\ndefault ukibuild-type1.conf\n")},
		{path: "loader/entries/ukibuild-type1.conf", data: []byte(type1Entry)},
	}
	// The same ESP on the host, for "eventlog verify --esp".
	for _, f := range files {
		to := filepath.Join(esp, filepath.FromSlash(f.path))
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			t.Fatal(err)
		}
		if f.from != "" {
			copyFile(t, f.from, to)
		} else if err := os.WriteFile(to, f.data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res := e.bootESP(t, efi, files, newTPMState(t, e.workDir(t)))
	e.checkSecureBoot(t, name, res, e.sb.db.c)

	// The extras reached the initrd where systemd-boot puts them.
	var missing []string
	for p, data := range map[string][]byte{"/.extra/credentials/ukibuild-entry.cred": cred, "/.extra/sysext/ukibuild-entry.sysext.raw": sysext,
		"/.extra/profile": peSection(t, prof, ".profile")} {
		sum := sha256.Sum256(data)
		if res.extra[p] != fmt.Sprintf("%d %x", len(data), sum) {
			missing = append(missing, p)
		}
	}
	slices.Sort(missing)
	ok := len(missing) == 0
	record(t, name, "the entry's extras and the profile in /.extra", "credentials/ukibuild-entry.cred, sysext/ukibuild-entry.sysext.raw, profile (profile 1's .profile)",
		fmt.Sprintf("missing or changed: %v", missing), ok)
	if !ok {
		t.Errorf("/.extra lacks (or has changed) %v; the guest saw %v", missing, res.extra)
	}
	ok = strings.Contains(res.cmdline, "ukibuild.profile=one") && !strings.Contains(res.cmdline, "ukibuild.entry=type1")
	record(t, name, "kernel command line", "profile 1's .cmdline (the entry's options ignored under Secure Boot)", res.cmdline, ok)
	if !ok {
		t.Errorf("/proc/cmdline %q: want profile 1's (%q), without the entry's options", res.cmdline, type1Profile)
	}

	log, quote, dbx := filepath.Join(dir, "eventlog.bin"), filepath.Join(dir, "quote.txt"), filepath.Join(dir, "dbx.esl")
	var q strings.Builder
	for bank, v := range res.pcr11 {
		fmt.Fprintf(&q, "11:%s=%s\n", bank, v)
	}
	fmt.Fprintf(&q, "7:sha256=%s\n12:sha256=%s\n13:sha256=%s\n", res.pcr7["sha256"], res.pcr12["sha256"], res.pcr13["sha256"])
	if v := res.sha256[9]; v != "" {
		fmt.Fprintf(&q, "9:sha256=%s\n", v)
	}
	for f, b := range map[string][]byte{log: res.evlog, quote: []byte(q.String()), dbx: virtFwVarsDBX()} {
		if err := os.WriteFile(f, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	verify := func(pcrs string, extra ...string) (string, error) {
		args := append([]string{"eventlog", "verify", log, "--uki", efi, "--pcrs", pcrs, "--boot-attempts", "2",
			"--quote-pcrs", quote, "--owner-guid", ownerGUID, "--pk", e.sb.pk.cert, "--kek", e.sb.kek.cert,
			"--db", e.sb.db.cert, "--db", e.sb.hsm.CertPEM, "--dbx", dbx, "--loader", loader, "--esp", esp}, extra...)
		out, err := exec.Command(e.ukibuild, args...).CombinedOutput()
		return string(out), err
	}
	entry := "loader/entries/ukibuild-type1.conf"
	out, err := verify("4,7,9,11,12,13", "--entry", entry)
	want := []string{"PCR 4: match (6 events)", "PCR 7: match (7 events)", "PCR 9: match (2 events)", "PCR 11: match (",
		"PCR 12: match (3 events)", "PCR 13: match (1 events)",
		"PCR 12 sha256: the log replays to the quoted value", "PCR 13 sha256: the log replays to the quoted value"}
	if res.sha256[9] != "" {
		want = append(want, "PCR 9 sha256: the log replays to the quoted value")
	}
	ok = err == nil
	for _, w := range want {
		ok = ok && strings.Contains(out, w)
	}
	record(t, name, "ukibuild eventlog verify --loader systemd-boot --entry --pcrs 4,7,9,11,12,13 --quote-pcrs",
		oneLine(strings.Join(want, "; ")), oneLine(out), ok)
	if !ok {
		t.Errorf("ukibuild eventlog verify --entry: %v\n%s", err, out)
	}
	// Without the entry, PCR 12 and 13 lack systemd-boot's events.
	out, err = verify("12,13", "--profile", "1")
	ok = err != nil && strings.Contains(out, "PCR 12: event 0 differs") && strings.Contains(out, "PCR 13: ")
	record(t, name, "eventlog verify without --entry", "fails at PCR 12's first event (systemd-boot's credentials)", oneLine(out), ok)
	if !ok {
		t.Errorf("ukibuild eventlog verify without --entry: %v\n%s", err, out)
	}
	if d := os.Getenv("UKIBUILD_E2E_SAVE"); d != "" {
		if err := os.WriteFile(filepath.Join(d, "eventlog-type1.bin"), res.evlog, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "lines-type1.txt"), []byte(strings.Join(res.lines, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// peSection returns the section name of the PE file at path as the loaded
// image holds it (VirtualSize bytes), read with debug/pe.
func peSection(t *testing.T, path, name string) []byte {
	t.Helper()
	f, err := pe.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := f.Section(name)
	if s == nil {
		t.Fatalf("%s: no %s section", path, name)
	}
	b, err := s.Data()
	if err != nil {
		t.Fatal(err)
	}
	if n := int(s.VirtualSize); n < len(b) {
		b = b[:n]
	} else {
		b = append(b, make([]byte, n-len(b))...)
	}
	return b
}
