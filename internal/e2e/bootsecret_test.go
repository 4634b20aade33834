package e2e

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBootBootSecret (case 12): the boot secret of systemd-stub 261+.
// systemd-boot 262.1 starts the stub 262 UKI (as in case 6) from an ESP
// with a \loader\random-seed, on a machine with an EFI RNG (QEMU's
// virtio-rng-pci, which OVMF's VirtioRngDxe offers as EFI_RNG_PROTOCOL).
// What makes the secret (systemd's src/boot/random-seed.c,
// process_random_seed; src/boot/boot-secret.c, prepare_boot_secret; tag
// v261 on; eventlog.AddsBootSecret):
//
//   - systemd-boot, before it starts a UKI entry, installs a Linux random
//     seed table from the seed file, the RNG, LoaderSystemToken and the
//     clock, and rewrites the file; under Secure Boot it gives up without
//     an EFI RNG (and without an earlier table), whatever the seed file
//     and LoaderSystemToken hold;
//   - the stub, when that table exists and the ESP it was loaded from is
//     writable, reads or makes LoaderBootSecret (an EFI variable without
//     runtime access) and \loader\boot-secret-mixin, and adds an archive
//     with /.extra/boot-secret (32 bytes) to the initrd; it does not
//     measure it, Linux measures the whole initrd into PCR 9;
//   - without systemd-boot, the stub itself runs process_random_seed on
//     its ESP (refresh_random_seed), which it finds as a partition of the
//     ESP type in the disk's GPT (src/boot/part-discovery.c).
//
// The sub-tests: with systemd-boot and the RNG, and with the stub alone
// on a GPT ESP (gptESP: what real machines have) and the RNG, the guest
// has /.extra/boot-secret, PCR 4, 7, 11, 12, 13 and PCR 9's command line
// event match, and "eventlog verify --boot-secret" calls PCR 9
// unverifiable (neither match nor mismatch, the initrd event named with
// the reason); without --boot-secret PCR 9 differs at the initrd event.
// "measure --explain --boot-secret" marks the event machine-specific and
// gives no PCR 9 value. Without the RNG (systemd-boot, the same seed file)
// and with the RNG but the stub alone on QEMU's FAT disk (an MBR: the stub
// finds no ESP partition) there is no secret, and "eventlog verify
// --boot-secret" matches PCR 9 (the initrd event is the one without a
// secret).
func TestBootBootSecret(t *testing.T) {
	e := setup(t)
	dir := e.workDir(t)
	efi := filepath.Join(dir, "ukibuild.efi")
	e.buildSigned(t, efi, e.sb.db, e.ukiArgs(t, "262")...)
	loader := filepath.Join(dir, "systemd-bootx64.efi")
	e.run(t, "sign", e.tools.Path(t, "UKIBUILD_SYSTEMD_BOOT_262"), "-o", loader, "--key", e.sb.db.key, "--cert", e.sb.db.cert)
	seed := make([]byte, 32)
	if _, err := rand.Read(seed); err != nil {
		t.Fatal(err)
	}
	sdboot := []espFile{
		{path: "EFI/BOOT/BOOTX64.EFI", from: loader},
		{path: "EFI/Linux/ukibuild.efi", from: efi},
		{path: "loader/loader.conf", data: []byte(sdbootLoaderConf)},
		{path: "loader/random-seed", data: seed},
	}
	direct := []espFile{{path: "EFI/BOOT/BOOTX64.EFI", from: efi}, {path: "loader/random-seed", data: seed}}
	for _, c := range []struct {
		name   string
		esp    []espFile
		loader bool
		qemu   []string
		secret bool
	}{
		{"systemd-boot with EFI RNG", sdboot, true, []string{"-device", "virtio-rng-pci"}, true},
		{"systemd-boot without EFI RNG", sdboot, true, nil, false},
		{"stub alone with EFI RNG", direct, false, []string{"-device", "virtio-rng-pci"}, false},
		{"stub alone on a GPT ESP with EFI RNG", direct, false, []string{"gptesp", "-device", "virtio-rng-pci"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			name := "12 boot secret"
			what := c.name + ": "
			res := e.bootESP(t, efi, c.esp, newTPMState(t, e.workDir(t)), c.qemu...)
			got, has := res.extra["/.extra/boot-secret"]
			want := "none"
			if c.secret {
				want = "32 bytes"
			}
			ok := has == c.secret && (!has || strings.HasPrefix(got, "32 "))
			record(t, name, what+"/.extra/boot-secret in the guest", want, fmt.Sprintf("%v %s", has, got), ok)
			if !ok {
				t.Errorf("/.extra/boot-secret: %v %q, want %s (serial log %s)", has, got, want, res.serial)
			}
			e.checkSecureBoot(t, name, res, e.sb.db.c)
			e.checkBootSecretVerify(t, name, what, efi, loader, c.loader, c.secret, res)
		})
	}
	e.checkBootSecretExplain(t, "12 boot secret", efi)
}

