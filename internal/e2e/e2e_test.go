package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-attestation/attest"
	"github.com/google/go-tpm/tpm2/transport/linuxudstpm"

	"github.com/ukibuild/ukibuild/eventlog"
	"github.com/ukibuild/ukibuild/internal/reftools"
	"github.com/ukibuild/ukibuild/internal/tpmunseal"
	"github.com/ukibuild/ukibuild/pcr"
	"github.com/ukibuild/ukibuild/uefi"
	"github.com/ukibuild/ukibuild/uki"
)

// Host tools (Debian packages qemu-system-x86, ovmf, swtpm, swtpm-tools,
// busybox-static, softhsm2, python3-virt-firmware; installed by
// .ci/deps.sh). Every boot is a Secure Boot: OVMF's SMM build with its
// varstore holding our own PK, KEK and db (secureboot_test.go).
const (
	ovmfCode = "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd"
	ovmfVars = "/usr/share/OVMF/OVMF_VARS_4M.fd"
	busybox  = "/bin/busybox"
)

func need(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		var err error
		if strings.HasPrefix(p, "/") {
			_, err = os.Stat(p)
		} else {
			_, err = exec.LookPath(p)
		}
		if err != nil {
			t.Fatalf("%s is missing (installed by .ci/deps.sh): %v", p, err)
		}
	}
}

// env is what every boot test shares: the ukibuild binary, the initrd,
// the Secure Boot keys and varstore. Everything lives in dir, which
// TestMain removes after a run that passed and keeps after one that failed.
type env struct {
	dir      string
	ukibuild string
	initrd   string
	tools    *reftools.Tools
	sb       *secureBoot
	arm      *arm64Env // the arm64 boots' initrd and varstore (arm64_test.go)
}

var (
	envOnce sync.Once
	envVal  *env
	envErr  error
)

func setup(t *testing.T) *env {
	t.Helper()
	need(t, "qemu-system-x86_64", "swtpm", "swtpm_setup", "swtpm_ioctl", virtFwVars, ovmfCode, ovmfVars, busybox)
	tools := reftools.Locate(t)
	envOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ukibuild-e2e-")
		if err != nil {
			envErr = err
			return
		}
		envVal = &env{dir: dir, tools: tools, arm: &arm64Env{}, ukibuild: filepath.Join(dir, "ukibuild"), initrd: filepath.Join(dir, "initrd.cpio")}
		envErr = envVal.prepare()
	})
	if envErr != nil {
		t.Fatalf("setting up the boot tests: %v", envErr)
	}
	return envVal
}

// prepare builds ukibuild and the guest, writes the initrd, and makes the
// Secure Boot keys and varstore.
func (e *env) prepare() error {
	build := func(out, pkg string, env ...string) error {
		cmd := exec.Command("go", "build", "-trimpath", "-o", out, pkg)
		cmd.Env = append(os.Environ(), env...)
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
		}
		return nil
	}
	if err := build(e.ukibuild, "github.com/ukibuild/ukibuild/cmd/ukibuild"); err != nil {
		return err
	}
	guest := filepath.Join(e.dir, "guest")
	if err := build(guest, "github.com/ukibuild/ukibuild/internal/e2e/guest", "CGO_ENABLED=0"); err != nil {
		return err
	}
	init, err := os.ReadFile(guest)
	if err != nil {
		return err
	}
	bb, err := os.ReadFile(busybox)
	if err != nil {
		return err
	}
	if err := os.WriteFile(e.initrd, CPIO([]CPIOEntry{
		{Name: "dev", Mode: ModeDir | 0o755},
		{Name: "dev/console", Mode: ModeChar | 0o600, Major: 5, Minor: 1},
		{Name: "proc", Mode: ModeDir | 0o755},
		{Name: "sys", Mode: ModeDir | 0o755},
		{Name: "bin", Mode: ModeDir | 0o755},
		{Name: "bin/busybox", Mode: ModeFile | 0o755, Data: bb},
		{Name: "bin/sh", Mode: ModeLink | 0o777, Data: []byte("busybox")},
		{Name: "init", Mode: ModeFile | 0o755, Data: init},
	}), 0o644); err != nil {
		return err
	}
	e.sb, err = newSecureBoot(e.dir)
	return err
}

