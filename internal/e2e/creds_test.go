package e2e

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// provisionSRK creates, in the swtpm state, the storage root key systemd
// makes (ECC P-256 from its template, persistent at 0x81000001), with
// tpm2-tools, and returns its TPM2B_PUBLIC as "systemd-analyze srk" and
// "tpm2_readpublic -f tss" write it: what a provisioning server collects
// from a machine.
func provisionSRK(t *testing.T, state string) []byte {
	t.Helper()
	srv := filepath.Join(state, "srk.sock")
	ctrl := srv + ".ctrl" // where the swtpm TCTI looks for it
	sw := exec.Command("swtpm", "socket", "--tpm2", "--tpmstate", "dir="+state, "--server", "type=unixio,path="+srv,
		"--ctrl", "type=unixio,path="+ctrl, "--flags", "not-need-init,startup-clear")
	if err := sw.Start(); err != nil {
		t.Fatalf("swtpm: %v", err)
	}
	waitFor(srv)
	dir := t.TempDir()
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "TPM2TOOLS_TCTI=swtpm:path="+srv)
		if b, err := cmd.CombinedOutput(); err != nil {
			sw.Process.Kill()
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, b)
		}
	}
	run("tpm2_createprimary", "-Q", "-C", "o", "-g", "sha256", "-G", "ecc256:null:aes128cfb", "-c", "srk.ctx",
		"-a", "restricted|decrypt|fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda")
	run("tpm2_evictcontrol", "-Q", "-C", "o", "-c", "srk.ctx", "0x81000001")
	run("tpm2_flushcontext", "-t")
	run("tpm2_readpublic", "-Q", "-c", "0x81000001", "-f", "tss", "-o", "srk.pub")
	if b, err := exec.Command("swtpm_ioctl", "--unix", ctrl, "-s").CombinedOutput(); err != nil {
		t.Fatalf("swtpm_ioctl -s: %v\n%s", err, b)
	}
	if err := sw.Wait(); err != nil {
		t.Fatalf("swtpm: %v", err)
	}
	pub, err := os.ReadFile(filepath.Join(dir, "srk.pub"))
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// TestBootOfflineCredential (case 9): a credential made offline by
// "ukibuild creds encrypt" for the boot's TPM (its SRK's public part) and
// locked to the UKI's PCR signing key, put in BOOTX64.EFI.extra.d/, reaches
// the initrd as /.extra/credentials/NAME.cred and is decrypted there
// (package creds, with the TPM and the UKI's .pcrsig) in the enter-initrd
// phase, and no longer after leave-initrd. (systemd-creds 252-262.1 decrypt
// such credentials in the creds package's tests.)
func TestBootOfflineCredential(t *testing.T) {
	const name = "9 offline credential in the initrd"
	e := setup(t)
	dir := e.workDir(t)
	key := writeRSAKey(t, filepath.Join(dir, "pcr.pem"))
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pcrPub := writeFileE2E(t, dir, "pcr.pub.pem", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	state := newTPMState(t, dir)
	srk := writeFileE2E(t, dir, "srk.tpm2b_public", provisionSRK(t, state))
	secret := fmt.Sprintf("ukibuild-offline-secret-%d", time.Now().UnixNano())
	payload := writeFileE2E(t, dir, "payload", []byte(secret))
	cred := filepath.Join(dir, "ukibuild-offline.cred")
	e.run(t, "creds", "encrypt", payload, cred, "--name=ukibuild-offline", "--with-key=tpm2",
		"--tpm2-device-key="+srk, "--tpm2-public-key="+pcrPub)
	credData, err := os.ReadFile(cred)
	if err != nil {
		t.Fatal(err)
	}
	efi := filepath.Join(dir, "uki.efi")
	e.buildSigned(t, efi, e.sb.db, slices.Concat(e.ukiArgs(t, "262"), []string{
		"--pcr-private-key", filepath.Join(dir, "pcr.pem"), "--phases", "enter-initrd"})...)
	res := e.bootWithTPM(t, efi, state, extraFile{name: "ukibuild-offline.cred", data: credData})
	e.checkSecureBoot(t, name, res, e.sb.db.c)
	var got []string
	for _, l := range res.lines {
		if strings.HasPrefix(l, "creds ") {
			got = append(got, l)
		}
	}
	ok := len(got) == 2 && got[0] == "creds enter-initrd ok "+secret && strings.HasPrefix(got[1], "creds leave-initrd failed")
	record(t, name, "decrypted after enter-initrd, not after leave-initrd", "enter-initrd ok "+secret+"; leave-initrd failed", strings.Join(got, "; "), ok)
	if !ok {
		t.Errorf("the guest's credential lines: %q (serial log %s)", got, res.serial)
	}
}

func writeFileE2E(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
