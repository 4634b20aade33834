package pcrsig

import (
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"math"

	"github.com/google/go-tpm/tpm2"

	"github.com/ukibuild/ukibuild/pcr"
)

// SignedPCR is PCR 11 (kernel-boot), the PCR systemd-stub and
// systemd-pcrextend measure into and the only PCR systemd-measure signs
// policies for.
const SignedPCR uint32 = 11

// pcrSelectSize is the size of the PCR bitmap in a TPMS_PCR_SELECTION as
// systemd writes it (TPM2_PCRS_MAX / 8, for the 24 PCRs of a PC Client TPM).
const pcrSelectSize = 3

// policySession is the hash algorithm of the policy sessions systemd uses:
// always SHA-256, whatever the PCR bank (tpm2-util.c passes TPM2_ALG_SHA256 to
// every tpm2_calculate_policy_* helper and starts its sessions with it).
const policySession = tpm2.TPMAlgSHA256

// PolicyPCRDigest returns the TPM2_PolicyPCR digest that systemd-measure
// signs: the policy digest of a SHA-256 policy session, starting from the
// all-zero digest, after TPM2_PolicyPCR selecting PCR pcrIndex of bank and
// expecting it to hold value. It is computed like tpm2_calculate_policy_pcr()
// in systemd's src/shared/tpm2-util.c:
//
//	SHA256(zero[32] || TPM_CC_PolicyPCR || TPML_PCR_SELECTION || SHA256(value))
//
// where TPML_PCR_SELECTION has one entry for bank with a three-byte bitmap,
// and the PCR values are hashed with the session's algorithm (SHA-256), not
// with the bank's. value must have the size of the bank's digests.
func PolicyPCRDigest(bank pcr.Bank, pcrIndex uint32, value []byte) ([]byte, error) {
	if err := checkBank(bank); err != nil {
		return nil, err
	}
	if len(value) != bank.Hash.Size() {
		return nil, fmt.Errorf("pcrsig: PolicyPCR: %s PCR value has %d bytes, want %d", bank.Name, len(value), bank.Hash.Size())
	}
	if pcrIndex >= 8*pcrSelectSize {
		return nil, fmt.Errorf("pcrsig: PolicyPCR: PCR index %d out of range (0-%d)", pcrIndex, 8*pcrSelectSize-1)
	}
	sel := make([]byte, pcrSelectSize)
	sel[pcrIndex/8] |= 1 << (pcrIndex % 8)
	pcrDigest := sha256.Sum256(value)
	calc, err := tpm2.NewPolicyCalculator(policySession)
	if err != nil {
		return nil, fmt.Errorf("pcrsig: PolicyPCR: %w", err)
	}
	cmd := tpm2.PolicyPCR{
		PcrDigest: tpm2.TPM2BDigest{Buffer: pcrDigest[:]},
		Pcrs: tpm2.TPMLPCRSelection{PCRSelections: []tpm2.TPMSPCRSelection{{
			Hash:      tpm2.TPMIAlgHash(bank.AlgID),
			PCRSelect: sel,
		}}},
	}
	if err := cmd.Update(calc); err != nil {
		return nil, fmt.Errorf("pcrsig: PolicyPCR: %w", err)
	}
	return calc.Hash().Digest, nil
}

// PolicyRefDigest returns the TPM policyRef systemd derives from a policy
// reference string (systemd-measure --policyref=, systemd-cryptenroll
// --tpm2-public-key-policyref=): the SHA-256 digest of the string, without a
// terminating NUL. The empty string means "no policy reference" and yields
// nil, an empty policyRef.
func PolicyRefDigest(ref string) []byte {
	if ref == "" {
		return nil
	}
	d := sha256.Sum256([]byte(ref))
	return d[:]
}

// PolicyToBeSigned returns the data a signed PCR policy signs (the "tbs" of
// systemd-measure policy-digest): the approved policy digest followed by
// PolicyRefDigest(ref). TPM2_PolicyAuthorize checks a signature over
// H(approvedPolicy || policyRef), so systemd signs these bytes with
// RSASSA-PKCS1-v1_5 and SHA-256. Without a reference it is the policy digest
// itself.
func PolicyToBeSigned(policyDigest []byte, ref string) []byte {
	tbs := make([]byte, 0, len(policyDigest)+sha256.Size)
	tbs = append(tbs, policyDigest...)
	return append(tbs, PolicyRefDigest(ref)...)
}

