package main

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"

	"github.com/google/go-tpm/tpm2/transport"

	"github.com/ukibuild/ukibuild/internal/tpmunseal"
	"github.com/ukibuild/ukibuild/pcr"
)

// unsealCheck does what systemd does with a credential locked to the UKI's
// PCR policy, when the host sealed one (/e2e/sealed.pub and .priv in the
// initrd): extend "enter-initrd" into PCR 11 as systemd-pcrphase-initrd
// does, unseal with /.extra/tpm2-pcr-signature.json and
// /.extra/tpm2-pcr-public-key.pem (placed there by the stub), then extend
// "leave-initrd" and try again, which must fail.
func unsealCheck(tpm transport.TPM) {
	public, err := os.ReadFile("/e2e/sealed.pub")
	if err != nil {
		return // no credential case in this boot
	}
	private, err := os.ReadFile("/e2e/sealed.priv")
	if err != nil {
		out("unseal", "error %v", err)
		return
	}
	sigJSON, err := os.ReadFile("/.extra/tpm2-pcr-signature.json")
	if err != nil {
		out("unseal", "error %v", err)
		return
	}
	pub, err := readPublicKey("/.extra/tpm2-pcr-public-key.pem")
	if err != nil {
		out("unseal", "error %v", err)
		return
	}
	active := activeBanks(tpm)
	for _, phase := range []string{"enter-initrd", "leave-initrd"} {
		if err := tpmunseal.ExtendPhase(tpm, phase, active); err != nil {
			out("unseal", "error %v", err)
			return
		}
		printPCRs(tpm, phase)
		secret, err := tpmunseal.Unseal(tpm, public, private, sigJSON, pub, pcr.SHA256, "")
		if err != nil {
			out("unseal", "%s failed %v", phase, err)
			continue
		}
		out("unseal", "%s ok %s", phase, secret)
	}
}

func readPublicKey(path string) (*rsa.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("%s: no PEM block", path)
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	rk, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%s: not an RSA key", path)
	}
	return rk, nil
}

// activeBanks are the banks printPCRs could read.
func activeBanks(tpm transport.TPM) []pcr.Bank {
	var out []pcr.Bank
	for _, b := range banks {
		if readPCR(tpm, b.alg, 11) != nil {
			bank, _ := pcr.ParseBank(b.name)
			out = append(out, bank)
		}
	}
	return out
}
