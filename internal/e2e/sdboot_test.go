package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ukibuild/ukibuild/eventlog"
)

// sdbootLoaderConf is the ESP's loader/loader.conf in case 6: boot the
// Type #2 entry ukibuild.efi (its id is the file name) at once, no menu.
const sdbootLoaderConf = "timeout 0\ndefault ukibuild.efi\n"

// loaderConfEventTag is the EV_EVENT_TAG id systemd-boot logs loader.conf
// under in PCR 5 (src/boot/boot.c, config_load_defaults: tpm_log_tagged_event(
// TPM2_PCR_BOOT_LOADER_CONFIG, content, LOADER_CONF_EVENT_TAG_ID,
// u"loader.conf"); docs/TPM2_PCR_MEASUREMENTS.md, "PCR 5, EV_EVENT_TAG,
// loader.conf": tag 0xf5bc582a, digest H(the file as read)).
const loaderConfEventTag = 0xf5bc582a

// TestSecureBootSystemdBootChain (case 6): Debian sid's systemd-boot 262.1,
// signed by "ukibuild sign" with the db key, is the ESP's default loader
// (EFI/BOOT/BOOTX64.EFI) and starts the stub 262 UKI as a Type #2 entry
// (EFI/Linux/ukibuild.efi; loader/loader.conf: timeout 0). The firmware
// measures both images into PCR 4, systemd-boot's first: "ukibuild
// eventlog verify --loader" predicts that chain (eventlog.FirmwareBoot.Chain)
// and, without --loader, reports the log's PCR 4 at the loader's event.
//
// What systemd-boot 262 measures itself (systemd's src/boot/boot.c unless
// said, read as in v255's src/boot/efi/boot.c and in main; the recorded
// boot, testvectors/eventlog/ovmf-sb-sdboot262.bin, shows 262.1 doing it):
//   - SMBIOS structures into PCR 1 as EV_EVENT_TAG "smbios:type1" (and
//     type 2, 11 where present; main's src/boot/measure-smbios.c,
//     measure_smbios), then sets LoaderPcrSMBIOS so that the stub does
//     not measure them again: the recorded log has the one type 1 event
//     before the UKI's PCR 4 event (PCR 1 is not predicted);
//   - loader.conf into PCR 5 as EV_EVENT_TAG (config_load_defaults; checked here
//     by its digest; PCR 5 is not predicted: the firmware's events in
//     it, its separator and ExitBootServices ones, are not modelled);
//   - the load options it passes, into PCR 12 as EV_IPL (image_start:
//     tpm_log_load_options), but only when they are not implied by the
//     image ("options_implied" is set for a Type #2 entry: the UKI's
//     .cmdline, which the stub measures into PCR 11): nothing here, and
//     PCR 12 is predicted and checked as without systemd-boot;
//   - it loads the UKI through the firmware's LoadImage (shim_load_image
//     without shim), so the firmware verifies it against db (PCR 7
//     authority, logged once for the loader and the UKI, both signed
//     with the db key) and measures it into PCR 4.
func TestSecureBootSystemdBootChain(t *testing.T) {
	e := setup(t)
	const name = "6 systemd-boot 262 starts the UKI"
	dir := e.workDir(t)
	efi := filepath.Join(dir, "ukibuild.efi")
	e.buildSigned(t, efi, e.sb.db, e.ukiArgs(t, "262")...)
	loader := filepath.Join(dir, "systemd-bootx64.efi")
	e.run(t, "sign", e.tools.Path(t, "UKIBUILD_SYSTEMD_BOOT_262"), "-o", loader, "--key", e.sb.db.key, "--cert", e.sb.db.cert)
	out, err := e.verify(loader)
	seen, _, _ := strings.Cut(out, "\n")
	record(t, name, "ukibuild verify systemd-boot against db", "ok, signer CN="+e.sb.db.c.Subject.CommonName, seen, err == nil)
	if err != nil {
		t.Fatalf("ukibuild verify of the signed systemd-boot: %v\n%s", err, out)
	}
	want := parseCalculate(e.run(t, "measure", efi, "--bank=sha1", "--bank=sha256", "--phase=:"))
	res := e.bootESP(t, efi, []espFile{
		{path: "EFI/BOOT/BOOTX64.EFI", from: loader},
		{path: "EFI/Linux/ukibuild.efi", from: efi},
		{path: "loader/loader.conf", data: []byte(sdbootLoaderConf)},
	}, newTPMState(t, e.workDir(t)))
	e.checkSecureBoot(t, name, res, e.sb.db.c)
	checkLoaderConfEvent(t, name, res)
	for _, bank := range []string{"sha1", "sha256"} {
		ok := res.pcr11[bank] == want[bank] && want[bank] != ""
		record(t, name, "PCR 11 "+bank+" = ukibuild measure", want[bank], res.pcr11[bank], ok)
		if !ok {
			t.Errorf("PCR 11 %s: predicted %s, the TPM has %s (serial log %s)", bank, want[bank], res.pcr11[bank], res.serial)
		}
	}
	e.checkLoaderChain(t, name, efi, loader, res)
	saveSdbootVector(t, e, efi, loader, res)
}

