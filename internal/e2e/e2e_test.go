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
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-attestation/attest"
	"github.com/google/go-tpm/tpm2/transport/linuxudstpm"

	"github.com/ukibuild/ukibuild/internal/reftools"
	"github.com/ukibuild/ukibuild/internal/tpmunseal"
	"github.com/ukibuild/ukibuild/pcr"
	"github.com/ukibuild/ukibuild/uki"
)

// Host tools (Debian packages qemu-system-x86, ovmf, swtpm, swtpm-tools,
// busybox-static; installed by .ci/deps.sh).
const (
	ovmfCode = "/usr/share/OVMF/OVMF_CODE_4M.fd"
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

// env is what every boot test shares: the ukibuild binary, the initrd.
type env struct {
	dir      string
	ukibuild string
	initrd   string
	tools    *reftools.Tools
}

var (
	envOnce sync.Once
	envVal  *env
	envErr  error
)

func setup(t *testing.T) *env {
	t.Helper()
	need(t, "qemu-system-x86_64", "swtpm", "swtpm_setup", ovmfCode, ovmfVars, busybox)
	tools := reftools.Locate(t)
	envOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ukibuild-e2e-")
		if err != nil {
			envErr = err
			return
		}
		e := &env{dir: dir, tools: tools, ukibuild: filepath.Join(dir, "ukibuild"), initrd: filepath.Join(dir, "initrd.cpio")}
		build := func(out, pkg string, env ...string) error {
			cmd := exec.Command("go", "build", "-trimpath", "-o", out, pkg)
			cmd.Env = append(os.Environ(), env...)
			if b, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
			}
			return nil
		}
		if envErr = build(e.ukibuild, "github.com/ukibuild/ukibuild/cmd/ukibuild"); envErr != nil {
			return
		}
		guest := filepath.Join(dir, "guest")
		if envErr = build(guest, "github.com/ukibuild/ukibuild/internal/e2e/guest", "CGO_ENABLED=0"); envErr != nil {
			return
		}
		init, err := os.ReadFile(guest)
		if err != nil {
			envErr = err
			return
		}
		bb, err := os.ReadFile(busybox)
		if err != nil {
			envErr = err
			return
		}
		envErr = os.WriteFile(e.initrd, CPIO([]CPIOEntry{
			{Name: "dev", Mode: ModeDir | 0o755},
			{Name: "dev/console", Mode: ModeChar | 0o600, Major: 5, Minor: 1},
			{Name: "proc", Mode: ModeDir | 0o755},
			{Name: "sys", Mode: ModeDir | 0o755},
			{Name: "bin", Mode: ModeDir | 0o755},
			{Name: "bin/busybox", Mode: ModeFile | 0o755, Data: bb},
			{Name: "bin/sh", Mode: ModeLink | 0o777, Data: []byte("busybox")},
			{Name: "init", Mode: ModeFile | 0o755, Data: init},
		}), 0o644)
		envVal = e
	})
	if envErr != nil {
		t.Fatal(envErr)
	}
	return envVal
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
	lines  []string
	pcr11  map[string]string // bank → hex, at boot
	evlog  []byte            // the TCG event log
	extra  map[string]string // /.extra file → "size sha256"
	serial string            // the serial log file
}

// newTPMState manufactures a swtpm state with the sha1 and sha256 banks.
func newTPMState(t *testing.T) string {
	t.Helper()
	state := filepath.Join(t.TempDir(), "tpm")
	if err := os.MkdirAll(state, 0o700); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command("swtpm_setup", "--tpm2", "--tpmstate", state, "--pcr-banks", "sha1,sha256", "--overwrite").CombinedOutput(); err != nil {
		t.Fatalf("swtpm_setup: %v\n%s", err, b)
	}
	return state
}

