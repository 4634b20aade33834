package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestBootNewerKernels (case 8): stub 262 UKIs with Debian 13's 6.12
// kernel and sid's newest boot under Secure Boot, and what their EFI stubs
// measure into PCR 9 (the command line and the initrd), with PCR 4 and 11,
// is what "eventlog verify" predicts, as for Debian 12's 6.1 (case 5):
// PCR 9 is Linux's measurement, so each kernel series is booted.
func TestBootNewerKernels(t *testing.T) {
	e := setup(t)
	for _, k := range []struct{ name, key string }{
		{"8 PCR 9 with trixie's 6.12 kernel", "UKIBUILD_KERNEL_612"},
		{"8 PCR 9 with sid's kernel", "UKIBUILD_KERNEL_SID"},
	} {
		t.Run(k.key, func(t *testing.T) {
			dir := e.workDir(t)
			efi := filepath.Join(dir, "uki.efi")
			args := e.ukiArgs(t, "262")
			args[slices.Index(args, "--linux")+1] = e.tools.Path(t, k.key)
			e.buildSigned(t, efi, e.sb.db, args...)
			res := e.boot(t, efi)
			want := parseCalculate(e.run(t, "measure", efi, "--bank=sha256", "--phase=:"))
			ok := res.pcr11["sha256"] == want["sha256"] && want["sha256"] != ""
			record(t, k.name, "PCR 11 sha256 = ukibuild measure", want["sha256"], res.pcr11["sha256"], ok)
			if !ok {
				t.Errorf("PCR 11: predicted %s, the TPM has %s (serial log %s)", want["sha256"], res.pcr11["sha256"], res.serial)
			}
			log := filepath.Join(dir, "eventlog.bin")
			if err := os.WriteFile(log, res.evlog, 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(e.ukibuild, "eventlog", "verify", log, "--uki", efi, "--pcrs", "4,9,11", "--boot-attempts", "2").CombinedOutput()
			wantOut := "PCR 4: match (5 events)\nPCR 9: match (2 events)\nPCR 11: match ("
			ok = err == nil && strings.Contains(string(out), wantOut)
			record(t, k.name, "eventlog verify --pcrs 4,9,11", oneLine(wantOut), oneLine(string(out)), ok)
			if !ok {
				t.Errorf("eventlog verify: %v\n%s", err, out)
			}
		})
	}
}
