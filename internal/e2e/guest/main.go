// Command guest is the /init of the boot tests' initrd (built static with
// CGO_ENABLED=0). In the guest it mounts the kernel file systems, prints a
// marker, PCR 11 of every active bank, PCR 4, 7, 9, 12, 13 and 14 (boot
// images, Secure Boot policy, Linux's command line and initrd, the stub's
// kernel configuration and extensions, shim's MOK lists) in the sha256 bank,
// /proc/cmdline, the files the stub put in /.extra, the TCG event log
// (base64), runs the unseal check when the host sealed a secret, and
// powers off. Without a TPM (Debian's arm64 kernels have no driver for
// QEMU's) it prints the devicetree's compatible and the kernel's line with
// the event log's addresses in guest memory, which the host reads, and
// powers off. Run by systemd instead (not PID 1), it adds systemd's own
// measurement log, every sha256 PCR and a quote (systemd.go). Everything goes
// to the serial
// console as "UKIBUILD-E2E <key> <value>" lines that the host test parses.
package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
	"github.com/google/go-tpm/tpm2/transport/linuxtpm"
)

// w is where the guest's lines go: the kernel's console (the serial port,
// or the VirtIO console on a machine without one), or the first serial port
// when systemd-stub 262 appended it and maybe console=tty0 after it (the
// last console= is /dev/console: case 7).
var w io.Writer = os.Stdout

func out(key, format string, args ...any) {
	fmt.Fprintf(w, "UKIBUILD-E2E %s %s\n", key, fmt.Sprintf(format, args...))
}

func mount(src, dst, fstype string) {
	os.MkdirAll(dst, 0o755)
	if err := syscall.Mount(src, dst, fstype, 0, ""); err != nil {
		out("warning", "mount %s on %s: %v", fstype, dst, err)
	}
}

func main() {
	quietKernel()
	if len(os.Args) == 2 && os.Args[1] == "--credentials" {
		printCredentials()
		return
	}
	if len(os.Args) == 2 && os.Args[1] == "--sysext" {
		printSysext()
		return
	}
	// As /init the guest sets up the kernel file systems and powers off;
	// as a unit of systemd in the initrd (TestBootSystemdInitrd) systemd
	// did the first and does the second (the unit's SuccessAction).
	pid1 := os.Getpid() == 1
	if pid1 {
		defer poweroff()
		mount("proc", "/proc", "proc")
		mount("sysfs", "/sys", "sysfs")
		mount("devtmpfs", "/dev", "devtmpfs")
		mount("securityfs", "/sys/kernel/security", "securityfs")
	}
	cmdline, _ := os.ReadFile("/proc/cmdline")
	c := " " + string(cmdline)
	if strings.Contains(c, " console=uart,io,0x3f8") && !strings.Contains(c, " console=ttyS0") {
		// The stub appended the serial port, then maybe tty0 (the last
		// one is /dev/console): write to the serial port.
		if f, err := os.OpenFile("/dev/ttyS0", os.O_WRONLY, 0); err == nil {
			w = f
		}
	}
	out("begin", "ukibuild boot test guest")

	if len(cmdline) > 0 {
		out("cmdline", "%s", strings.TrimSpace(string(cmdline)))
	}
	listExtra()
	// The devicetree Linux booted with, if any (arm64: the .dtbauto the
	// stub picked, case 18).
	if b, err := os.ReadFile("/sys/firmware/devicetree/base/compatible"); err == nil {
		out("dt-compatible", "%s", strings.Join(strings.FieldsFunc(string(b), func(r rune) bool { return r == 0 }), ","))
	}

	efiTables()
	tpm, err := linuxtpm.Open("/dev/tpmrm0")
	if err != nil {
		// Debian's arm64 kernels have no driver for QEMU's TPM: the host
		// reads the TPM and the event log itself (arm64_test.go). The
		// x86-64 tests fail without the PCR lines this boot lacks.
		out("tpm", "none: %v", err)
		out("end", "done")
		return
	}
	defer tpm.Close()
	printPCRs(tpm, "boot")
	if v := readPCR(tpm, tpm2.TPMAlgSHA256, 7); v != nil {
		out("pcr7", "boot sha256 %s", hex.EncodeToString(v))
	}
	for _, i := range []uint{4, 9, 12, 13, 14} {
		if v := readPCR(tpm, tpm2.TPMAlgSHA256, i); v != nil {
			out(fmt.Sprintf("pcr%d", i), "boot sha256 %s", hex.EncodeToString(v))
		}
	}
	if b, err := os.ReadFile("/sys/kernel/security/tpm0/binary_bios_measurements"); err == nil {
		out("eventlog", "%s", base64.StdEncoding.EncodeToString(b))
	} else {
		out("warning", "event log: %v", err)
	}
	unsealCheck(tpm)
	credsCheck(tpm)
	if !pid1 {
		systemdReport(tpm, string(cmdline))
	}
	out("end", "done")
}

