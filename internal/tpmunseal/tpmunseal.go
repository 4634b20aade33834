// Package tpmunseal seals secrets to a PCR signing key and unseals them the
// way systemd does with a UKI's signed PCR policies (.pcrsig): a secret
// sealed to PolicyAuthorize(PCR public key, policyRef) is unsealed in a
// policy session with PolicyPCR(PCR 11) + VerifySignature(SHA256(approved
// policy || SHA256(policyRef))) + PolicyAuthorize, using the .pcrsig entry
// whose "pol" equals the session's digest (systemd's tpm2_policy_authorize()
// and find_signature(), src/shared/tpm2-util.c). It is what the boot tests'
// guest runs against a real (software) TPM; pure Go, for a static binary.
package tpmunseal

import (
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/ukibuild/ukibuild/internal/pyjson"
	"github.com/ukibuild/ukibuild/pcr"
	"github.com/ukibuild/ukibuild/pcrsig"
)

// ErrNoPolicy means .pcrsig has no signed policy for the current PCR 11.
var ErrNoPolicy = errors.New("no signed policy for the current PCR 11 value")

func srk(tpm transport.TPM) (*tpm2.CreatePrimaryResponse, func(), error) {
	rsp, err := tpm2.CreatePrimary{PrimaryHandle: tpm2.TPMRHOwner, InPublic: tpm2.New2B(tpm2.ECCSRKTemplate)}.Execute(tpm)
	if err != nil {
		return nil, nil, fmt.Errorf("CreatePrimary: %w", err)
	}
	return rsp, func() { _, _ = tpm2.FlushContext{FlushHandle: rsp.ObjectHandle}.Execute(tpm) }, nil
}

// Seal seals secret under the owner hierarchy's ECC storage key so that
// only a policy authorized by pub with policy reference ref unseals it. It
// returns the object's public and private parts (TPM2B encodings).
func Seal(tpm transport.TPM, secret []byte, pub *rsa.PublicKey, ref string) (public, private []byte, err error) {
	policy, err := pcrsig.PolicyAuthorizeDigest(pub, ref)
	if err != nil {
		return nil, nil, err
	}
	parent, flush, err := srk(tpm)
	if err != nil {
		return nil, nil, err
	}
	defer flush()
	rsp, err := tpm2.Create{
		ParentHandle: tpm2.AuthHandle{Handle: parent.ObjectHandle, Name: parent.Name, Auth: tpm2.PasswordAuth(nil)},
		InSensitive: tpm2.TPM2BSensitiveCreate{Sensitive: &tpm2.TPMSSensitiveCreate{
			Data: tpm2.NewTPMUSensitiveCreate(&tpm2.TPM2BSensitiveData{Buffer: secret}),
		}},
		InPublic: tpm2.New2B(tpm2.TPMTPublic{
			Type:             tpm2.TPMAlgKeyedHash,
			NameAlg:          tpm2.TPMAlgSHA256,
			ObjectAttributes: tpm2.TPMAObject{FixedTPM: true, FixedParent: true, NoDA: true},
			AuthPolicy:       tpm2.TPM2BDigest{Buffer: policy},
		}),
	}.Execute(tpm)
	if err != nil {
		return nil, nil, fmt.Errorf("creating the sealed object: %w", err)
	}
	return tpm2.Marshal(rsp.OutPublic), tpm2.Marshal(rsp.OutPrivate), nil
}

// ExtendPhase extends PCR 11 with SHA-x(word) in each bank, as
// systemd-pcrphase does for a boot phase.
func ExtendPhase(tpm transport.TPM, word string, banks []pcr.Bank) error {
	var digests []tpm2.TPMTHA
	for _, b := range banks {
		h := b.Hash.New()
		h.Write([]byte(word))
		digests = append(digests, tpm2.TPMTHA{HashAlg: tpm2.TPMIAlgHash(b.AlgID), Digest: h.Sum(nil)})
	}
	_, err := tpm2.PCRExtend{
		PCRHandle: tpm2.AuthHandle{Handle: tpm2.TPMHandle(pcrsig.SignedPCR), Auth: tpm2.PasswordAuth(nil)},
		Digests:   tpm2.TPMLDigestValues{Digests: digests},
	}.Execute(tpm)
	if err != nil {
		return fmt.Errorf("PCR_Extend(%s): %w", word, err)
	}
	return nil
}

// findSignature returns the "sig" of the entry of bank in doc whose
// pcrs, pkfp, pol and ref match, like systemd's find_signature().
func findSignature(doc *pyjson.Object, bank pcr.Bank, fp string, pol []byte, ref string) ([]byte, error) {
	v, _ := doc.Get(bank.Name)
	list, _ := v.([]any)
	for _, e := range list {
		o, ok := e.(*pyjson.Object)
		if !ok {
			continue
		}
		pcrs, _ := o.Get("pcrs")
		if l, ok := pcrs.([]any); !ok || len(l) != 1 || l[0] != int64(pcrsig.SignedPCR) {
			continue
		}
		if k, _ := o.Get("pkfp"); k != fp {
			continue
		}
		if p, _ := o.Get("pol"); p != hex.EncodeToString(pol) {
			continue
		}
		if rv, ok := o.Get("ref"); ok && rv != ref || !ok && ref != "" {
			continue
		}
		s, _ := o.Get("sig")
		str, _ := s.(string)
		return base64.StdEncoding.DecodeString(str)
	}
	return nil, ErrNoPolicy
}