// waitFor waits for a socket file to appear.
func waitFor(path string) {
	for i := 0; i < 200; i++ {
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
func boot(t *testing.T, efi string) *bootResult {
	t.Helper()
	return bootWithTPM(t, efi, newTPMState(t))
}

// bootWithTPM boots with the given swtpm state.
func bootWithTPM(t *testing.T, efi, state string) *bootResult {
	t.Helper()
	dir := t.TempDir()
	esp := filepath.Join(dir, "esp", "EFI", "BOOT")
	if err := os.MkdirAll(esp, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(efi)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(esp, "BOOTX64.EFI"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(state, "ctrl.sock")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	swtpm := exec.CommandContext(ctx, "swtpm", "socket", "--tpm2", "--tpmstate", "dir="+state,
		"--ctrl", "type=unixio,path="+sock, "--terminate")
	if err := swtpm.Start(); err != nil {
		t.Fatalf("swtpm: %v", err)
	}
	defer swtpm.Wait()
	waitFor(sock)
	vars := filepath.Join(dir, "vars.fd")
	varsData, err := os.ReadFile(ovmfVars)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(vars, varsData, 0o644); err != nil {
		t.Fatal(err)
	}
	serial := filepath.Join(dir, "serial.log")
	qemu := exec.CommandContext(ctx, "qemu-system-x86_64", "-machine", "q35", "-m", "1024", "-display", "none",
		"-no-reboot", "-serial", "file:"+serial,
		"-drive", "if=pflash,format=raw,unit=0,readonly=on,file="+ovmfCode,
		"-drive", "if=pflash,format=raw,unit=1,file="+vars,
		"-chardev", "socket,id=chrtpm,path="+sock, "-tpmdev", "emulator,id=tpm0,chardev=chrtpm", "-device", "tpm-crb,tpmdev=tpm0",
		"-drive", "file=fat:rw:"+filepath.Join(dir, "esp")+",format=raw,if=virtio")
	qout, qerr := qemu.CombinedOutput()
	log, _ := os.ReadFile(serial)
	res := &bootResult{pcr11: map[string]string{}, extra: map[string]string{}, serial: serial}
	sc := bufio.NewScanner(bytes.NewReader(log))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		i := strings.Index(line, "UKIBUILD-E2E ")
		if i < 0 {
			continue
		}
		f := strings.Fields(line[i+len("UKIBUILD-E2E "):])
		res.lines = append(res.lines, strings.Join(f, " "))
		switch {
		case len(f) == 4 && f[0] == "pcr11" && f[1] == "boot":
			res.pcr11[f[2]] = f[3]
		case len(f) == 4 && f[0] == "extra":
			res.extra[f[1]] = f[2] + " " + f[3]
		case len(f) == 2 && f[0] == "eventlog":
			res.evlog, _ = base64.StdEncoding.DecodeString(f[1])
		}
	}
	if qerr != nil || !strings.Contains(string(log), "UKIBUILD-E2E end") {
		tail := log
		if len(tail) > 3000 {
			tail = tail[len(tail)-3000:]
		}
		t.Fatalf("boot did not complete (qemu: %v %s); serial log kept at %s, its tail:\n%s", qerr, qout, serial, tail)
	}
	return res
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

// TestBootPCR11MatchesPrediction: a UKI built by ukibuild with a PCR key
// boots under OVMF with a TPM, and PCR 11 in the sha1 and sha256 banks, as
// the guest reads it, equals "ukibuild measure" for the stub stage (phase
// ":"). With stub 252 the prediction of systemd-measure 262's section list
// (what ukify embeds) does not match the boot, and ours does.
func TestBootPCR11MatchesPrediction(t *testing.T) {
	e := setup(t)
	key := filepath.Join(e.dir, "pcr.pem")
	writeRSAKey(t, key)
	var table []string
	for _, version := range []string{"262", "252"} {
		t.Run(version, func(t *testing.T) {
			dir := t.TempDir()
			efi := filepath.Join(dir, "uki.efi")
			e.run(t, "build", "--stub", e.tools.Path(t, "UKIBUILD_STUB_"+version), "--linux", e.tools.Path(t, "UKIBUILD_KERNEL"),
				"--initrd", e.initrd, "--cmdline", "console=ttyS0 panic=-1", "--os-release", "ID=ukibuild-e2e",
				"--pcr-private-key", key, "--output", efi)
			want := parseCalculate(e.run(t, "measure", efi, "--bank=sha1", "--bank=sha256", "--phase=:"))
			res := boot(t, efi)
			for _, bank := range []string{"sha1", "sha256"} {
				ok := res.pcr11[bank] == want[bank] && want[bank] != ""
				table = append(table, fmt.Sprintf("stub %s  PCR11 %-6s expected %s  seen %s  %v", version, bank, want[bank], res.pcr11[bank], ok))
				if !ok {
					t.Errorf("stub %s: PCR 11 %s: predicted %s, the TPM has %s (serial log %s)", version, bank, want[bank], res.pcr11[bank], res.serial)
				}
			}
			if _, ok := res.extra["/.extra/tpm2-pcr-signature.json"]; !ok {
				t.Errorf("the stub passed no /.extra/tpm2-pcr-signature.json: %v", res.extra)
			}
			table = append(table, checkEventLog(t, version, efi, res))
			if version == "252" {
				wrong := parseCalculate(e.run(t, "measure", efi, "--bank=sha256", "--phase=:", "--stub-version=262"))
				if wrong["sha256"] == res.pcr11["sha256"] {
					t.Errorf("stub 252: the 262 section list predicts the boot too; the test cannot tell the tables apart")
				}
				table = append(table, fmt.Sprintf("stub 252  PCR11 sha256 with 262's section list (ukify) %s  seen %s  differs: %v",
					wrong["sha256"], res.pcr11["sha256"], wrong["sha256"] != res.pcr11["sha256"]))
			}
		})
	}
	t.Logf("boot results:\n%s", strings.Join(table, "\n"))
}

// TestBootUnsealsCredentialInInitrd: the UKI's policies are signed for the
// enter-initrd phase only ("this vendor's kernel in the initrd"). A secret
// sealed in the TPM before the boot to PolicyAuthorize(the PCR public key)
// unseals in the guest after it extends "enter-initrd" (as
// systemd-pcrphase-initrd does), with the policy signature and public key
// the stub placed in /.extra, and no longer after "leave-initrd".
func TestBootUnsealsCredentialInInitrd(t *testing.T) {
	e := setup(t)
	dir := t.TempDir()
	key := writeRSAKey(t, filepath.Join(dir, "pcr.pem"))
	secret := fmt.Sprintf("ukibuild-secret-%d", time.Now().UnixNano())
	state := newTPMState(t)
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
	e.run(t, "build", "--stub", e.tools.Path(t, "UKIBUILD_STUB_262"), "--linux", e.tools.Path(t, "UKIBUILD_KERNEL"),
		"--initrd", e.initrd, "--initrd", blobs, "--cmdline", "console=ttyS0 panic=-1", "--os-release", "ID=ukibuild-e2e",
		"--pcr-private-key", filepath.Join(dir, "pcr.pem"), "--phases", "enter-initrd", "--output", efi)
	res := bootWithTPM(t, efi, state)
	var got []string
	for _, l := range res.lines {
		if strings.HasPrefix(l, "unseal ") {
			got = append(got, l)
		}
	}
	want := []string{"unseal enter-initrd ok " + secret}
	if len(got) != 2 || got[0] != want[0] || !strings.HasPrefix(got[1], "unseal leave-initrd failed") {
		t.Fatalf("unseal results %q; want %q then a failure after leave-initrd (serial log %s)", got, want[0], res.serial)
	}
	t.Logf("credential: expected unsealed at enter-initrd, refused after leave-initrd; seen %q", got)
}

// checkEventLog replays the guest's TCG event log: the PCR 11 events (sha256
// bank) must be, in order, H(name + NUL) and H(data) of each non-empty
// section that the predictor's table for this stub version measures, and
// replaying them must give the PCR value the guest read.
func checkEventLog(t *testing.T, version, efi string, res *bootResult) string {
	t.Helper()
	el, err := attest.ParseEventLog(res.evlog)
	if err != nil {
		t.Errorf("stub %s: parsing the event log: %v", version, err)
		return ""
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
	return fmt.Sprintf("stub %s  event log PCR 11: expected %d events for %v, seen %d, replay equals PCR: %v",
		version, len(want), names, len(seen), ok)
}