// checkLoaderConfEvent checks that the log has systemd-boot's loader.conf
// event: PCR 5, EV_EVENT_TAG loaderConfEventTag, sha256 H(loader.conf) (which also shows that
// systemd-boot, not the firmware, started the UKI).
func checkLoaderConfEvent(t *testing.T, name string, res *bootResult) {
	t.Helper()
	h := sha256.Sum256([]byte(sdbootLoaderConf))
	wantDigest := hex.EncodeToString(h[:])
	evs, err := eventlog.Parse(res.evlog)
	var seen []string
	for _, ev := range evs {
		if ev.PCR != 5 || ev.Type != eventlog.EvEventTag || !strings.HasPrefix(ev.Description, fmt.Sprintf("tag %#x ", loaderConfEventTag)) {
			continue
		}
		for _, v := range ev.Digests {
			if v.Bank.Name == "sha256" {
				seen = append(seen, hex.EncodeToString(v.Digest))
			}
		}
	}
	ok := err == nil && len(seen) == 1 && seen[0] == wantDigest
	record(t, name, "PCR 5 EV_EVENT_TAG 0xf5bc582a loader.conf (systemd-boot)", "1 event, sha256 "+wantDigest, fmt.Sprintf("%d: %s", len(seen), strings.Join(seen, " ")), ok)
	if !ok {
		t.Errorf("PCR 5 EV_EVENT_TAG events (sha256) %v (parse error %v); want one, H(loader.conf) = %s", seen, err, wantDigest)
	}
}

// checkLoaderChain runs "ukibuild eventlog verify" with systemd-boot as
// --loader: PCR 4 (4 firmware events, then systemd-boot's and the UKI's
// Authenticode digests), 7, 9, 11, 12 and 13 must match, and the log must
// replay to the PCR values the guest read (PCR 7, 11, 12). Without
// --loader PCR 4 must differ at event 4 (the log has systemd-boot where
// the UKI is expected).
func (e *env) checkLoaderChain(t *testing.T, name, efi, loader string, res *bootResult) {
	t.Helper()
	dir := e.workDir(t)
	log, quote, dbx := filepath.Join(dir, "eventlog.bin"), filepath.Join(dir, "quote.txt"), filepath.Join(dir, "dbx.esl")
	var q strings.Builder
	for bank, v := range res.pcr11 {
		fmt.Fprintf(&q, "11:%s=%s\n", bank, v)
	}
	fmt.Fprintf(&q, "7:sha256=%s\n12:sha256=%s\n", res.pcr7["sha256"], res.pcr12["sha256"])
	for f, b := range map[string][]byte{log: res.evlog, quote: []byte(q.String()), dbx: virtFwVarsDBX()} {
		if err := os.WriteFile(f, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	verify := func(extra ...string) (string, error) {
		args := append([]string{"eventlog", "verify", log, "--uki", efi, "--pcrs", "4,7,9,11,12,13", "--boot-attempts", "2",
			"--quote-pcrs", quote, "--owner-guid", ownerGUID, "--pk", e.sb.pk.cert, "--kek", e.sb.kek.cert,
			"--db", e.sb.db.cert, "--db", e.sb.hsm.CertPEM, "--dbx", dbx}, extra...)
		out, err := exec.Command(e.ukibuild, args...).CombinedOutput()
		return string(out), err
	}
	out, err := verify("--loader", loader)
	want := "PCR 4: match (6 events)\nPCR 7: match (7 events)\nPCR 9: match (2 events)\nPCR 11: match ("
	pcr1213 := "PCR 12: match (0 events)\nPCR 13: match (0 events)"
	quoted := "PCR 12 sha256: the log replays to the quoted value"
	ok := err == nil && strings.Contains(out, want) && strings.Contains(out, pcr1213) && strings.Contains(out, quoted)
	record(t, name, "ukibuild eventlog verify --loader systemd-boot --pcrs 4,7,9,11,12,13 --quote-pcrs",
		oneLine(want+"...) "+pcr1213)+"; replay = TPM (PCR 7, 11, 12)", oneLine(out), ok)
	if !ok {
		t.Errorf("%s: ukibuild eventlog verify --loader: %v\n%s", name, err, out)
	}
	out, err = verify()
	ok = err != nil && strings.Contains(out, "PCR 4: event 4 differs") && strings.Contains(out, "PCR 11: match")
	record(t, name, "eventlog verify without --loader", "fails: PCR 4 event 4 (systemd-boot, not the UKI)", oneLine(out), ok)
	if !ok {
		t.Errorf("%s: ukibuild eventlog verify without --loader: %v\n%s", name, err, out)
	}
}

// saveSdbootVector copies the boot's event log, the UKI, the signed
// systemd-boot and the guest's lines to $UKIBUILD_E2E_SAVE when it is set
// (as saveVector: how testvectors/eventlog/ovmf-sb-sdboot262.* were
// recorded).
func saveSdbootVector(t *testing.T, e *env, efi, loader string, res *bootResult) {
	t.Helper()
	d := os.Getenv("UKIBUILD_E2E_SAVE")
	if d == "" {
		return
	}
	if err := os.WriteFile(filepath.Join(d, "eventlog-sdboot.bin"), res.evlog, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, "lines-sdboot.txt"), []byte(strings.Join(res.lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	copyFile(t, efi, filepath.Join(d, "uki-sdboot.efi"))
	copyFile(t, loader, filepath.Join(d, "systemd-bootx64.signed.efi"))
	for _, c := range []struct{ from, to string }{
		{e.sb.pk.cert, "pk.pem"}, {e.sb.kek.cert, "kek.pem"}, {e.sb.db.cert, "db.pem"}, {e.sb.hsm.CertPEM, "hsm.pem"},
	} {
		copyFile(t, c.from, filepath.Join(d, c.to))
	}
}
