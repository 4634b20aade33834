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
	"os"
	"path/filepath"
	"testing"

	"github.com/ukibuild/ukibuild/internal/reftools"
	"github.com/ukibuild/ukibuild/pcr"
	"github.com/ukibuild/ukibuild/pcrsig"
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

// pcrKey is a PCR signing key pair: the PEM public key and a function
// writing a signed PCR policy JSON (the .pcrsig format systemd-creds
// --tpm2-signature= reads) for a PCR 11 value.
type pcrKey struct {
	priv *rsa.PrivateKey
	pem  []byte
}

func newPCRKey(t testing.TB) *pcrKey {
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
	pol, err := pcrsig.PolicyPCRDigest(pcr.SHA256, 11, pcr11)
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256(pcrsig.PolicyToBeSigned(pol, ""))
	sig, err := rsa.SignPKCS1v15(nil, k.priv, crypto.SHA256, d[:])
	if err != nil {
		t.Fatal(err)
	}
	fp, err := pcrsig.PublicKeyFingerprint(&k.priv.PublicKey)
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