// PolicyAuthorizeDigest returns the policy digest of a secret that can only be
// unsealed with a PCR policy signed by pub and carrying the policy reference
// ref: a SHA-256 policy session after TPM2_PolicyAuthorize with the name of
// pub as systemd loads it (see PolicyPublicKeyName). This is the first step of
// the sealing policy systemd-cryptenroll, systemd-repart and systemd-creds
// compute for --tpm2-public-key= (tpm2_calculate_policy_authorize() in
// src/shared/tpm2-util.c); further policy steps (PolicyPCR for literal PCRs,
// PolicyAuthValue for a PIN) extend this digest.
func PolicyAuthorizeDigest(pub *rsa.PublicKey, ref string) ([]byte, error) {
	name, err := PolicyPublicKeyName(pub)
	if err != nil {
		return nil, err
	}
	calc, err := tpm2.NewPolicyCalculator(policySession)
	if err != nil {
		return nil, fmt.Errorf("pcrsig: PolicyAuthorize: %w", err)
	}
	cmd := tpm2.PolicyAuthorize{
		PolicyRef: tpm2.TPM2BDigest{Buffer: PolicyRefDigest(ref)},
		KeySign:   tpm2.TPM2BName{Buffer: name},
	}
	if err := cmd.Update(calc); err != nil {
		return nil, fmt.Errorf("pcrsig: PolicyAuthorize: %w", err)
	}
	return calc.Hash().Digest, nil
}

// PolicyPublicKeyName returns the TPM name of the PCR signing key pub as
// systemd computes and loads it (tpm2_tpm2b_public_from_openssl_pkey() and
// tpm2_calculate_pubkey_name() in src/shared/tpm2-util.c): the name algorithm
// (SHA-256, 0x000b) followed by the SHA-256 digest of the marshalled
// TPMT_PUBLIC of an RSA key with the attributes decrypt, sign and
// userWithAuth, no symmetric algorithm and no scheme, keyBits eight times the
// byte length of the modulus and the exponent written out (never 0).
func PolicyPublicKeyName(pub *rsa.PublicKey) ([]byte, error) {
	pt, err := policyKeyPublic(pub)
	if err != nil {
		return nil, err
	}
	name, err := tpm2.ObjectName(pt)
	if err != nil {
		return nil, fmt.Errorf("pcrsig: TPM name of the PCR public key: %w", err)
	}
	return name.Buffer, nil
}

// PolicyKeyPublic returns the TPMT_PUBLIC systemd builds for the PCR signing
// key before TPM2_LoadExternal (to verify policy signatures in the TPM).
func PolicyKeyPublic(pub *rsa.PublicKey) (*tpm2.TPMTPublic, error) { return policyKeyPublic(pub) }

func policyKeyPublic(pub *rsa.PublicKey) (*tpm2.TPMTPublic, error) {
	if pub == nil || pub.N == nil {
		return nil, fmt.Errorf("pcrsig: no RSA public key")
	}
	n := pub.N.Bytes()
	if len(n) == 0 || len(n) > 512 {
		return nil, fmt.Errorf("pcrsig: RSA modulus of %d bytes is not supported by the TPM (at most 512)", len(n))
	}
	if pub.E <= 0 || int64(pub.E) > math.MaxUint32 {
		return nil, fmt.Errorf("pcrsig: RSA public exponent %d does not fit in 32 bits", pub.E)
	}
	return &tpm2.TPMTPublic{
		Type:    tpm2.TPMAlgRSA,
		NameAlg: tpm2.TPMAlgSHA256,
		ObjectAttributes: tpm2.TPMAObject{
			Decrypt:      true,
			SignEncrypt:  true,
			UserWithAuth: true,
		},
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgRSA, &tpm2.TPMSRSAParms{
			Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull},
			Scheme:    tpm2.TPMTRSAScheme{Scheme: tpm2.TPMAlgNull},
			KeyBits:   tpm2.TPMIRSAKeyBits(8 * len(n)),
			Exponent:  uint32(pub.E),
		}),
		Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{Buffer: n}),
	}, nil
}

// checkBank refuses banks that are not one of the four systemd knows.
func checkBank(bank pcr.Bank) error {
	for _, b := range pcr.AllBanks() {
		if b == bank {
			return nil
		}
	}
	return fmt.Errorf("pcrsig: unknown PCR bank %q", bank.Name)
}
