package main

import (
	"bytes"
	"os"

	"github.com/google/go-tpm/tpm2/transport"

	"github.com/ukibuild/ukibuild/creds"
	"github.com/ukibuild/ukibuild/internal/tpmunseal"
)

// offlineCredential is the credential case 9 makes offline for this
// boot's TPM; the stub puts BOOTX64.EFI.extra.d/*.cred there.
const offlineCredential = "ukibuild-offline"

// credsCheck decrypts the offline-made credential with the TPM, as systemd
// in the initrd would (creds.Decrypt, with the UKI's signed PCR policy
// from /.extra), after "enter-initrd" and again after "leave-initrd".
func credsCheck(tpm transport.TPM) {
	data, err := os.ReadFile("/.extra/credentials/" + offlineCredential + ".cred")
	if err != nil {
		return // not case 9
	}
	sig, err := os.ReadFile("/.extra/tpm2-pcr-signature.json")
	if err != nil {
		out("creds", "error %v", err)
		return
	}
	active := activeBanks(tpm)
	for _, phase := range []string{"enter-initrd", "leave-initrd"} {
		if err := tpmunseal.ExtendPhase(tpm, phase, active); err != nil {
			out("creds", "error %v", err)
			return
		}
		var plain bytes.Buffer
		if _, err := creds.Decrypt(&plain, bytes.NewReader(data), &creds.DecryptOptions{Name: offlineCredential, TPM: tpm, Signature: sig}); err != nil {
			out("creds", "%s failed %v", phase, err)
			continue
		}
		out("creds", "%s ok %s", phase, plain.String())
	}
}
