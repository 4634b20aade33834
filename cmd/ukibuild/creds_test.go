package main

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-tpm/tpm2"

	"github.com/ukibuild/ukibuild/internal/reftools"
	"github.com/ukibuild/ukibuild/internal/swtpmtest"
)

func runSystemdCreds(t *testing.T, version string, env []string, args ...string) ([]byte, string, error) {
	t.Helper()
	cmd := reftools.Locate(t).CredsVersion(t, version, args...)
	cmd.Env = append(cmd.Env, env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	return o.Bytes(), e.String(), err
}

func writeTestFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCredsBadInput: each bad input fails with an error naming the file
// and the defect, and no output file is left behind.
func TestCredsBadInput(t *testing.T) {
	dir := t.TempDir()
	payload := writeTestFile(t, dir, "payload", []byte("x"))
	big := writeTestFile(t, dir, "big", bytes.Repeat([]byte("x"), 1<<20+1))
	signing := tpm2.ECCSRKTemplate
	signing.ObjectAttributes.Restricted = false
	notStorage := writeTestFile(t, dir, "sign.tpm2b_public", tpm2.Marshal(tpm2.New2B(signing)))
	rsa1024 := tpm2.RSASRKTemplate
	rsa1024.Parameters = tpm2.NewTPMUPublicParms(tpm2.TPMAlgRSA, &tpm2.TPMSRSAParms{
		Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgAES,
			KeyBits: tpm2.NewTPMUSymKeyBits(tpm2.TPMAlgAES, tpm2.TPMKeyBits(128)),
			Mode:    tpm2.NewTPMUSymMode(tpm2.TPMAlgAES, tpm2.TPMAlgCFB)},
		KeyBits: 1024})
	rsa1024.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{Buffer: bytes.Repeat([]byte{0xc1}, 128)})
	smallRSA := writeTestFile(t, dir, "rsa1024.tpm2b_public", tpm2.Marshal(tpm2.New2B(rsa1024)))
	ek, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srkPub := tpm2.ECCSRKTemplate
	pt := ek.PublicKey().Bytes()
	srkPub.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{
		X: tpm2.TPM2BECCParameter{Buffer: pt[1:33]}, Y: tpm2.TPM2BECCParameter{Buffer: pt[33:]}})
	goodSRK := writeTestFile(t, dir, "srk.tpm2b_public", tpm2.Marshal(tpm2.New2B(srkPub)))
	corrupt := writeTestFile(t, dir, "corrupt.cred", []byte("not a credential\n"))
	foreign := writeTestFile(t, dir, "foreign.cred", []byte(strings.Repeat("QUJD", 40)+"\n"))
	out := filepath.Join(dir, "out.cred")
	for name, c := range map[string]struct {
		args []string
		want []string
	}{
		"not a storage key": {[]string{"creds", "encrypt", "--with-key=tpm2", "--tpm2-device-key=" + notStorage, payload, out},
			[]string{notStorage, "not a restricted decryption"}},
		"RSA 1024 parent": {[]string{"creds", "encrypt", "--with-key=tpm2", "--tpm2-device-key=" + smallRSA, payload, out},
			[]string{smallRSA, "RSA key of 1024 bits"}},
		"name with /": {[]string{"creds", "encrypt", "--with-key=null", "--name=a/b", payload, out},
			[]string{"--name", `"a/b" contains "/"`}},
		"not-after first": {[]string{"creds", "encrypt", "--with-key=null", "--timestamp=@2000", "--not-after=@1000", payload, out},
			[]string{"not-after", "is not after the timestamp"}},
		"payload over 1 MiB": {[]string{"creds", "encrypt", "--with-key=null", big, out},
			[]string{big, "larger than 1048576 bytes"}},
		"tpm2 for 253 with a good key": {[]string{"creds", "encrypt", "--with-key=tpm2", "--target-systemd=253", payload, out},
			[]string{"systemd 253 cannot import"}},
		"PCR without value": {[]string{"creds", "encrypt", "--with-key=tpm2", "--tpm2-pcrs=7", payload, out},
			[]string{"PCR 7 needs its value"}},
		"PCR public key not PEM": {[]string{"creds", "encrypt", "--with-key=tpm2", "--tpm2-device-key=" + goodSRK, "--tpm2-public-key=" + payload, payload, out},
			[]string{payload, "no PEM block"}},
		"decrypt corrupt": {[]string{"creds", "decrypt", corrupt, out}, []string{corrupt, "not base64"}},
		"decrypt foreign": {[]string{"creds", "decrypt", foreign, out}, []string{foreign, "unknown key type ID"}},
		"inspect corrupt": {[]string{"creds", "inspect", corrupt}, []string{corrupt, "not base64"}},
		"inspect foreign": {[]string{"creds", "inspect", foreign}, []string{foreign, "unknown key type ID"}},
	} {
		code, _, stderr := runOurs(c.args...)
		if code == 0 {
			t.Errorf("%s: exit 0", name)
		}
		for _, w := range c.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%s: stderr %q lacks %q", name, stderr, w)
			}
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%s: %s was written", name, out)
			os.Remove(out)
		}
		if ents, _ := filepath.Glob(filepath.Join(dir, ".*")); len(ents) > 0 {
			t.Errorf("%s: left behind %v", name, ents)
		}
	}
}

