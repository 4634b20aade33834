package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestBootConsoleAppended (case 7): a stub 262 UKI whose .cmdline has no
// console= boots on q35 with a serial port, with and without a display,
// and with only a VirtIO console. The stub appends console=uart,io,0x3f8
// for the serial port, console=hvc0 for the VirtIO console and, with the
// display (GOP), console=tty0 (src/boot/console.c); the guest's
// /proc/cmdline shows it, Linux measures it into PCR 9, and "eventlog
// verify" without --consoles matches PCR 9 with the outcome of the stub's
// rule the log shows and says which; given the wrong consoles it reports
// PCR 9's first event as differing.
func TestBootConsoleAppended(t *testing.T) {
	e := setup(t)
	for _, c := range []struct {
		name, cmdline, consoles, wrong, kernel string
		qemu                                   []string
	}{
		{"serial and display", "panic=-1 console=uart,io,0x3f8 console=tty0", "serial COM1, graphics", "serial=1", "UKIBUILD_KERNEL", nil},
		{"serial only", "panic=-1 console=uart,io,0x3f8", "serial COM1", "serial=1,graphics", "UKIBUILD_KERNEL", []string{"-vga", "none"}},
		// Debian 12's 6.1 has virtio_console as a module; 6.12 has it
		// built in, so hvc0 is there for the guest.
		{"VirtIO console only", "panic=-1 console=hvc0", "VirtIO", "serial=1", "UKIBUILD_KERNEL_612", []string{"-vga", "none", "virtconsole"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			name := "7 console appended, " + c.name
			dir := e.workDir(t)
			efi := filepath.Join(dir, "uki.efi")
			args := e.ukiArgs(t, "262")
			args[slices.Index(args, "--cmdline")+1] = "panic=-1"
			args[slices.Index(args, "--linux")+1] = e.tools.Path(t, c.kernel)
			e.buildSigned(t, efi, e.sb.db, args...)
			res := e.bootESP(t, efi, defaultESP(efi, nil), newTPMState(t, dir), c.qemu...)
			ok := res.cmdline == c.cmdline
			record(t, name, "/proc/cmdline", c.cmdline, res.cmdline, ok)
			if !ok {
				t.Errorf("/proc/cmdline %q, want %q (serial log %s)", res.cmdline, c.cmdline, res.serial)
			}
			log := filepath.Join(dir, "eventlog.bin")
			if err := os.WriteFile(log, res.evlog, 0o644); err != nil {
				t.Fatal(err)
			}
			verify := func(extra ...string) (string, error) {
				out, err := exec.Command(e.ukibuild, append([]string{"eventlog", "verify", log, "--uki", efi, "--pcrs", "9,11"}, extra...)...).CombinedOutput()
				return string(out), err
			}
			out, err := verify()
			want := "PCR 9: match (2 events)\n  as event 0: tag 0x8f3b22ed LOADED_IMAGE::LoadOptions: \"" + c.cmdline + "\" (consoles: " + c.consoles + ")"
			ok = err == nil && strings.Contains(out, want) && strings.Contains(out, "PCR 11: match")
			record(t, name, "eventlog verify --pcrs 9,11 (consoles unknown)", oneLine(want), oneLine(out), ok)
			if !ok {
				t.Errorf("eventlog verify: %v\n%s\nwant %s", err, out, want)
			}
			out, err = verify("--consoles", c.wrong)
			ok = err != nil && strings.Contains(out, "PCR 9: event 0 differs")
			record(t, name, "eventlog verify --consoles "+c.wrong+" (wrong)", "PCR 9: event 0 differs", oneLine(out), ok)
			if !ok {
				t.Errorf("eventlog verify --consoles %s: %v\n%s", c.wrong, err, out)
			}
		})
	}
}
