package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// shimLockGUID owns the MOK the test enrolls, as mokutil --import
// enrolls one (shim's SHIM_LOCK_GUID; what "ukibuild eventlog verify
// --mok" assumes for a certificate).
const shimLockGUID = "605dab50-e046-4300-abb6-3dd810dd8b23"

// TestBootShim (case 14): Debian bookworm's shim-unsigned 16.1
// (shimx64.efi), signed by "ukibuild sign" with the db key, is the ESP's
// default loader (EFI/BOOT/BOOTX64.EFI) and starts the stub 262 UKI as
// EFI/BOOT/grubx64.efi, its default second stage (MokManager, mmx64.efi,
// signed too, is next to it; fbx64.efi is not, or shim would run the
// fallback). "ukibuild eventlog verify --loader shimx64.efi --pcrs
// 4,7,9,11,12,13,14" must match every PCR of the guest's log, and the log
// must replay to the values the guest read from the TPM:
//
//   - a fresh varstore (no MOK): shim measures MokList (its vendor
//     certificate), MokListX (its built-in dbx), MokListTrusted (01) into
//     PCR 14, its SbatLevel into PCR 7, and the db entry that authorized
//     the UKI into PCR 7 again (it does not know the firmware's event);
//   - a MOK enrolled in the varstore's MokList (virt-fw-vars
//     --add-mok) and the UKI signed by that key, which db does not hold:
//     shim authorizes it by MokListRT (its PCR 7 authority "MokListRT"),
//     and PCR 14's MokList event covers the MOK (--mok), so PCR 14
//     differs from the fresh install's;
//   - shim starts systemd-boot 262 (signed with the db key, as
//     grubx64.efi), which starts the UKI as a Type #2 entry through the
//     firmware's LoadImage, which shim hooks: shim verifies and measures
//     both (PCR 7: its "db" authority once, for systemd-boot; PCR 4: both
//     images);
//   - a UKI signed by a key in neither db nor MokList: shim prints
//     "Verification failed: (0x1A) Security Violation" and nothing of the
//     UKI runs.
func TestBootShim(t *testing.T) {
	e := setup(t)
	dir := e.workDir(t)
	shimPath := filepath.Join(dir, "shimx64.efi")
	mmPath := filepath.Join(dir, "mmx64.efi")
	e.run(t, "sign", e.tools.Path(t, "UKIBUILD_SHIM_161"), "-o", shimPath, "--key", e.sb.db.key, "--cert", e.sb.db.cert)
	e.run(t, "sign", e.tools.Path(t, "UKIBUILD_SHIM_161_MM"), "-o", mmPath, "--key", e.sb.db.key, "--cert", e.sb.db.cert)
	shimESP := func(uki string) []espFile {
		return []espFile{
			{path: "EFI/BOOT/BOOTX64.EFI", from: shimPath},
			{path: "EFI/BOOT/mmx64.efi", from: mmPath},
			{path: "EFI/BOOT/grubx64.efi", from: uki},
		}
	}

	var pcr14Fresh string
	t.Run("fresh", func(t *testing.T) {
		const name = "14 shim 16.1 starts the UKI"
		efi := filepath.Join(e.workDir(t), "grubx64.efi")
		e.buildSigned(t, efi, e.sb.db, e.ukiArgs(t, "262")...)
		res := e.bootESP(t, efi, shimESP(efi), newTPMState(t, e.workDir(t)))
		e.checkSecureBoot(t, name, res, e.sb.db.c)
		e.checkShimVerify(t, name, efi, shimPath, res, x64BootAttempts, nil)
		pcr14Fresh = res.sha256[14]
		// A byte of shim's .text changed: PCR 4 differs at shim's event
		// (without the Secure Boot variables, which would refuse it).
		b, err := os.ReadFile(shimPath)
		if err != nil {
			t.Fatal(err)
		}
		const at = 0x30000 // inside .text (file offset 0x21000, 0x65122 bytes)
		b[at] ^= 0xff
		changed := filepath.Join(e.workDir(t), "shimx64.changed.efi")
		if err := os.WriteFile(changed, b, 0o644); err != nil {
			t.Fatal(err)
		}
		log := filepath.Join(e.workDir(t), "eventlog.bin")
		if err := os.WriteFile(log, res.evlog, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(e.ukibuild, "eventlog", "verify", log, "--uki", efi, "--loader", changed, "--boot-attempts", "2", "--pcrs", "4,14").CombinedOutput()
		ok := err != nil && strings.Contains(string(out), "PCR 4: event 4 differs") && strings.Contains(string(out), "PCR 14: match")
		record(t, name, fmt.Sprintf("eventlog verify --pcrs 4,14, shim byte %#x changed", at), "fails: PCR 4 event 4 (shim); PCR 14 matches", oneLine(string(out)), ok)
		if !ok {
			t.Errorf("%s: eventlog verify with a changed shim: %v\n%s", name, err, out)
		}
		// A byte of the UKI's .linux changed: PCR 4 differs at the UKI's
		// event, PCR 11 at .linux's.
		u, err := os.ReadFile(efi)
		if err != nil {
			t.Fatal(err)
		}
		const uat = 5000000 // inside .linux
		u[uat] ^= 0xff
		changedUKI := filepath.Join(e.workDir(t), "grubx64.changed.efi")
		if err := os.WriteFile(changedUKI, u, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err = exec.Command(e.ukibuild, "eventlog", "verify", log, "--uki", changedUKI, "--loader", shimPath, "--boot-attempts", "2", "--pcrs", "4,11,14").CombinedOutput()
		ok = err != nil && strings.Contains(string(out), "PCR 4: event 5 differs") && strings.Contains(string(out), "PCR 11: event 1 differs") && strings.Contains(string(out), "PCR 14: match")
		record(t, name, fmt.Sprintf("eventlog verify --pcrs 4,11,14, UKI byte %d changed", uat), "fails: PCR 4 event 5 (UKI), PCR 11 event 1 (.linux); PCR 14 matches", oneLine(string(out)), ok)
		if !ok {
			t.Errorf("%s: eventlog verify with a changed UKI: %v\n%s", name, err, out)
		}
		saveShimVector(t, e, "fresh", efi, shimPath, res)
	})

	t.Run("mok", func(t *testing.T) {
		const name = "14 shim 16.1, UKI signed by an enrolled MOK"
		d := e.workDir(t)
		mok, err := newTestCert(d, "mok", "ukibuild e2e MOK")
		if err != nil {
			t.Fatal(err)
		}
		vars := filepath.Join(d, "vars-mok.fd")
		if out, err := exec.Command(virtFwVars, "--input", e.sb.vars, "--output", vars, "--add-mok", shimLockGUID, mok.cert).CombinedOutput(); err != nil {
			t.Fatalf("virt-fw-vars --add-mok: %v\n%s", err, out)
		}
		efi := filepath.Join(d, "grubx64.efi")
		e.buildSigned(t, efi, mok, e.ukiArgs(t, "262")...)
		if out, err := e.verify(efi); err == nil {
			t.Fatalf("the MOK-signed UKI verifies against db, so the case shows nothing:\n%s", out)
		}
		res := e.withVars(vars).bootESP(t, efi, shimESP(efi), newTPMState(t, e.workDir(t)))
		e.checkShimVerify(t, name, efi, shimPath, res, x64BootAttempts, []string{"--mok", mok.cert})
		ok := res.sha256[14] != "" && pcr14Fresh != "" && res.sha256[14] != pcr14Fresh
		record(t, name, "PCR 14 (sha256) differs from the fresh install's", "≠ "+pcr14Fresh, res.sha256[14], ok)
		if !ok {
			t.Errorf("%s: PCR 14 %s, without the MOK %s: want them to differ", name, res.sha256[14], pcr14Fresh)
		}
		// Without --mok (and without the Secure Boot variables, with which
		// the prediction would have shim refuse the UKI: see the wrong-key case), PCR 14
		// is predicted for a fresh install and differs at MokList.
		log := filepath.Join(d, "eventlog.bin")
		if err := os.WriteFile(log, res.evlog, 0o644); err != nil {
			t.Fatal(err)
		}
		b, err := exec.Command(e.ukibuild, "eventlog", "verify", log, "--uki", efi, "--loader", shimPath, "--boot-attempts", "2", "--pcrs", "4,14").CombinedOutput()
		out := string(b)
		ok = err != nil && strings.Contains(out, "PCR 14: event 0 differs") && strings.Contains(out, "PCR 4: match")
		record(t, name, "eventlog verify --pcrs 4,14 without --mok", "fails: PCR 14 event 0 (MokList); PCR 4 matches", oneLine(out), ok)
		if !ok {
			t.Errorf("%s: eventlog verify without --mok: %v\n%s", name, err, out)
		}
		saveShimVector(t, e, "mok", efi, shimPath, res)
		if d := os.Getenv("UKIBUILD_E2E_SAVE"); d != "" {
			copyFile(t, mok.cert, filepath.Join(d, "mok.pem"))
		}
	})

	t.Run("sdboot", func(t *testing.T) {
		const name = "14 shim 16.1 starts systemd-boot 262, which starts the UKI"
		d := e.workDir(t)
		efi := filepath.Join(d, "ukibuild.efi")
		e.buildSigned(t, efi, e.sb.db, e.ukiArgs(t, "262")...)
		loader := filepath.Join(d, "systemd-bootx64.efi")
		e.run(t, "sign", e.tools.Path(t, "UKIBUILD_SYSTEMD_BOOT_262"), "-o", loader, "--key", e.sb.db.key, "--cert", e.sb.db.cert)
		res := e.bootESP(t, efi, []espFile{
			{path: "EFI/BOOT/BOOTX64.EFI", from: shimPath},
			{path: "EFI/BOOT/mmx64.efi", from: mmPath},
			{path: "EFI/BOOT/grubx64.efi", from: loader},
			{path: "EFI/Linux/ukibuild.efi", from: efi},
			{path: "loader/loader.conf", data: []byte(sdbootLoaderConf)},
		}, newTPMState(t, e.workDir(t)))
		checkLoaderConfEvent(t, name, res)
		e.checkShimVerify(t, name, efi, shimPath, res, x64BootAttempts, []string{"--loader", loader})
		// A byte of systemd-boot changed: PCR 4 differs at its event.
		b, err := os.ReadFile(loader)
		if err != nil {
			t.Fatal(err)
		}
		b[0x2000] ^= 0xff // inside .text
		changed := filepath.Join(d, "systemd-bootx64.changed.efi")
		if err := os.WriteFile(changed, b, 0o644); err != nil {
			t.Fatal(err)
		}
		log := filepath.Join(d, "eventlog.bin")
		if err := os.WriteFile(log, res.evlog, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(e.ukibuild, "eventlog", "verify", log, "--uki", efi, "--loader", shimPath, "--loader", changed, "--boot-attempts", "2", "--pcrs", "4,14").CombinedOutput()
		ok := err != nil && strings.Contains(string(out), "PCR 4: event 5 differs") && strings.Contains(string(out), "PCR 14: match")
		record(t, name, "eventlog verify --pcrs 4,14, systemd-boot byte 0x2000 changed", "fails: PCR 4 event 5 (systemd-boot); PCR 14 matches", oneLine(string(out)), ok)
		if !ok {
			t.Errorf("%s: eventlog verify with a changed systemd-boot: %v\n%s", name, err, out)
		}
		saveShimVector(t, e, "sdboot", efi, shimPath, res)
	})

	t.Run("wrong-key", func(t *testing.T) {
		const name = "14 shim 16.1 refuses a wrong-key UKI"
		efi := filepath.Join(e.workDir(t), "grubx64.efi")
		e.buildSigned(t, efi, e.sb.wrong, e.ukiArgs(t, "262")...)
		r := e.qemuESP(t, shimESP(efi), newTPMState(t, e.workDir(t)), 10*time.Minute)
		e.checkShimRefusal(t, name, efi, shimPath, r)
	})
}

// x64BootAttempts is --boot-attempts for the x86-64 boots: OVMF here
// tries two boot options; AAVMF (arm64Shim) one.
const x64BootAttempts = "2"

// shimVerify runs "ukibuild eventlog verify" on the boot's log with
// shim (shimx64.efi or shimaa64.efi) as --loader, the test's Secure Boot
// variables and --boot-attempts attempts, plus extra arguments.
func (e *env) shimVerify(efi, shimPath string, res *bootResult, attempts string, extra ...string) (string, error) {
	dir, err := os.MkdirTemp(e.dir, "shimverify-")
	if err != nil {
		return "", err
	}
	log, dbx := filepath.Join(dir, "eventlog.bin"), filepath.Join(dir, "dbx.esl")
	if err := os.WriteFile(log, res.evlog, 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(dbx, virtFwVarsDBX(), 0o644); err != nil {
		return "", err
	}
	args := append([]string{"eventlog", "verify", log, "--uki", efi, "--loader", shimPath, "--boot-attempts", attempts,
		"--owner-guid", ownerGUID, "--pk", e.sb.pk.cert, "--kek", e.sb.kek.cert,
		"--db", e.sb.db.cert, "--db", e.sb.hsm.CertPEM, "--dbx", dbx}, extra...)
	out, err := exec.Command(e.ukibuild, args...).CombinedOutput()
	return string(out), err
}

// checkShimVerify checks that "ukibuild eventlog verify --loader
// shimx64.efi --pcrs 4,7,9,11,12,13,14" (or shimaa64.efi; with extra
// arguments) matches every PCR of the log and that the log replays to the
// values the TPM holds (res: what the guest read, or on arm64 swtpm's log
// replayed; sha256: 4, 7, 9, 11, 12, 13, 14; sha1: 11).
func (e *env) checkShimVerify(t *testing.T, name, efi, shimPath string, res *bootResult, attempts string, extra []string) {
	t.Helper()
	pcrs := []int{4, 7, 9, 11, 12, 13, 14}
	var q strings.Builder
	for _, i := range pcrs {
		if v := res.sha256[i]; v != "" {
			fmt.Fprintf(&q, "%d:sha256=%s\n", i, v)
		}
	}
	if v := res.pcr11["sha1"]; v != "" {
		fmt.Fprintf(&q, "11:sha1=%s\n", v)
	}
	quote := filepath.Join(e.workDir(t), "quote.txt")
	if err := os.WriteFile(quote, []byte(q.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := e.shimVerify(efi, shimPath, res, attempts, append([]string{"--pcrs", "4,7,9,11,12,13,14", "--quote-pcrs", quote}, extra...)...)
	var missing []string
	for _, i := range pcrs {
		for _, s := range []string{fmt.Sprintf("PCR %d: match (", i), fmt.Sprintf("PCR %d sha256: the log replays to the quoted value", i)} {
			if !strings.Contains(out, s) {
				missing = append(missing, s)
			}
		}
	}
	ok := err == nil && len(missing) == 0 && len(res.sha256) == len(pcrs)
	record(t, name, "ukibuild eventlog verify --loader "+filepath.Base(shimPath)+" --pcrs 4,7,9,11,12,13,14 --quote-pcrs "+strings.Join(extra, " "),
		"PCR 4, 7, 9, 11, 12, 13, 14 match; replay = TPM (sha256, all seven)", oneLine(out), ok)
	if !ok {
		t.Errorf("%s: ukibuild eventlog verify: %v; missing %q; the guest read %d sha256 PCRs\n%s", name, err, missing, len(res.sha256), out)
	}
}

// saveShimVector copies the boot's event log, the UKI, the signed shim
// and the guest's lines to $UKIBUILD_E2E_SAVE when it is set (as
// saveVector).
func saveShimVector(t *testing.T, e *env, tag, efi, shimPath string, res *bootResult) {
	t.Helper()
	d := os.Getenv("UKIBUILD_E2E_SAVE")
	if d == "" {
		return
	}
	if err := os.WriteFile(filepath.Join(d, "eventlog-shim-"+tag+".bin"), res.evlog, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, "lines-shim-"+tag+".txt"), []byte(strings.Join(res.lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	copyFile(t, efi, filepath.Join(d, "uki-shim-"+tag+".efi"))
	copyFile(t, shimPath, filepath.Join(d, "shimx64.signed.efi"))
	for _, c := range []struct{ from, to string }{
		{e.sb.pk.cert, "pk.pem"}, {e.sb.kek.cert, "kek.pem"}, {e.sb.db.cert, "db.pem"}, {e.sb.hsm.CertPEM, "hsm.pem"},
	} {
		copyFile(t, c.from, filepath.Join(d, c.to))
	}
}

// checkShimRefusal records case 14's and 20's refusal checks: shim refused
// the wrong-key UKI efi with Security Violation in the boot r, and
// "measure --explain --loader SHIM" says so too.
func (e *env) checkShimRefusal(t *testing.T, name, efi, shimPath string, r *qemuRun) {
	t.Helper()
	checkRefused(t, name, "shim", `refused: "Verification failed: (0x1A) Security Violation"`, "Security Violation", r)
	out, err := exec.Command(e.ukibuild, "measure", efi, "--explain", "--pcrs", "4,7,14", "--loader", shimPath,
		"--owner-guid", ownerGUID, "--pk", e.sb.pk.cert, "--kek", e.sb.kek.cert, "--db", e.sb.db.cert, "--db", e.sb.hsm.CertPEM).CombinedOutput()
	ok := err != nil && strings.Contains(string(out), "shim refuses it (Security Violation)")
	record(t, name, "ukibuild measure --explain --loader "+filepath.Base(shimPath), "fails: shim refuses it (Security Violation)", oneLine(string(out)), ok)
	if !ok {
		t.Errorf("%s: ukibuild measure --explain: %v\n%s", name, err, out)
	}
}
