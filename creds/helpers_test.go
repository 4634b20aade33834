package creds

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ukibuild/ukibuild/internal/reftools"
	"github.com/ukibuild/ukibuild/pcr"
)

// systemdCreds runs systemd-creds of version with extra environment
// variables and returns its stdout, stderr and error.
func systemdCreds(t *testing.T, version string, env []string, args ...string) ([]byte, string, error) {
	t.Helper()
	cmd := reftools.Locate(t).CredsVersion(t, version, args...)
	cmd.Env = append(cmd.Env, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.Bytes(), errb.String(), err
}

// machineID reads this machine's /etc/machine-id (systemd-creds binds host
// keys to it).
func machineID(t *testing.T) [16]byte {
	t.Helper()
	b, err := os.ReadFile("/etc/machine-id")
	if err != nil {
		t.Fatalf("/etc/machine-id: %v", err)
	}
	id, err := ParseMachineID(string(b))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// writeHostKey writes k as a host key file with the mode systemd demands
// and returns the SYSTEMD_CREDENTIAL_SECRET= setting pointing at it.
func writeHostKey(t *testing.T, k *HostKey) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "credential.secret")
	var b bytes.Buffer
	if _, err := k.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b.Bytes(), 0o400); err != nil {
		t.Fatal(err)
	}
	return "SYSTEMD_CREDENTIAL_SECRET=" + p
}

// swtpm is a software TPM on a unix socket, provisioned as systemd
// provisions a machine: an ECC P-256 SRK from systemd's template persisted
// at 0x81000001 (made with tpm2-tools, not with this package).
type swtpm struct {
	t      *testing.T
	dir    string
	sock   string
	srkPub []byte // TPM2B_PUBLIC of the SRK (tpm2_readpublic -f tss)
}

func (s *swtpm) device() string { return "swtpm:path=" + s.sock }

// tool runs a tpm2-tools command against the swtpm.
func (s *swtpm) tool(args ...string) []byte {
	s.t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(), "TPM2TOOLS_TCTI=swtpm:path="+s.sock)
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

func startSwtpm(t *testing.T) *swtpm {
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
	s := &swtpm{t: t, dir: dir, sock: filepath.Join(dir, "s")}
	os.Mkdir(filepath.Join(dir, "state"), 0o700)
	cmd := exec.Command("swtpm", "socket", "--tpm2",
		"--server", "type=unixio,path="+s.sock,
		"--ctrl", "type=unixio,path="+s.sock+".ctrl", // the TCTI wants SOCK.ctrl
		"--flags", "startup-clear", "--tpmstate", "dir="+filepath.Join(dir, "state"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for i := 0; ; i++ {
		if c, err := net.Dial("unix", s.sock+".ctrl"); err == nil {
			c.Close()
			break
		}
		if i > 200 {
			t.Fatal("swtpm did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.tool("tpm2_createprimary", "-Q", "-C", "o", "-g", "sha256", "-G", "ecc256:null:aes128cfb", "-c", "srk.ctx",
		"-a", "restricted|decrypt|fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda")
	s.tool("tpm2_evictcontrol", "-Q", "-C", "o", "-c", "srk.ctx", "0x81000001")
	s.tool("tpm2_flushcontext", "-t")
	s.tool("tpm2_readpublic", "-Q", "-c", "0x81000001", "-f", "tss", "-o", "srk.pub")
	s.srkPub, err = os.ReadFile(filepath.Join(dir, "srk.pub"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// legacyPrimary creates systemd's 255-261 transient primary with
// tpm2-tools and returns its TPM2B_PUBLIC.
func (s *swtpm) legacyPrimary() []byte {
	s.t.Helper()
	s.tool("tpm2_createprimary", "-Q", "-C", "o", "-g", "sha256", "-G", "ecc256:null:aes128cfb", "-c", "legacy.ctx",
		"-a", "restricted|decrypt|fixedtpm|fixedparent|sensitivedataorigin|userwithauth")
	s.tool("tpm2_readpublic", "-Q", "-c", "legacy.ctx", "-f", "tss", "-o", "legacy.pub")
	s.tool("tpm2_flushcontext", "-t")
	b, err := os.ReadFile(filepath.Join(s.dir, "legacy.pub"))
	if err != nil {
		s.t.Fatal(err)
	}
	return b
}

// pcr11 reads PCR 11 (sha256) with tpm2_pcrread.
func (s *swtpm) pcr11() []byte {
	s.t.Helper()
	s.tool("tpm2_pcrread", "-Q", "sha256:11", "-o", "pcr11.bin")
	b, err := os.ReadFile(filepath.Join(s.dir, "pcr11.bin"))
	if err != nil || len(b) != 32 {
		s.t.Fatalf("tpm2_pcrread: %v (%d bytes)", err, len(b))
	}
	return b
}

func (s *swtpm) extend11(word string) {
	s.t.Helper()
	d := sha256.Sum256([]byte(word))
	s.tool("tpm2_pcrextend", "11:sha256="+hex.EncodeToString(d[:]))
}

// pcrKey is a PCR signing key pair: the PEM public key and a function
// writing a signed PCR policy JSON (the .pcrsig format systemd-creds
// --tpm2-signature= reads) for a PCR 11 value.
type pcrKey struct {
	priv *rsa.PrivateKey
	pem  []byte
}

func newPCRKey(t *testing.T) *pcrKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return &pcrKey{priv: k, pem: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})}
}

func (k *pcrKey) signature(t *testing.T, pcr11 []byte) []byte {
	t.Helper()
	pol, err := pcr.PolicyPCRDigest(pcr.SHA256, 11, pcr11)
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256(pcr.PolicyToBeSigned(pol, ""))
	sig, err := rsa.SignPKCS1v15(nil, k.priv, crypto.SHA256, d[:])
	if err != nil {
		t.Fatal(err)
	}
	fp, err := pcr.PublicKeyFingerprint(&k.priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(map[string]any{"sha256": []any{map[string]any{
		"pcrs": []int{11}, "pkfp": hex.EncodeToString(fp), "pol": hex.EncodeToString(pol),
		"sig": base64.StdEncoding.EncodeToString(sig),
	}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// encryptFile encrypts payload with o into dir/file and returns the path.
func encryptFile(t *testing.T, dir, file string, payload []byte, o *Options) string {
	t.Helper()
	var b bytes.Buffer
	if err := Encrypt(&b, bytes.NewReader(payload), o); err != nil {
		t.Fatalf("Encrypt(%s): %v", file, err)
	}
	p := filepath.Join(dir, file)
	if err := os.WriteFile(p, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