// checkBootSecretVerify runs "eventlog verify" on the boot's log with
// --boot-secret and, when the boot had a secret, without it.
func (e *env) checkBootSecretVerify(t *testing.T, name, what, efi, loader string, withLoader, secret bool, res *bootResult) {
	t.Helper()
	dir := e.workDir(t)
	log, quote, dbx := filepath.Join(dir, "eventlog.bin"), filepath.Join(dir, "quote.txt"), filepath.Join(dir, "dbx.esl")
	q := fmt.Sprintf("7:sha256=%s\n11:sha256=%s\n12:sha256=%s\n", res.pcr7["sha256"], res.pcr11["sha256"], res.pcr12["sha256"])
	for f, b := range map[string][]byte{log: res.evlog, quote: []byte(q), dbx: virtFwVarsDBX()} {
		if err := os.WriteFile(f, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	verify := func(extra ...string) (string, error) {
		args := []string{"eventlog", "verify", log, "--uki", efi, "--pcrs", "4,7,9,11,12,13", "--boot-attempts", "2",
			"--quote-pcrs", quote, "--owner-guid", ownerGUID, "--pk", e.sb.pk.cert, "--kek", e.sb.kek.cert,
			"--db", e.sb.db.cert, "--db", e.sb.hsm.CertPEM, "--dbx", dbx}
		if withLoader {
			args = append(args, "--loader", loader)
		}
		out, err := exec.Command(e.ukibuild, append(args, extra...)...).CombinedOutput()
		return string(out), err
	}
	others := []string{"PCR 4: match", "PCR 7: match", "PCR 11: match", "PCR 12: match", "PCR 13: match",
		"PCR 7 sha256: the log replays to the quoted value", "PCR 11 sha256: the log replays to the quoted value", "PCR 12 sha256: the log replays to the quoted value"}
	has := func(out string, want ...string) bool {
		for _, w := range want {
			if !strings.Contains(out, w) {
				return false
			}
		}
		return true
	}
	out, err := verify("--boot-secret")
	if secret {
		want := "PCR 9: unverifiable (2 events): neither a match nor a mismatch; the other events match, these could not be checked offline:\n  event 1: EV_EVENT_TAG tag 0x8f3b22ec Linux initrd"
		ok := exitCode(err) == 3 && has(out, append(others, want, "machine-specific", "PCR 9 could not be verified offline")...) &&
			!strings.Contains(out, "PCR 9: match") && !strings.Contains(out, "differs")
		record(t, name, what+"eventlog verify --boot-secret --pcrs 4,7,9,11,12,13", "PCR 9 unverifiable at event 1 (initrd), exit 3; the others match", fmt.Sprintf("%v: %s", err, oneLine(out)), ok)
		if !ok {
			t.Errorf("eventlog verify --boot-secret: %v\n%s", err, out)
		}
		out, err = verify("--boot-secret", "--json")
		var rep struct {
			OK           bool  `json:"ok"`
			Unverifiable []int `json:"unverifiable"`
			PCRs         []struct {
				PCR        int      `json:"pcr"`
				Status     string   `json:"status"`
				Unverified []string `json:"unverified"`
			} `json:"pcrs"`
		}
		// The output is the warning (stderr), the JSON (stdout), the
		// error line (stderr).
		jerr := json.NewDecoder(strings.NewReader(out[max(strings.Index(out, "{"), 0):])).Decode(&rep)
		var statuses []string
		for _, p := range rep.PCRs {
			statuses = append(statuses, fmt.Sprintf("%d:%s", p.PCR, p.Status))
		}
		ok = exitCode(err) == 3 && jerr == nil && !rep.OK && fmt.Sprint(rep.Unverifiable) == "[9]" &&
			strings.Join(statuses, " ") == "4:match 7:match 9:unverifiable 11:match 12:match 13:match"
		record(t, name, what+"eventlog verify --boot-secret --json", `"ok": false, "unverifiable": [9]; 4:match 7:match 9:unverifiable 11:match 12:match 13:match`,
			fmt.Sprintf("ok %v, unverifiable %v; %s (%v)", rep.OK, rep.Unverifiable, strings.Join(statuses, " "), jerr), ok)
		if !ok {
			t.Errorf("eventlog verify --boot-secret --json: %v\n%s", err, out)
		}
		out, err = verify()
		ok = exitCode(err) == 1 && has(out, append(others, "PCR 9: event 1 differs")...)
		record(t, name, what+"eventlog verify without --boot-secret", "PCR 9: event 1 differs (the initrd)", oneLine(out), ok)
		if !ok {
			t.Errorf("eventlog verify without --boot-secret: %v\n%s", err, out)
		}
		return
	}
	ok := err == nil && has(out, append(others, "PCR 9: match (2 events)")...)
	record(t, name, what+"eventlog verify --boot-secret --pcrs 4,7,9,11,12,13", "all match (PCR 9: the initrd without a secret)", oneLine(out), ok)
	if !ok {
		t.Errorf("eventlog verify --boot-secret: %v\n%s", err, out)
	}
}

// checkBootSecretExplain: "measure --explain --boot-secret" marks PCR 9's
// initrd event machine-specific and prints no PCR 9 value; its JSON form
// has "machineSpecific" on the event and no values for PCR 9.
func (e *env) checkBootSecretExplain(t *testing.T, name, efi string) {
	t.Helper()
	out := e.run(t, "measure", efi, "--explain", "--pcrs", "9,11", "--bank", "sha256", "--boot-secret", "--consoles", "none")
	ok := strings.Contains(out, "PCR 9 event 1: EV_EVENT_TAG tag 0x8f3b22ec Linux initrd") && strings.Contains(out, "  machine-specific") &&
		strings.Contains(out, "9:sha256 cannot be predicted offline") && strings.Contains(out, "11:sha256=")
	record(t, name, "measure --explain --boot-secret --pcrs 9,11", "initrd event machine-specific, no PCR 9 value, PCR 11 value", oneLine(out), ok)
	if !ok {
		t.Errorf("measure --explain --boot-secret:\n%s", out)
	}
	out = e.run(t, "measure", efi, "--explain", "--pcrs", "9,11", "--bank", "sha256", "--boot-secret", "--consoles", "none", "--json", "short")
	var doc struct {
		Events []struct {
			PCR             int    `json:"pcr"`
			MachineSpecific string `json:"machineSpecific"`
		} `json:"events"`
		PCRs map[string]map[string][]string `json:"pcrs"`
	}
	err := json.Unmarshal([]byte(out), &doc)
	n := 0
	for _, ev := range doc.Events {
		if ev.MachineSpecific != "" && ev.PCR == 9 {
			n++
		}
	}
	ok = err == nil && n == 1 && len(doc.PCRs["9"]) == 0 && len(doc.PCRs["11"]["sha256"]) == 1
	record(t, name, "measure --explain --boot-secret --json", `one PCR 9 event with "machineSpecific", "9": {}`, fmt.Sprintf("%d events, pcrs[9] %v (%v)", n, doc.PCRs["9"], err), ok)
	if !ok {
		t.Errorf("measure --explain --boot-secret --json: %v\n%s", err, out)
	}
}

// gptESP writes dir/esp.img: a 64 MiB disk with a GPT (sfdisk) whose one
// partition, from 1 MiB on, has the ESP type and a FAT file system
// (mkfs.vfat) holding the ESP's files (mtools' mmd and mcopy). Real ESPs
// look like this, and systemd-stub looks for its ESP partition in the GPT
// (src/boot/part-discovery.c, partition_open), which QEMU's FAT disk has
// not.
func gptESP(t *testing.T, dir string, files []espFile) string {
	t.Helper()
	need(t, "sfdisk", "mkfs.vfat", "mmd", "mcopy")
	img := filepath.Join(dir, "esp.img")
	const size, start = 64 << 20, 1 << 20
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, size); err != nil {
		t.Fatal(err)
	}
	run := func(stdin string, name string, args ...string) {
		cmd := exec.Command(name, args...)
		cmd.Stdin = strings.NewReader(stdin)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
	}
	run("label: gpt\nstart=2048, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B\n", "sfdisk", "--quiet", img)
	// The partition ends 33 sectors before the disk's end (the backup GPT);
	// mkfs.vfat takes its size in 1 KiB blocks.
	run("", "mkfs.vfat", "-F", "32", "-S", "512", "--offset", "2048", img, fmt.Sprint((size-start-34*512)/1024))
	at := fmt.Sprintf("%s@@%d", img, start)
	dirs := map[string]bool{}
	for _, f := range files {
		parts := strings.Split(f.path, "/")
		for i := 1; i < len(parts); i++ {
			d := strings.Join(parts[:i], "/")
			if !dirs[d] {
				dirs[d] = true
				run("", "mmd", "-i", at, "::/"+d)
			}
		}
		from := f.from
		if from == "" {
			from = filepath.Join(dir, "esp-"+strings.ReplaceAll(f.path, "/", "_"))
			if err := os.WriteFile(from, f.data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		run("", "mcopy", "-i", at, from, "::/"+f.path)
	}
	return img
}

// exitCode is a command's exit code from exec's error: 0 for nil, -1 when
// it did not exit normally.
func exitCode(err error) int {
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return exit.ExitCode()
	}
	return -1
}