// TestCredsCLI: the CLI's credentials and host key files work with the real
// systemd-creds 262, and it reads systemd's.
func TestCredsCLI(t *testing.T) {
	tpm := swtpmtest.Start(t)
	dir := t.TempDir()
	srk := writeTestFile(t, dir, "srk.tpm2b_public", tpm.SRKPublic)
	payload := []byte("cli payload\n")
	in := writeTestFile(t, dir, "in", payload)

	// setup-host-key writes a file systemd-creds takes as its host key.
	hostKey := filepath.Join(dir, "credential.secret")
	if code, _, stderr := runOurs("creds", "setup-host-key", hostKey); code != 0 {
		t.Fatalf("setup-host-key: %s", stderr)
	}
	if st, err := os.Stat(hostKey); err != nil || st.Mode().Perm() != 0o400 {
		t.Fatalf("host key: %v %v", st, err)
	}
	if code, _, _ := runOurs("creds", "setup-host-key", hostKey); code == 0 {
		t.Fatal("setup-host-key replaced an existing key")
	}
	env := []string{"SYSTEMD_CREDENTIAL_SECRET=" + hostKey}
	sdHost := filepath.Join(dir, "sdhost.cred")
	if _, stderr, err := runSystemdCreds(t, "262", env, "encrypt", "--with-key=host", "--name=sdhost", in, sdHost); err != nil {
		t.Fatalf("systemd-creds encrypt with our host key: %v: %s", err, stderr)
	}
	if code, stdout, stderr := runOurs("creds", "decrypt", "--host-key="+hostKey, sdHost, "-"); code != 0 || stdout != string(payload) {
		t.Fatalf("decrypt of systemd's host credential: %d %q %s", code, stdout, stderr)
	}

	// A sidecar NAME.cred embeds NAME; another name is warned about.
	pcr11 := hex.EncodeToString(tpm.PCR11())
	side := filepath.Join(dir, "secret.cred")
	code, _, stderr := runOurs("creds", "encrypt", "--with-key=host+tpm2", "--host-key="+hostKey, "--tpm2-device-key="+srk,
		"--tpm2-pcrs=11:sha256="+pcr11, in, side)
	if code != 0 || stderr != "" {
		t.Fatalf("encrypt: %d %s", code, stderr)
	}
	out, stderr2, err := runSystemdCreds(t, "262", env, "decrypt", "--name=secret", "--tpm2-device="+tpm.Device(), side, "-")
	if err != nil || !bytes.Equal(out, payload) {
		t.Fatalf("systemd-creds decrypt of our host+tpm2 credential: %v %q %s", err, out, stderr2)
	}
	code, stdout, stderr := runOurs("creds", "decrypt", "--name=secret", "--host-key="+hostKey, "--tpm2-device="+tpm.Device(), side, "-")
	if code != 0 || stdout != string(payload) {
		t.Fatalf("our decrypt: %d %q %s", code, stdout, stderr)
	}
	code, stdout, stderr = runOurs("creds", "inspect", "--json", side)
	var info map[string]any
	if code != 0 || json.Unmarshal([]byte(stdout), &info) != nil {
		t.Fatalf("inspect: %d %s %s", code, stdout, stderr)
	}
	if info["keyType"] != "host+tpm2" || info["parent"] != "pinned SRK 0x81000001" || info["pcrBank"] != "sha256" ||
		len(info["pcrs"].([]any)) != 1 || strings.Contains(stdout, "cli payload") {
		t.Fatalf("inspect: %s", stdout)
	}
	other := filepath.Join(dir, "other.cred")
	code, _, stderr = runOurs("creds", "encrypt", "--with-key=null", "--name=secret", in, other)
	if code != 0 || !strings.Contains(stderr, "warning") || !strings.Contains(stderr, other) {
		t.Fatalf("name mismatch: %d %q", code, stderr)
	}
	// Our decrypt refuses a renamed file, naming it and both names.
	renamed := filepath.Join(dir, "renamed.cred")
	if err := os.Rename(side, renamed); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runOurs("creds", "decrypt", "--host-key="+hostKey, "--tpm2-device="+tpm.Device(), renamed, filepath.Join(dir, "renamed.out"))
	if code == 0 || !strings.Contains(stderr, renamed) || !strings.Contains(stderr, `"secret" does not match "renamed.cred"`) {
		t.Fatalf("decrypt of a renamed file: %d %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "renamed.out")); err == nil {
		t.Fatal("decrypt of a renamed file wrote its output")
	}
	// The legacy primary given for a 262 target is warned about.
	legacy := writeTestFile(t, dir, "legacy.tpm2b_public", tpm.LegacyPrimary())
	code, _, stderr = runOurs("creds", "encrypt", "--with-key=tpm2", "--tpm2-device-key="+legacy, in, filepath.Join(dir, "l.cred"))
	if code != 0 || !strings.Contains(stderr, "legacy primary") {
		t.Fatalf("legacy primary for 262: %d %s", code, stderr)
	}
	if code, _, stderr = runOurs("creds", "encrypt", "--with-key=tpm2", "--target-systemd=257", "--tpm2-device-key="+legacy, in, filepath.Join(dir, "l.cred")); code != 0 || stderr != "" {
		t.Fatalf("legacy primary for 257: %d %s", code, stderr)
	}
	if out, stderr, err := runSystemdCreds(t, "257", nil, "decrypt", "--name=l", "--tpm2-device="+tpm.Device(), filepath.Join(dir, "l.cred"), "-"); err != nil || !bytes.Equal(out, payload) {
		t.Fatalf("systemd-creds 257 decrypt: %v %q %s", err, out, stderr)
	}
	// Real systemd-creds refuses it under the file's name.
	if _, stderr, err := runSystemdCreds(t, "262", nil, "decrypt", "--name=other", other, "-"); err == nil || !strings.Contains(stderr, "does not match") {
		t.Fatalf("systemd-creds decrypt of a misnamed credential: %v %s", err, stderr)
	}
}