// efiTables prints the kernel's log line naming the EFI configuration
// tables, with the addresses of the TPM event log (TPMEventLog=, the copy
// Linux's EFI stub made) and of the firmware's final-events table
// (TPMFinalLog=), which the host reads from guest memory when the guest
// has no TPM driver.
func efiTables() {
	// Raw system calls: an os.File opened O_NONBLOCK would wait in Go's
	// poller at the end of the buffer instead of returning EAGAIN.
	fd, err := syscall.Open("/dev/kmsg", syscall.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		out("warning", "/dev/kmsg: %v", err)
		return
	}
	defer syscall.Close(fd)
	buf := make([]byte, 8192)
	for {
		n, err := syscall.Read(fd, buf)
		if err == syscall.EPIPE {
			continue // records overwritten while reading: the next one
		}
		if err != nil || n <= 0 {
			return
		}
		// A record: "prio,seq,time,flags;message\n" and continuation lines.
		_, msg, _ := strings.Cut(string(buf[:n]), ";")
		msg, _, _ = strings.Cut(msg, "\n")
		if strings.HasPrefix(msg, "efi: ") && strings.Contains(msg, "TPMEventLog=") {
			out("efi-tables", "%s", strings.TrimPrefix(msg, "efi: "))
		}
	}
}

func listExtra() {
	var files []string
	filepath.Walk("/.extra", func(p string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			files = append(files, p)
		}
		return nil
	})
	sort.Strings(files)
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		sum := sha256.Sum256(b)
		out("extra", "%s %d %s", p, len(b), hex.EncodeToString(sum[:]))
	}
}

// banks are the PCR banks printed, when the TPM has them active.
var banks = []struct {
	name string
	alg  tpm2.TPMAlgID
}{{"sha1", tpm2.TPMAlgSHA1}, {"sha256", tpm2.TPMAlgSHA256}, {"sha384", tpm2.TPMAlgSHA384}, {"sha512", tpm2.TPMAlgSHA512}}

func printPCRs(tpm transport.TPM, label string) {
	for _, b := range banks {
		if v := readPCR(tpm, b.alg, 11); v != nil {
			out("pcr11", "%s %s %s", label, b.name, hex.EncodeToString(v))
		}
	}
}

// readPCR reads a PCR in a bank; nil when the bank is not active.
func readPCR(tpm transport.TPM, alg tpm2.TPMAlgID, index uint) []byte {
	rsp, err := tpm2.PCRRead{PCRSelectionIn: tpm2.TPMLPCRSelection{PCRSelections: []tpm2.TPMSPCRSelection{
		{Hash: alg, PCRSelect: tpm2.PCClientCompatible.PCRs(index)},
	}}}.Execute(tpm)
	if err != nil || len(rsp.PCRValues.Digests) == 0 {
		return nil
	}
	return rsp.PCRValues.Digests[0].Buffer
}

func poweroff() {
	os.Stdout.Sync()
	syscall.Sync()
	syscall.Reboot(syscall.LINUX_REBOOT_CMD_POWER_OFF)
	select {}
}

// quietKernel keeps the kernel's own messages off the console from here
// on (console log level 1: KERN_EMERG only, so a panic still shows). The
// guest's report shares the console with them, and a message printed in
// the middle of a report line (the TSC recalibration, about 2 s into the
// boot, landed inside the base64 event log) corrupts that line. What the
// host reads of the kernel ("secureboot: Secure boot enabled", the EFI
// stub's lines, systemd's banner) is printed before the guest runs.
func quietKernel() {
	// SYSLOG_ACTION_CONSOLE_LEVEL (8) takes the level as its length.
	_, _ = syscall.Klogctl(8, make([]byte, 1))
}
