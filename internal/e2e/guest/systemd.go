package main

import (
	"encoding/base64"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// celLog is where systemd (systemd-pcrextend and the other measuring
// services) logs what it measures, as CEL-JSON records.
const celLog = "/run/log/systemd/tpm2-measure.log"

// systemdReport is what the guest adds when it runs as a unit of systemd
// in the initrd (TestBootSystemdInitrd): systemd's measurement log, every
// sha256 PCR, and a quote of PCRs 0-15 but 10 (the kernel's IMA, whose log
// is not printed) over the nonce the host put on the
// kernel command line (ukibuild.nonce=HEX).
func systemdReport(tpm transport.TPM, cmdline string) {
	if b, err := os.ReadFile(celLog); err == nil {
		out("cel", "%s", base64.StdEncoding.EncodeToString(b))
	} else {
		out("warning", "systemd's log: %v", err)
	}
	for i := uint(0); i < 24; i++ {
		if v := readPCR(tpm, tpm2.TPMAlgSHA256, i); v != nil {
			out("pcr", "%d sha256 %s", i, hex.EncodeToString(v))
		}
	}
	var nonce []byte
	for _, f := range strings.Fields(cmdline) {
		if v, ok := strings.CutPrefix(f, "ukibuild.nonce="); ok {
			nonce, _ = hex.DecodeString(v)
		}
	}
	if nonce == nil {
		return
	}
	if err := quote(tpm, nonce); err != nil {
		out("error", "quote: %v", err)
	}
}

// quote makes an attestation key (a restricted ECC P-256 signing key,
// a primary key in the owner hierarchy) and quotes sha256 PCRs 0-9 and 11-15 with
// it; it prints the key's TPM2B_PUBLIC, the TPMS_ATTEST and the
// TPMT_SIGNATURE as tpm2_createak -u and tpm2_quote -m and -s write them.
func quote(tpm transport.TPM, nonce []byte) error {
	tmpl := tpm2.TPMTPublic{
		Type:    tpm2.TPMAlgECC,
		NameAlg: tpm2.TPMAlgSHA256,
		ObjectAttributes: tpm2.TPMAObject{
			FixedTPM: true, FixedParent: true, SensitiveDataOrigin: true, UserWithAuth: true,
			Restricted: true, SignEncrypt: true, NoDA: true,
		},
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
			Scheme: tpm2.TPMTECCScheme{Scheme: tpm2.TPMAlgECDSA, Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgECDSA,
				&tpm2.TPMSSigSchemeECDSA{HashAlg: tpm2.TPMAlgSHA256})},
			CurveID: tpm2.TPMECCNistP256,
		}),
	}
	ak, err := tpm2.CreatePrimary{PrimaryHandle: tpm2.TPMRHOwner, InPublic: tpm2.New2B(tmpl)}.Execute(tpm)
	if err != nil {
		return err
	}
	defer tpm2.FlushContext{FlushHandle: ak.ObjectHandle}.Execute(tpm)
	rsp, err := tpm2.Quote{
		SignHandle:     tpm2.NamedHandle{Handle: ak.ObjectHandle, Name: ak.Name},
		QualifyingData: tpm2.TPM2BData{Buffer: nonce},
		InScheme:       tpm2.TPMTSigScheme{Scheme: tpm2.TPMAlgNull},
		PCRSelect: tpm2.TPMLPCRSelection{PCRSelections: []tpm2.TPMSPCRSelection{{
			Hash: tpm2.TPMAlgSHA256, PCRSelect: tpm2.PCClientCompatible.PCRs(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15),
		}}},
	}.Execute(tpm)
	if err != nil {
		return err
	}
	out("quote-ak", "%s", base64.StdEncoding.EncodeToString(tpm2.Marshal(ak.OutPublic)))
	out("quote-attest", "%s", base64.StdEncoding.EncodeToString(rsp.Quoted.Bytes()))
	out("quote-sig", "%s", base64.StdEncoding.EncodeToString(tpm2.Marshal(rsp.Signature)))
	return nil
}

// printCredentials is the guest run by a unit with ImportCredential=
// (TestBootSystemdInitrd): it prints each credential systemd decrypted
// into $CREDENTIALS_DIRECTORY.
func printCredentials() {
	dir := os.Getenv("CREDENTIALS_DIRECTORY")
	entries, err := os.ReadDir(dir)
	if err != nil {
		out("sdcred-error", "%q: %v", dir, err)
		return
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			out("sdcred-error", "%s: %v", e.Name(), err)
			continue
		}
		out("sdcred", "%s %s", e.Name(), strings.TrimSpace(string(b)))
	}
}

// sysextDir is where the boot test's system extensions put their file
// (TestBootSystemdInitrd): /usr/lib/ukibuild-e2e/NAME.txt, visible only
// once systemd-sysext merged the extension into /usr.
const sysextDir = "/usr/lib/ukibuild-e2e"

// printSysext is the guest run by a unit after systemd-sysext-initrd:
// it prints each file the merged extensions added there.
func printSysext() {
	entries, err := os.ReadDir(sysextDir)
	if err != nil {
		out("sdsysext-error", "%s: %v", sysextDir, err)
		// What systemd-sysext said (it logs to the journal only).
		b, _ := exec.Command("journalctl", "-b", "-o", "cat", "--no-pager", "-u", "systemd-sysext-initrd.service").CombinedOutput()
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			out("sdsysext-log", "%s", l)
		}
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(sysextDir, e.Name()))
		if err != nil {
			out("sdsysext-error", "%s: %v", e.Name(), err)
			continue
		}
		out("sdsysext", "%s %s", e.Name(), strings.TrimSpace(string(b)))
	}
}