// workDir makes a new directory for a test's files in the run's directory
// (kept when the run fails, unlike t.TempDir). The name is short: swtpm's
// sockets live in these directories.
func (e *env) workDir(t *testing.T) string {
	t.Helper()
	name := strings.NewReplacer("/", "-", " ", "_").Replace(strings.TrimPrefix(t.Name(), "Test"))
	if len(name) > 32 {
		name = name[len(name)-32:]
	}
	d, err := os.MkdirTemp(e.dir, name+"-")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func (e *env) run(t *testing.T, args ...string) string {
	t.Helper()
	var o, stderr bytes.Buffer
	cmd := exec.Command(e.ukibuild, args...)
	cmd.Stdout, cmd.Stderr = &o, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("ukibuild %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return o.String()
}

// bootResult is what the guest printed.
type bootResult struct {
	lines   []string
	pcr11   map[string]string // bank → hex, at boot
	pcr7    map[string]string // bank → hex, at boot (sha256 only)
	pcr12   map[string]string // bank → hex, at boot (sha256 only)
	pcr13   map[string]string // bank → hex, at boot (sha256 only)
	cmdline string            // the guest's /proc/cmdline
	evlog   []byte            // the TCG event log
	extra   map[string]string // /.extra file → "size sha256"
	serial  string            // the serial log file
	// kernelSB: the kernel logged "secureboot: Secure boot enabled".
	kernelSB bool
	// sha256 are the PCRs the guest read in the sha256 bank (4, 7, 9,
	// 11, 12, 13, 14), PCR → hex.
	sha256 map[int]string
}

// newTPMState manufactures a swtpm state with the sha1 and sha256 banks in
// dir.
func newTPMState(t *testing.T, dir string) string {
	t.Helper()
	state := filepath.Join(dir, "tpm")
	if err := os.MkdirAll(state, 0o700); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command("swtpm_setup", "--tpm2", "--tpmstate", state, "--pcr-banks", "sha1,sha256", "--overwrite").CombinedOutput(); err != nil {
		t.Fatalf("swtpm_setup: %v\n%s", err, b)
	}
	return state
}

// waitFor waits for a socket file to appear.
// It waits up to a minute: on a loaded CI machine swtpm can take seconds
// to start, and QEMU started before its socket exists fails to boot.
func waitFor(path string) {
	for i := 0; i < 2400; i++ {
		if _, err := os.Stat(path); err == nil {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// sealInTPM seals secret in the swtpm state (before the boot) to
// PolicyAuthorize(pub), talking to swtpm over its command socket.
func sealInTPM(t *testing.T, state string, secret []byte, pub *rsa.PublicKey) (public, private []byte) {
	t.Helper()
	srv, ctrl := filepath.Join(state, "seal-srv.sock"), filepath.Join(state, "seal-ctrl.sock")
	sw := exec.Command("swtpm", "socket", "--tpm2", "--tpmstate", "dir="+state, "--server", "type=unixio,path="+srv,
		"--ctrl", "type=unixio,path="+ctrl, "--flags", "not-need-init,startup-clear")
	if err := sw.Start(); err != nil {
		t.Fatalf("swtpm: %v", err)
	}
	waitFor(srv)
	tpm, err := linuxudstpm.Open(srv)
	if err != nil {
		t.Fatalf("connecting to swtpm: %v", err)
	}
	public, private, err = tpmunseal.Seal(tpm, secret, pub, "")
	tpm.Close()
	if err != nil {
		t.Fatalf("sealing: %v", err)
	}
	if b, err := exec.Command("swtpm_ioctl", "--unix", ctrl, "-s").CombinedOutput(); err != nil {
		t.Fatalf("swtpm_ioctl -s: %v\n%s", err, b)
	}
	if err := sw.Wait(); err != nil {
		t.Fatalf("swtpm: %v", err)
	}
	return public, private
}

// boot boots efi as the ESP's default loader with a fresh swtpm and returns
// what the guest printed. The serial log is kept in the test's directory.
func (e *env) boot(t *testing.T, efi string, extras ...extraFile) *bootResult {
	t.Helper()
	return e.bootWithTPM(t, efi, newTPMState(t, e.workDir(t)), extras...)
}

// extraFile is a file put in the UKI's .extra.d directory on the ESP
// (EFI/BOOT/BOOTX64.EFI.extra.d/), where systemd-stub finds credentials
// (*.cred), system extensions (*.raw) and others; a name starting with "/"
// is a path from the ESP's root instead (/loader/credentials/x.cred,
// /loader/extensions/x.raw: global extras).
type extraFile struct {
	name string
	data []byte
}

// bootWithTPM boots with the given swtpm state; the test fails unless the
// guest ran to its end.
func (e *env) bootWithTPM(t *testing.T, efi, state string, extras ...extraFile) *bootResult {
	t.Helper()
	return e.bootESP(t, efi, defaultESP(efi, extras), state)
}

// bootESP boots from an ESP with the given files (what, named in
// messages, is the image they boot) with the swtpm state; the test fails
// unless the guest ran to its end.
func (e *env) bootESP(t *testing.T, what string, files []espFile, state string, qemuArgs ...string) *bootResult {
	t.Helper()
	r := e.qemuESP(t, files, state, 10*time.Minute, qemuArgs...)
	res := parseGuest(r)
	mustComplete(t, what, r)
	return res
}

// parseGuest reads the guest's "UKIBUILD-E2E" lines from a run's serial
// log.
func parseGuest(r *qemuRun) *bootResult {
	res := &bootResult{pcr11: map[string]string{}, pcr7: map[string]string{}, pcr12: map[string]string{}, pcr13: map[string]string{}, extra: map[string]string{}, serial: r.serial, sha256: map[int]string{}}
	sc := bufio.NewScanner(bytes.NewReader(r.log))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		i := strings.Index(line, "UKIBUILD-E2E ")
		if i < 0 {
			continue
		}
		f := strings.Fields(line[i+len("UKIBUILD-E2E "):])
		res.lines = append(res.lines, strings.Join(f, " "))
		if len(f) == 4 && f[1] == "boot" && f[2] == "sha256" && strings.HasPrefix(f[0], "pcr") {
			if i, err := strconv.Atoi(f[0][len("pcr"):]); err == nil {
				res.sha256[i] = f[3]
			}
		}
		switch {
		case len(f) == 4 && f[0] == "pcr11" && f[1] == "boot":
			res.pcr11[f[2]] = f[3]
		case len(f) == 4 && f[0] == "pcr7" && f[1] == "boot":
			res.pcr7[f[2]] = f[3]
		case len(f) == 4 && f[0] == "pcr12" && f[1] == "boot":
			res.pcr12[f[2]] = f[3]
		case len(f) == 4 && f[0] == "pcr13" && f[1] == "boot":
			res.pcr13[f[2]] = f[3]
		case len(f) >= 1 && f[0] == "cmdline":
			res.cmdline = strings.Join(f[1:], " ")
		case len(f) == 4 && f[0] == "extra":
			res.extra[f[1]] = f[2] + " " + f[3]
		case len(f) == 2 && f[0] == "eventlog":
			res.evlog, _ = base64.StdEncoding.DecodeString(f[1])
		}
	}
	res.kernelSB = bytes.Contains(r.log, []byte("secureboot: Secure boot enabled"))
	return res
}

// mustComplete fails the test unless the guest of r ran to its end (what
// names the image booted).
func mustComplete(t *testing.T, what string, r *qemuRun) {
	t.Helper()
	if r.refusal != "" {
		t.Fatalf("the firmware refused %s: %q; serial log kept at %s, its tail:\n%s", what, r.refusal, r.serial, tail(r.log))
	}
	if r.err != nil || !strings.Contains(string(r.log), "UKIBUILD-E2E end") {
		t.Fatalf("boot did not complete (qemu: %v %s); serial log kept at %s, its tail:\n%s", r.err, r.out, r.serial, tail(r.log))
	}
}

// qemuRun is what one QEMU run left.
type qemuRun struct {
	log     []byte // the serial log
	serial  string // its file
	out     []byte // QEMU's own output
	err     error  // QEMU's exit (a kill after a refusal is not an error)
	refusal string // the firmware's "Access Denied" line, if it refused the image
}

// refusalRE is the boot manager's line when Secure Boot verification fails:
//
//	BdsDxe: failed to load Boot0002 "UEFI Misc Device" from PciRoot(0x0)/Pci(0x3,0x0): Access Denied
//
// or shim's when it refuses the image it was to start (shim 16.1 pe.c,
// handle_image: console_error(L"Verification failed", efi_status), which
// prints the status as "(0x1A) Security Violation"):
//
//	Verification failed: (0x1A) Security Violation
var refusalRE = regexp.MustCompile(`BdsDxe: failed to load [^\r\n]*: Access Denied|Verification failed: \(0x1A\) Security Violation`)

// findRefusal is refusalRE's match in the serial log without the
// firmware's terminal escape sequences ("" when there is none).
func findRefusal(log []byte) string {
	return refusalRE.FindString(escapeRE.ReplaceAllString(string(log), ""))
}

// espFile is a file on the ESP: path (slash-separated, from the ESP's
// root) with the content of the file from, or data.
type espFile struct {
	path, from string
	data       []byte
}

// defaultESP is the boot tests' usual ESP: efi as the default loader
// EFI/BOOT/BOOTX64.EFI, extras in its .extra.d directory.
func defaultESP(efi string, extras []extraFile) []espFile {
	return x64.esp(efi, extras)
}

// esp is an ESP with efi as m's default loader (EFI/BOOT/BOOTX64.EFI,
// BOOTAA64.EFI), extras in its .extra.d directory.
func (m *machine) esp(efi string, extras []extraFile) []espFile {
	files := []espFile{{path: m.bootFile, from: efi}}
	for _, x := range extras {
		path := m.bootFile + ".extra.d/" + x.name
		if p, ok := strings.CutPrefix(x.name, "/"); ok {
			path = p
		}
		files = append(files, espFile{path: path, data: x.data})
	}
	return files
}

// qemu boots efi as EFI/BOOT/BOOTX64.EFI from a FAT ESP under Secure Boot
// (SMM OVMF, our varstore) with a swtpm on state (qemuESP).
func (e *env) qemu(t *testing.T, efi, state string, timeout time.Duration, extras ...extraFile) *qemuRun {
	t.Helper()
	return e.qemuESP(t, defaultESP(efi, extras), state, timeout)
}

// machine is what differs between the architectures booted: QEMU, its
// machine, the firmware and where it boots from, the TPM device.
type machine struct {
	name     string   // for messages
	qemu     string   // the QEMU binary
	args     []string // machine, CPU and the firmware's code
	tpm      string   // the TPM device (QEMU's -device)
	bootFile string   // the default loader's path on the ESP
	// vars is the varstore template with our keys enrolled (each boot
	// gets a copy).
	vars func(e *env) string
}

// x64 is the x86-64 machine: q35 with SMM and OVMF's Secure Boot build, a
// CRB TPM.
var x64 = &machine{
	name: "x86-64", qemu: "qemu-system-x86_64",
	args: []string{"-machine", "q35,smm=on", "-global", "driver=cfi.pflash01,property=secure,value=on",
		"-drive", "if=pflash,format=raw,unit=0,readonly=on,file=" + ovmfCode},
	tpm: "tpm-crb", bootFile: "EFI/BOOT/BOOTX64.EFI",
	vars: func(e *env) string { return e.sb.vars },
}

// qemuESP boots from a FAT ESP holding files under Secure Boot (SMM OVMF,
// our varstore) with a swtpm on state (qemuOn).
func (e *env) qemuESP(t *testing.T, files []espFile, state string, timeout time.Duration, qemuArgs ...string) *qemuRun {
	t.Helper()
	return e.qemuOn(t, x64, files, state, timeout, nil, qemuArgs...)
}

// qemuOn boots m from a FAT ESP holding files under Secure Boot (our
// varstore) with a swtpm on state. It watches the serial log: after a
// refusal the firmware would wait in its boot manager, so QEMU is stopped
// as soon as the refusal is logged; otherwise it runs until the guest
// powers off or timeout passes. With atPowerOff, QEMU stays (paused) when
// the guest powers off, atPowerOff is called with its QMP connection
// (guest memory is still there), then QEMU quits; swtpm logs every
// command it is sent to state/swtpm.log.
func (e *env) qemuOn(t *testing.T, m *machine, files []espFile, state string, timeout time.Duration, atPowerOff func(*qmp, *qemuRun), qemuArgs ...string) *qemuRun {
	t.Helper()
	dir := e.workDir(t)
	for _, f := range files {
		to := filepath.Join(dir, "esp", filepath.FromSlash(f.path))
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			t.Fatal(err)
		}
		if f.from != "" {
			copyFile(t, f.from, to)
		} else if err := os.WriteFile(to, f.data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The ESP is QEMU's FAT disk of the directory (an MBR disk), unless
	// qemuArgs name "gptesp": then a disk image with a GPT whose one
	// partition has the ESP type (gptESP; case 12).
	espDrive := "file=fat:rw:" + filepath.Join(dir, "esp") + ",format=raw,if=virtio"
	if slices.Contains(qemuArgs, "gptesp") {
		espDrive = "file=" + gptESP(t, dir, files) + ",format=raw,if=virtio"
		qemuArgs = slices.DeleteFunc(slices.Clone(qemuArgs), func(a string) bool { return a == "gptesp" })
	}
	vars := filepath.Join(dir, "vars.fd")
	copyFile(t, m.vars(e), vars)
	sock := filepath.Join(state, "ctrl.sock")
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	swtpmArgs := []string{"socket", "--tpm2", "--tpmstate", "dir=" + state, "--ctrl", "type=unixio,path=" + sock, "--terminate"}
	if atPowerOff != nil {
		swtpmArgs = append(swtpmArgs, "--log", "file="+filepath.Join(state, "swtpm.log")+",level=20")
	}
	swtpm := exec.CommandContext(ctx, "swtpm", swtpmArgs...)
	if err := swtpm.Start(); err != nil {
		t.Fatalf("swtpm: %v", err)
	}
	defer swtpm.Wait()
	waitFor(sock)
	r := &qemuRun{serial: filepath.Join(dir, "serial.log")}
	var out bytes.Buffer
	// The guest's console is the first serial port, written to r.serial,
	// unless qemuArgs name "virtconsole": then the machine has no serial
	// port and a VirtIO console is written there instead (case 7).
	console := []string{"-serial", "file:" + r.serial}
	if slices.Contains(qemuArgs, "virtconsole") {
		console = []string{"-serial", "none", "-device", "virtio-serial-pci", "-chardev", "file,id=vcon,path=" + r.serial,
			"-device", "virtconsole,chardev=vcon"}
		qemuArgs = slices.DeleteFunc(slices.Clone(qemuArgs), func(a string) bool { return a == "virtconsole" })
	}
	qmpSock := filepath.Join(dir, "qmp.sock")
	var control []string
	if atPowerOff != nil {
		control = []string{"-no-shutdown", "-qmp", "unix:" + qmpSock + ",server=on,wait=off"}
	}
	qemu := exec.CommandContext(ctx, m.qemu, slices.Concat(m.args, []string{"-m", "1024", "-display", "none",
		"-no-reboot", "-nic", "none"}, control, console, []string{
		"-drive", "if=pflash,format=raw,unit=1,file=" + vars,
		"-chardev", "socket,id=chrtpm,path=" + sock, "-tpmdev", "emulator,id=tpm0,chardev=chrtpm", "-device", m.tpm + ",tpmdev=tpm0",
		"-drive", espDrive}, qemuArgs)...)
	qemu.Stdout, qemu.Stderr = &out, &out
	start := time.Now()
	defer func() { t.Logf("QEMU boot (%s) took %s", m.qemu, time.Since(start).Round(time.Second)) }()
	if err := qemu.Start(); err != nil {
		t.Fatalf("qemu: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- qemu.Wait() }()
	var mon *qmp
	var powerOff <-chan struct{}
	if atPowerOff != nil {
		waitFor(qmpSock)
		var err error
		if mon, err = dialQMP(qmpSock); err != nil {
			cancel()
			<-done
			t.Fatalf("%s: QMP: %v", m.name, err)
		}
		defer mon.close()
		powerOff = mon.shutdown
	}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for r.refusal == "" {
		select {
		case r.err = <-done:
			r.log, _ = os.ReadFile(r.serial)
			r.refusal = findRefusal(r.log)
			r.out = out.Bytes()
			if ctx.Err() != nil {
				r.err = fmt.Errorf("no power-off or refusal within %s: %w", timeout, r.err)
			}
			return r
		case <-powerOff:
			powerOff = nil
			r.log, _ = os.ReadFile(r.serial)
			atPowerOff(mon, r)
			// QEMU may exit before it replies: its exit is what counts.
			_ = mon.command("quit", nil)
		case <-tick.C:
			log, _ := os.ReadFile(r.serial)
			r.refusal = findRefusal(log)
		}
	}
	cancel()
	<-done
	r.log, _ = os.ReadFile(r.serial)
	r.out = out.Bytes()
	return r
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

var escapeRE = regexp.MustCompile("\x1b\\[[0-9;=?]*[A-Za-z]")

// tail is the end of a serial log, without the firmware's terminal escape
// sequences.
func tail(log []byte) string {
	s := escapeRE.ReplaceAllString(string(log), "")
	if len(s) > 3000 {
		s = s[len(s)-3000:]
	}
	return s
}

func writeRSAKey(t *testing.T, path string) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return k
}

// parseCalculate reads "11:bank=hex" lines of measure's text output.
func parseCalculate(out string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(line, "11:"); ok {
			if bank, hex, ok := strings.Cut(rest, "="); ok {
				m[bank] = hex
			}
		}
	}
	return m
}

// testExtras are the credentials and extensions put on the ESP for the
// UKI: a credential, a system extension and a configuration extension in
// its .extra.d/, and a credential, a system extension and a configuration
// extension in /loader/credentials/ and /loader/extensions/. systemd-stub
// measures them (into PCR 12 and 13) and passes them in /.extra; it does
// not check their content. Which ones it takes depends on its version
// (eventlog.FindExtras): 262 all of them, each kind in its own archive; 252 the
// credentials and, as system extensions, both *.raw of .extra.d/ (254
// too); 257 all but the global extensions.
var testExtras = []extraFile{
	{"ukibuild-e2e.cred", []byte("ukibuild e2e credential\n")},
	{"ukibuild-e2e.raw", []byte("ukibuild e2e system extension image\n")},
	{"ukibuild-e2e.confext.raw", []byte("ukibuild e2e configuration extension image\n")},
	{"/loader/credentials/ukibuild-global.cred", []byte("ukibuild e2e global credential\n")},
	{"/loader/extensions/ukibuild-global.raw", []byte("ukibuild e2e global system extension image\n")},
	{"/loader/extensions/ukibuild-global.confext.raw", []byte("ukibuild e2e global configuration extension image\n")},
}

// stubExtraPaths are where in /.extra systemd-stub of the given version
// puts testExtras (src/boot/cpio.c's targets; what its strings name for
// 252, see eventlog.FindExtras), and the paths it must not create.
func stubExtraPaths(version string) (want, not []string) {
	want = []string{"/.extra/credentials/ukibuild-e2e.cred", "/.extra/global_credentials/ukibuild-global.cred", "/.extra/sysext/ukibuild-e2e.raw"}
	global := []string{"/.extra/global_sysext/ukibuild-global.raw", "/.extra/global_confext/ukibuild-global.confext.raw"}
	switch version {
	case "252", "254":
		return append(want, "/.extra/sysext/ukibuild-e2e.confext.raw"), append(global, "/.extra/confext/ukibuild-e2e.confext.raw")
	case "257":
		return append(want, "/.extra/confext/ukibuild-e2e.confext.raw"), append(global, "/.extra/sysext/ukibuild-e2e.confext.raw")
	}
	return append(append(want, "/.extra/confext/ukibuild-e2e.confext.raw"), global...), []string{"/.extra/sysext/ukibuild-e2e.confext.raw"}
}

// addonCmdline is the command line of the boot tests' add-on.
const addonCmdline = "ukibuild.addon=e2e"

// buildAddon builds the boot tests' PE add-on, ukibuild-e2e.addon.efi: the
// add-on stub 262 with a .cmdline, signed with the db key (under Secure
// Boot systemd-stub loads add-ons through the firmware, which checks them
// against db).
func (e *env) buildAddon(t *testing.T) extraFile {
	t.Helper()
	out := filepath.Join(e.workDir(t), "ukibuild-e2e.addon.efi")
	e.buildSigned(t, out, e.sb.db, "build", "--stub", e.tools.Path(t, "UKIBUILD_ADDON_STUB_262"), "--cmdline", addonCmdline)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return extraFile{"ukibuild-e2e.addon.efi", b}
}

// unalignedInitrd writes the boot tests' initrd with one NUL byte more, so
// that its length is not a multiple of 4: the stub pads it with zeros
// before the archives it appends, and PCR 9's prediction must too (the
// kernel skips NUL bytes between archives, if the next starts at a multiple
// of 4).
func (e *env) unalignedInitrd(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(e.initrd)
	if err != nil {
		t.Fatal(err)
	}
	if len(b)%4 != 0 {
		t.Fatalf("the initrd has %d bytes, not a multiple of 4", len(b))
	}
	p := filepath.Join(e.workDir(t), "initrd-unaligned.cpio")
	if err := os.WriteFile(p, append(b, 0), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestBootPCR11MatchesPrediction (cases 1 and 5): a UKI built and signed
// by "ukibuild build" (Secure Boot key: the test db key; a PCR key) boots
// under Secure Boot with a TPM; the firmware measured Secure Boot on with our keys and names the db
// certificate as the UKI's authority; PCR 11 in the sha1 and sha256 banks,
// as the guest reads it, equals "ukibuild measure" for the stub stage
// (phase ":"); and the event log's PCR 11 events are the predictor's
// section list. With stub 252 the prediction of systemd-measure 262's
// section list (what ukify embeds) does not match the boot, and ours does.
// Stubs 257 (Debian 13's) and 254 boot the same way. The stub 262 and 252
// boots have the signed add-on in BOOTX64.EFI.extra.d/: stub 262
// applies its command line (the guest's /proc/cmdline has it) and
// measures it into PCR 12, stub 252 ignores it. All have testExtras, local
// and global: the guest's /.extra shows which ones each stub took and as
// what (stubExtraPaths). The initrd's length is not a multiple of 4
// (unalignedInitrd).
func TestBootPCR11MatchesPrediction(t *testing.T) {
	e := setup(t)
	key := filepath.Join(e.dir, "pcr.pem")
	writeRSAKey(t, key)
	addon := e.buildAddon(t)
	for _, version := range []string{"262", "257", "254", "252"} {
		t.Run(version, func(t *testing.T) {
			name := "1 signed UKI, stub " + version
			efi := filepath.Join(e.workDir(t), "uki.efi")
			args := e.ukiArgs(t, version)
			args[slices.Index(args, e.initrd)] = e.unalignedInitrd(t)
			e.buildSigned(t, efi, e.sb.db, slices.Concat(args, []string{"--pcr-private-key", key})...)
			want := parseCalculate(e.run(t, "measure", efi, "--bank=sha1", "--bank=sha256", "--phase=:"))
			extras := slices.Clone(testExtras)
			wantCmd := "has " + addonCmdline
			switch version {
			case "262":
				extras = append(extras, addon)
			case "252":
				extras = append(extras, addon)
				wantCmd = "without " + addonCmdline + " (stub 252 has no add-ons)"
			default: // what 254 and 257 measure for add-ons is not modelled
				wantCmd = "without " + addonCmdline + " (no add-on on this ESP)"
			}
			res := e.boot(t, efi, extras...)
			applied := strings.Contains(" "+res.cmdline+" ", " "+addonCmdline+" ")
			ok := applied == (version == "262") && res.cmdline != ""
			record(t, name, "add-on's .cmdline in /proc/cmdline", wantCmd, res.cmdline, ok)
			if !ok {
				t.Errorf("stub %s: /proc/cmdline %q: want it %s (serial log %s)", version, res.cmdline, wantCmd, res.serial)
			}
			e.checkSecureBoot(t, name, res, e.sb.db.c)
			for _, bank := range []string{"sha1", "sha256"} {
				ok := res.pcr11[bank] == want[bank] && want[bank] != ""
				record(t, name, "PCR 11 "+bank+" = ukibuild measure", want[bank], res.pcr11[bank], ok)
				if !ok {
					t.Errorf("stub %s: PCR 11 %s: predicted %s, the TPM has %s (serial log %s)", version, bank, want[bank], res.pcr11[bank], res.serial)
				}
			}
			_, ok = res.extra["/.extra/tpm2-pcr-signature.json"]
			record(t, name, "stub passed the PCR signature", "/.extra/tpm2-pcr-signature.json", fmt.Sprintf("%d /.extra files", len(res.extra)), ok)
			if !ok {
				t.Errorf("the stub passed no /.extra/tpm2-pcr-signature.json: %v", res.extra)
			}
			checkExtraPaths(t, name, version, res)
			checkEventLog(t, "5 event log, stub "+version, version, efi, res)
			e.checkEventlogVerify(t, "5 event log, stub "+version, version, efi, res, extras)
			saveVector(t, e, version, efi, res, extras)
			if version == "252" {
				wrong := parseCalculate(e.run(t, "measure", efi, "--bank=sha256", "--phase=:", "--stub-version=262"))
				differs := wrong["sha256"] != "" && wrong["sha256"] != res.pcr11["sha256"]
				record(t, name, "PCR 11 sha256 by 262's section list (ukify)", "differs from the TPM: "+wrong["sha256"], res.pcr11["sha256"], differs)
				if !differs {
					t.Errorf("stub 252: the 262 section list predicts the boot too; the test cannot tell the tables apart")
				}
			}
		})
	}
}

// TestBootUnsealsCredentialInInitrd (case 2): the UKI's policies are signed
// for the enter-initrd phase only ("this vendor's kernel in the initrd").
// A secret sealed in the TPM before the boot to PolicyAuthorize(the PCR
// public key) unseals in the guest after it extends "enter-initrd" (as
// systemd-pcrphase-initrd does), with the policy signature and public key
// the stub placed in /.extra, and no longer after "leave-initrd".
func TestBootUnsealsCredentialInInitrd(t *testing.T) {
	const name = "2 unseal in initrd"
	e := setup(t)
	dir := e.workDir(t)
	key := writeRSAKey(t, filepath.Join(dir, "pcr.pem"))
	secret := fmt.Sprintf("ukibuild-secret-%d", time.Now().UnixNano())
	state := newTPMState(t, dir)
	public, private := sealInTPM(t, state, []byte(secret), &key.PublicKey)
	blobs := filepath.Join(dir, "sealed.cpio")
	if err := os.WriteFile(blobs, CPIO([]CPIOEntry{
		{Name: "e2e", Mode: ModeDir | 0o755},
		{Name: "e2e/sealed.pub", Mode: ModeFile | 0o644, Data: public},
		{Name: "e2e/sealed.priv", Mode: ModeFile | 0o644, Data: private},
	}), 0o644); err != nil {
		t.Fatal(err)
	}
	efi := filepath.Join(dir, "uki.efi")
	e.buildSigned(t, efi, e.sb.db, slices.Concat(e.ukiArgs(t, "262"), []string{"--initrd", blobs,
		"--pcr-private-key", filepath.Join(dir, "pcr.pem"), "--phases", "enter-initrd"})...)
	res := e.bootWithTPM(t, efi, state)
	e.checkSecureBoot(t, name, res, e.sb.db.c)
	var got []string
	for _, l := range res.lines {
		if strings.HasPrefix(l, "unseal ") {
			got = append(got, l)
		}
	}
	want := "unseal enter-initrd ok " + secret
	ok := len(got) == 2 && got[0] == want && strings.HasPrefix(got[1], "unseal leave-initrd failed")
	record(t, name, "credential sealed to the PCR key", "unsealed at enter-initrd, refused after leave-initrd",
		strings.Join(got, "; "), ok)
	if !ok {
		t.Fatalf("unseal results %q; want %q then a failure after leave-initrd (serial log %s)", got, want, res.serial)
	}
}

// checkEventLog (case 5) replays the guest's TCG event log: the PCR 11
// events (sha256 bank) must be, in order, H(name + NUL) and H(data) of each
// non-empty section that the predictor's table for this stub version
// measures, and replaying them must give the PCR value the guest read. It
// records one row under name.
func checkEventLog(t *testing.T, name, version, efi string, res *bootResult) {
	t.Helper()
	el, err := attest.ParseEventLog(res.evlog)
	if err != nil {
		record(t, name, "PCR 11 events replay to the PCR", "the predictor's sections", "unparsable event log", false)
		t.Errorf("stub %s: parsing the event log: %v", version, err)
		return
	}
	var seen []string
	for _, ev := range el.Events(attest.HashSHA256) {
		if ev.Index == 11 {
			seen = append(seen, hex.EncodeToString(ev.Digest))
		}
	}
	order, err := pcr.OrderFor(version)
	if err != nil {
		t.Fatal(err)
	}
	img, err := uki.OpenImage(efi)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	byName := map[string]uki.Section{}
	for _, s := range img.BaseSections() {
		byName[s.Name] = s
	}
	var want, names []string
	for _, name := range order.Sections {
		s, ok := byName[name]
		if !ok || s.Content.Size() == 0 {
			continue
		}
		rc, err := s.Content.Open()
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		if _, err := io.Copy(h, rc); err != nil {
			t.Fatal(err)
		}
		rc.Close()
		n := sha256.Sum256(append([]byte(name), 0))
		want = append(want, hex.EncodeToString(n[:]), hex.EncodeToString(h.Sum(nil)))
		names = append(names, name)
	}
	replay := make([]byte, 32)
	for _, d := range seen {
		b, _ := hex.DecodeString(d)
		replay = pcr.SHA256.Extend(replay, b)
	}
	ok := strings.Join(seen, ",") == strings.Join(want, ",") && hex.EncodeToString(replay) == res.pcr11["sha256"]
	if !ok {
		t.Errorf("stub %s: PCR 11 events in the log %v; want the name and data digests of %v: %v (replay %x, PCR %s)",
			version, seen, names, want, replay, res.pcr11["sha256"])
	}
	record(t, name, "PCR 11 events replay to the PCR", fmt.Sprintf("%d events: %s", len(want), strings.Join(names, " ")),
		fmt.Sprintf("%d events, replay = PCR 11: %v", len(seen), hex.EncodeToString(replay) == res.pcr11["sha256"]), ok)
}

// checkEventlogVerify (case 5) runs "ukibuild eventlog verify" on the
// guest's event log: PCR 4, 7, 9, 11, 12 and 13 must match the prediction
// for efi with extras (testExtras, local and global, and the add-on), the
// log must replay to the PCR values the guest read (--quote-pcrs: PCR 7,
// 11, 12 and 13), and the same log against efi with one byte changed (in
// .linux) must be reported at its first diverging events: the UKI's PCR 4
// event and the .linux data event of PCR 11, and PCR 7 at its authority
// event (the changed UKI's signature no longer verifies: no db entry
// authorizes it). PCR 7 is predicted from the test's PK, KEK and db
// certificates; with a db lacking the token's certificate it differs at
// the db event. OVMF here tries two boot options (--boot-attempts 2).
func (e *env) checkEventlogVerify(t *testing.T, name, version, efi string, res *bootResult, extras []extraFile) {
	t.Helper()
	dir := e.workDir(t)
	esp := writeExtras(t, efi, extras)
	log, quote := filepath.Join(dir, "eventlog.bin"), filepath.Join(dir, "quote.txt")
	var q strings.Builder
	for bank, v := range res.pcr11 {
		fmt.Fprintf(&q, "11:%s=%s\n", bank, v)
	}
	fmt.Fprintf(&q, "7:sha256=%s\n", res.pcr7["sha256"])
	fmt.Fprintf(&q, "12:sha256=%s\n", res.pcr12["sha256"])
	if v := res.pcr13["sha256"]; v != "" {
		fmt.Fprintf(&q, "13:sha256=%s\n", v)
	}
	if err := os.WriteFile(log, res.evlog, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(quote, []byte(q.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	dbx := filepath.Join(dir, "dbx.esl")
	if err := os.WriteFile(dbx, virtFwVarsDBX(), 0o644); err != nil {
		t.Fatal(err)
	}
	verify := func(uki string, db ...string) (string, error) {
		args := []string{"eventlog", "verify", log, "--uki", uki, "--pcrs", "4,7,9,11,12,13", "--boot-attempts", "2", "--quote-pcrs", quote,
			"--owner-guid", ownerGUID, "--pk", e.sb.pk.cert, "--kek", e.sb.kek.cert, "--dbx", dbx}
		if esp != "" {
			args = append(args, "--esp", uki+".esp")
		}
		if db == nil {
			db = []string{e.sb.db.cert, e.sb.hsm.CertPEM}
		}
		for _, c := range db {
			args = append(args, "--db", c)
		}
		out, err := exec.Command(e.ukibuild, args...).CombinedOutput()
		return string(out), err
	}
	out, err := verify(efi)
	// PCR 12 and 13: one event per archive of testExtras (wantExtrasEvents) and,
	// with stub 262, one in PCR 12 for the add-on's command line. PCR 4: the
	// firmware measures the add-on stub 262 loads after the UKI (its
	// signer, the db key, is already PCR 7's authority event).
	var addons int
	for _, x := range extras {
		if strings.HasSuffix(x.name, ".addon.efi") {
			addons++
		}
	}
	pcr12, pcr13 := wantExtrasEvents(version)
	pcr4 := 5
	if version == "262" {
		pcr4 += addons
		pcr12 += min(addons, 1)
	}
	want := fmt.Sprintf("PCR 4: match (%d events)\nPCR 7: match (7 events)\nPCR 9: match (2 events)\nPCR 11: match (", pcr4)
	pcr1213 := fmt.Sprintf("PCR 12: match (%d events)\nPCR 13: match (%d events)", pcr12, pcr13)
	quoted := "PCR 12 sha256: the log replays to the quoted value"
	ok := err == nil && strings.Contains(out, want) && strings.Contains(out, pcr1213) && strings.Contains(out, quoted) &&
		(res.pcr13["sha256"] == "" || strings.Contains(out, "PCR 13 sha256: the log replays to the quoted value"))
	record(t, name, "ukibuild eventlog verify --pcrs 4,7,9,11,12,13 --quote-pcrs", oneLine(want+"...) "+pcr1213)+"; replay = TPM (PCR 7, 11, 12, 13)", oneLine(out), ok)
	if !ok {
		t.Errorf("%s: ukibuild eventlog verify: %v\n%s", name, err, out)
	}
	b, err := os.ReadFile(efi)
	if err != nil {
		t.Fatal(err)
	}
	const at = 5000000 // inside .linux
	b[at] ^= 0xff
	changed := filepath.Join(dir, "uki.changed.efi")
	if err := os.WriteFile(changed, b, 0o644); err != nil {
		t.Fatal(err)
	}
	writeExtras(t, changed, extras)
	out, err = verify(changed)
	ok = err != nil && strings.Contains(out, "PCR 4: event 4 differs") && strings.Contains(out, "PCR 11: event 1 differs") &&
		strings.Contains(out, "EV_EFI_BOOT_SERVICES_APPLICATION") && strings.Contains(out, "PCR 7: event 6 differs")
	record(t, name, fmt.Sprintf("eventlog verify, UKI byte %d changed", at), "fails: PCR 4 event 4 (UKI), PCR 7 event 6 (no authority: not signed by db), PCR 11 event 1 (.linux data)", oneLine(out), ok)
	if !ok {
		t.Errorf("%s: ukibuild eventlog verify of the changed UKI: %v\n%s", name, err, out)
	}
	out, err = verify(efi, e.sb.db.cert)
	ok = err != nil && strings.Contains(out, "PCR 7: event 3 differs") && strings.Contains(out, "PCR 4: match")
	record(t, name, "eventlog verify, db without the token certificate", "fails: PCR 7 event 3 (db)", oneLine(out), ok)
	if !ok {
		t.Errorf("%s: ukibuild eventlog verify with another db: %v\n%s", name, err, out)
	}
}

// virtFwVarsDBX is the dbx that virt-fw-vars --secure-boot enrolls when
// given none: one EFI_CERT_SHA256 entry, the SHA-256 of nothing, owned by
// a0baa8a3-041d-48a8-bc87-c36d121b5e3d (as the recorded event logs show).
func virtFwVarsDBX() []byte {
	owner, _ := uefi.ParseGUID("a0baa8a3-041d-48a8-bc87-c36d121b5e3d")
	empty := sha256.Sum256(nil)
	l, _ := eventlog.SignatureList(uefi.CertSHA256, eventlog.SignatureData(owner, empty[:]))
	return l
}

// writeExtras puts extras in efi.extra.d/, where "ukibuild eventlog
// verify --uki efi" reads them, as on the ESP, and the global ones (names
// starting with "/") under efi.esp/, which it returns for --esp ("" when
// there are none).
func writeExtras(t *testing.T, efi string, extras []extraFile) string {
	t.Helper()
	esp := ""
	for _, x := range extras {
		to := filepath.Join(efi+".extra.d", x.name)
		if p, ok := strings.CutPrefix(x.name, "/"); ok {
			esp = efi + ".esp"
			to = filepath.Join(esp, filepath.FromSlash(p))
		}
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, x.data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return esp
}

// wantExtrasEvents counts the archives systemd-stub of the given version
// measures into PCR 12 and 13 for testExtras: one per /.extra directory
// it puts them in (stubExtraPaths), the system extension ones into PCR 13.
func wantExtrasEvents(version string) (pcr12, pcr13 int) {
	want, _ := stubExtraPaths(version)
	dirs := map[string]bool{}
	for _, p := range want {
		dirs[path.Base(path.Dir(p))] = true
	}
	for d := range dirs {
		if strings.HasSuffix(d, "sysext") {
			pcr13++
		} else {
			pcr12++
		}
	}
	return pcr12, pcr13
}

// checkExtraPaths checks that the guest found the extras where the stub
// of this version puts them (stubExtraPaths), with their content.
func checkExtraPaths(t *testing.T, name, version string, res *bootResult) {
	t.Helper()
	want, not := stubExtraPaths(version)
	var missing, unwanted []string
	for _, p := range want {
		data := ""
		for _, x := range testExtras {
			if path.Base(x.name) == path.Base(p) {
				sum := sha256.Sum256(x.data)
				data = fmt.Sprintf("%d %x", len(x.data), sum)
			}
		}
		if data == "" {
			t.Fatalf("stubExtraPaths names %s, which is none of testExtras", p)
		}
		if res.extra[p] != data {
			missing = append(missing, p)
		}
	}
	for _, p := range not {
		if _, ok := res.extra[p]; ok {
			unwanted = append(unwanted, p)
		}
	}
	ok := len(missing) == 0 && len(unwanted) == 0
	record(t, name, "extras in /.extra", fmt.Sprintf("%d files where stub %s puts them, none of %d elsewhere", len(want), version, len(not)),
		fmt.Sprintf("missing or changed %v, unexpected %v", missing, unwanted), ok)
	if !ok {
		t.Errorf("stub %s: /.extra lacks (or has changed) %v and has %v; the guest saw %v", version, missing, unwanted, res.extra)
	}
}

// saveVector copies the boot's event log, the UKI, the files of its
// .extra.d/ (uki-VERSION.efi.extra.d/), the guest's lines and the Secure
// Boot certificates to $UKIBUILD_E2E_SAVE when it is set: how the
// event logs in testvectors/eventlog were recorded.
func saveVector(t *testing.T, e *env, version, efi string, res *bootResult, extras []extraFile) {
	t.Helper()
	d := os.Getenv("UKIBUILD_E2E_SAVE")
	if d == "" {
		return
	}
	writeExtras(t, filepath.Join(d, "uki-"+version+".efi"), extras)
	if err := os.WriteFile(filepath.Join(d, "eventlog-"+version+".bin"), res.evlog, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, "lines-"+version+".txt"), []byte(strings.Join(res.lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	copyFile(t, efi, filepath.Join(d, "uki-"+version+".efi"))
	for _, c := range []struct{ from, to string }{
		{e.sb.pk.cert, "pk.pem"}, {e.sb.kek.cert, "kek.pem"}, {e.sb.db.cert, "db.pem"}, {e.sb.hsm.CertPEM, "hsm.pem"},
	} {
		copyFile(t, c.from, filepath.Join(d, c.to))
	}
}
