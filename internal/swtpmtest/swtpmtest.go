// Package swtpmtest runs swtpm for tests, provisioned as systemd provisions
// a machine: an ECC P-256 storage root key from systemd's SRK template
// persisted at 0x81000001, made with tpm2-tools (not with ukibuild code).
// swtpm and tpm2-tools come from .ci/deps.sh; a missing tool fails the test.
package swtpmtest

import (
	"crypto/sha256"
	"encoding/hex"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TPM is a software TPM on a unix socket, provisioned as systemd
// provisions a machine: an ECC P-256 SRK from systemd's template persisted
// at 0x81000001 (made with tpm2-tools, not with this package).
type TPM struct {
	t *testing.T
	// Dir is the TPM's temporary directory, Sock its server socket.
	Dir, Sock string
	// SRKPublic is the TPM2B_PUBLIC of the SRK (tpm2_readpublic -f tss).
	SRKPublic []byte
}

// Device is the TPM for systemd's --tpm2-device= and creds.OpenTPM.
func (s *TPM) Device() string { return "swtpm:path=" + s.Sock }

// Tool runs a tpm2-tools command against the swtpm.
func (s *TPM) Tool(args ...string) []byte {
	s.t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = s.Dir
	cmd.Env = append(os.Environ(), "TPM2TOOLS_TCTI=swtpm:path="+s.Sock)
	out, err := cmd.Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		s.t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, msg)
	}
	return out
}

// Start runs swtpm in a temporary directory until the test ends and
// provisions the SRK.
func Start(t *testing.T) *TPM { return start(t, "ecc256:null:aes128cfb") }

// StartRSA is Start with an RSA 2048 SRK (systemd's RSA SRK template, which
// systemd uses on TPMs without ECC).
func StartRSA(t *testing.T) *TPM { return start(t, "rsa2048:null:aes128cfb") }

func start(t *testing.T, alg string) *TPM {
	t.Helper()
	for _, tool := range []string{"swtpm", "tpm2_createprimary", "tpm2_evictcontrol", "tpm2_readpublic", "tpm2_flushcontext", "tpm2_pcrextend", "tpm2_pcrread"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing: run .ci/deps.sh (swtpm, tpm2-tools)", tool)
		}
	}
	// A short directory: unix socket paths are limited to 108 bytes.
	dir, err := os.MkdirTemp("", "swtpm")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s := &TPM{t: t, Dir: dir, Sock: filepath.Join(dir, "s")}
	os.Mkdir(filepath.Join(dir, "state"), 0o700)
	cmd := exec.Command("swtpm", "socket", "--tpm2",
		"--server", "type=unixio,path="+s.Sock,
		"--ctrl", "type=unixio,path="+s.Sock+".ctrl", // the TCTI wants SOCK.ctrl
		"--flags", "startup-clear", "--tpmstate", "dir="+filepath.Join(dir, "state"))
	// swtpm dies with the test process even when that is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for i := 0; ; i++ {
		if c, err := net.Dial("unix", s.Sock+".ctrl"); err == nil {
			c.Close()
			if _, err := os.Stat(s.Sock); err == nil {
				break
			}
		}
		if i > 200 {
			t.Fatal("swtpm did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.Tool("tpm2_createprimary", "-Q", "-C", "o", "-g", "sha256", "-G", alg, "-c", "srk.ctx",
		"-a", "restricted|decrypt|fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda")
	s.Tool("tpm2_evictcontrol", "-Q", "-C", "o", "-c", "srk.ctx", "0x81000001")
	s.Tool("tpm2_flushcontext", "-t")
	s.Tool("tpm2_readpublic", "-Q", "-c", "0x81000001", "-f", "tss", "-o", "srk.pub")
	s.SRKPublic, err = os.ReadFile(filepath.Join(dir, "srk.pub"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// LegacyPrimary creates systemd's 255-261 transient primary with
// tpm2-tools and returns its TPM2B_PUBLIC.
func (s *TPM) LegacyPrimary() []byte {
	s.t.Helper()
	s.Tool("tpm2_createprimary", "-Q", "-C", "o", "-g", "sha256", "-G", "ecc256:null:aes128cfb", "-c", "legacy.ctx",
		"-a", "restricted|decrypt|fixedtpm|fixedparent|sensitivedataorigin|userwithauth")
	s.Tool("tpm2_readpublic", "-Q", "-c", "legacy.ctx", "-f", "tss", "-o", "legacy.pub")
	s.Tool("tpm2_flushcontext", "-t")
	b, err := os.ReadFile(filepath.Join(s.Dir, "legacy.pub"))
	if err != nil {
		s.t.Fatal(err)
	}
	return b
}

// PCR11 reads PCR 11 (sha256) with tpm2_pcrread.
func (s *TPM) PCR11() []byte {
	s.t.Helper()
	s.Tool("tpm2_pcrread", "-Q", "sha256:11", "-o", "pcr11.bin")
	b, err := os.ReadFile(filepath.Join(s.Dir, "pcr11.bin"))
	if err != nil || len(b) != 32 {
		s.t.Fatalf("tpm2_pcrread: %v (%d bytes)", err, len(b))
	}
	return b
}

// Extend11 extends PCR 11 (sha256) with SHA-256(word), as
// systemd-pcrphase does.
func (s *TPM) Extend11(word string) {
	s.t.Helper()
	d := sha256.Sum256([]byte(word))
	s.Tool("tpm2_pcrextend", "11:sha256="+hex.EncodeToString(d[:]))
}