// Unseal loads the sealed object (public, private from Seal) and unseals it
// with the .pcrsig JSON pcrsigJSON signed by pub, for PCR 11 in bank, with
// policy reference ref.
func Unseal(tpm transport.TPM, public, private, pcrsigJSON []byte, pub *rsa.PublicKey, bank pcr.Bank, ref string) ([]byte, error) {
	doc, err := pyjson.UnmarshalObject(pcrsigJSON)
	if err != nil {
		return nil, fmt.Errorf("PCR signature JSON: %w", err)
	}
	fpb, err := pcrsig.PublicKeyFingerprint(pub)
	if err != nil {
		return nil, err
	}
	inPub, err := tpm2.Unmarshal[tpm2.TPM2BPublic](public)
	if err != nil {
		return nil, fmt.Errorf("sealed object public part: %w", err)
	}
	inPriv, err := tpm2.Unmarshal[tpm2.TPM2BPrivate](private)
	if err != nil {
		return nil, fmt.Errorf("sealed object private part: %w", err)
	}
	parent, flush, err := srk(tpm)
	if err != nil {
		return nil, err
	}
	defer flush()
	obj, err := tpm2.Load{
		ParentHandle: tpm2.AuthHandle{Handle: parent.ObjectHandle, Name: parent.Name, Auth: tpm2.PasswordAuth(nil)},
		InPrivate:    *inPriv,
		InPublic:     *inPub,
	}.Execute(tpm)
	if err != nil {
		return nil, fmt.Errorf("loading the sealed object: %w", err)
	}
	defer tpm2.FlushContext{FlushHandle: obj.ObjectHandle}.Execute(tpm)
	keyPub, err := pcrsig.PolicyKeyPublic(pub)
	if err != nil {
		return nil, err
	}
	key, err := tpm2.LoadExternal{InPublic: tpm2.New2B(*keyPub), Hierarchy: tpm2.TPMRHOwner}.Execute(tpm)
	if err != nil {
		return nil, fmt.Errorf("LoadExternal(PCR public key): %w", err)
	}
	defer tpm2.FlushContext{FlushHandle: key.ObjectHandle}.Execute(tpm)

	sess, closeSess, err := tpm2.PolicySession(tpm, tpm2.TPMAlgSHA256, 16)
	if err != nil {
		return nil, fmt.Errorf("StartAuthSession: %w", err)
	}
	defer closeSess()
	sel := tpm2.TPMLPCRSelection{PCRSelections: []tpm2.TPMSPCRSelection{
		{Hash: tpm2.TPMIAlgHash(bank.AlgID), PCRSelect: tpm2.PCClientCompatible.PCRs(uint(pcrsig.SignedPCR))},
	}}
	if _, err := (tpm2.PolicyPCR{PolicySession: sess.Handle(), Pcrs: sel}).Execute(tpm); err != nil {
		return nil, fmt.Errorf("PolicyPCR: %w", err)
	}
	dg, err := tpm2.PolicyGetDigest{PolicySession: sess.Handle()}.Execute(tpm)
	if err != nil {
		return nil, fmt.Errorf("PolicyGetDigest: %w", err)
	}
	approved := dg.PolicyDigest.Buffer
	sig, err := findSignature(doc, bank, hex.EncodeToString(fpb), approved, ref)
	if err != nil {
		return nil, err
	}
	digest := sha256.Sum256(pcrsig.PolicyToBeSigned(approved, ref))
	ver, err := tpm2.VerifySignature{
		KeyHandle: key.ObjectHandle,
		Digest:    tpm2.TPM2BDigest{Buffer: digest[:]},
		Signature: tpm2.TPMTSignature{
			SigAlg: tpm2.TPMAlgRSASSA,
			Signature: tpm2.NewTPMUSignature(tpm2.TPMAlgRSASSA, &tpm2.TPMSSignatureRSA{
				Hash: tpm2.TPMAlgSHA256,
				Sig:  tpm2.TPM2BPublicKeyRSA{Buffer: sig},
			}),
		},
	}.Execute(tpm)
	if err != nil {
		return nil, fmt.Errorf("VerifySignature: %w", err)
	}
	if _, err := (tpm2.PolicyAuthorize{
		PolicySession:  sess.Handle(),
		ApprovedPolicy: tpm2.TPM2BDigest{Buffer: approved},
		PolicyRef:      tpm2.TPM2BDigest{Buffer: pcrsig.PolicyRefDigest(ref)},
		KeySign:        key.Name,
		CheckTicket:    ver.Validation,
	}).Execute(tpm); err != nil {
		return nil, fmt.Errorf("PolicyAuthorize: %w", err)
	}
	rsp, err := tpm2.Unseal{ItemHandle: tpm2.AuthHandle{Handle: obj.ObjectHandle, Name: obj.Name, Auth: sess}}.Execute(tpm)
	if err != nil {
		return nil, fmt.Errorf("Unseal: %w", err)
	}
	return rsp.OutData.Buffer, nil
}
