package creds

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
	"github.com/google/go-tpm/tpm2/transport/linuxtpm"
	"github.com/google/go-tpm/tpm2/transport/linuxudstpm"

	"github.com/ukibuild/ukibuild/pcrsig"
)

// ErrWrongTPM means the credential was sealed to another TPM (its pinned
// SRK is not this TPM's, or the TPM refuses to import its sealed object).
var ErrWrongTPM = errors.New("the credential was sealed to another TPM")

// ErrNoSignature means the signed PCR policy JSON has no signature for the
// TPM's current PCR values.
var ErrNoSignature = errors.New("no signed PCR policy matches the current PCR values")

// ErrPolicy means the TPM refused to unseal: the PCR values differ from the
// ones the credential is bound to.
var ErrPolicy = errors.New("the TPM refused to unseal the credential: PCR values do not match its policy")

// legacyTemplate is systemd's transient primary key template of 255-261
// credentials (tpm2_get_legacy_template() in tpm2-util.c).
func legacyTemplate(alg uint16) tpm2.TPMTPublic {
	attrs := tpm2.TPMAObject{Restricted: true, Decrypt: true, FixedTPM: true, FixedParent: true,
		SensitiveDataOrigin: true, UserWithAuth: true}
	sym := tpm2.TPMTSymDefObject{
		Algorithm: tpm2.TPMAlgAES,
		KeyBits:   tpm2.NewTPMUSymKeyBits(tpm2.TPMAlgAES, tpm2.TPMKeyBits(128)),
		Mode:      tpm2.NewTPMUSymMode(tpm2.TPMAlgAES, tpm2.TPMAlgCFB),
	}
	if alg == algRSA {
		return tpm2.TPMTPublic{Type: tpm2.TPMAlgRSA, NameAlg: tpm2.TPMAlgSHA256, ObjectAttributes: attrs,
			Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgRSA, &tpm2.TPMSRSAParms{
				Symmetric: sym, Scheme: tpm2.TPMTRSAScheme{Scheme: tpm2.TPMAlgNull}, KeyBits: 2048}),
			Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{})}
	}
	return tpm2.TPMTPublic{Type: tpm2.TPMAlgECC, NameAlg: tpm2.TPMAlgSHA256, ObjectAttributes: attrs,
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
			Symmetric: sym, Scheme: tpm2.TPMTECCScheme{Scheme: tpm2.TPMAlgNull},
			CurveID: tpm2.TPMECCNistP256, KDF: tpm2.TPMTKDFScheme{Scheme: tpm2.TPMAlgNull}}),
		Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{})}
}

// LegacyPrimaryTemplate returns the TPM2B_PUBLIC template of systemd's
// legacy primary key (ECC NIST P-256), the parent of 255-261 TPM-bound
// credentials: create the primary from it on the target (for example with
// go-tpm's CreatePrimary, or tpm2_createprimary -C o -g sha256 -G
// ecc256:null:aes128cfb -a 'restricted|decrypt|fixedtpm|fixedparent|
// sensitivedataorigin|userwithauth') and hand its public part to Encrypt.
func LegacyPrimaryTemplate() []byte { return tpm2.Marshal(tpm2.New2B(legacyTemplate(algECC))) }

func maskSelection(mask uint64, bank uint16) tpm2.TPMLPCRSelection {
	sel := make([]byte, 3)
	for i := uint(0); i < 24; i++ {
		if mask&(1<<i) != 0 {
			sel[i/8] |= 1 << (i % 8)
		}
	}
	return tpm2.TPMLPCRSelection{PCRSelections: []tpm2.TPMSPCRSelection{{Hash: tpm2.TPMIAlgHash(bank), PCRSelect: sel}}}
}

// unseal recovers the TPM secret of a credential.
func unseal(tpm transport.TPM, h *header, signature []byte) ([]byte, error) {
	bl, err := parseBlob(h.blob)
	if err != nil {
		return nil, err
	}
	var parent tpm2.AuthHandle
	var parentPub *tpm2.TPMTPublic
	if h.id.pinnedSRK {
		s, err := parseSerializedSRK(h.srk)
		if err != nil {
			return nil, err
		}
		rp, err := tpm2.ReadPublic{ObjectHandle: tpm2.TPMHandle(s.handle)}.Execute(tpm)
		if err != nil {
			return nil, fmt.Errorf("%w: reading its SRK at %#x: %v", ErrWrongTPM, s.handle, err)
		}
		if !bytes.Equal(rp.Name.Buffer, s.name) {
			return nil, fmt.Errorf("%w: the SRK at %#x has another name", ErrWrongTPM, s.handle)
		}
		parent = tpm2.AuthHandle{Handle: tpm2.TPMHandle(s.handle), Name: rp.Name, Auth: tpm2.PasswordAuth(nil)}
		if parentPub, err = rp.OutPublic.Contents(); err != nil {
			return nil, err
		}
	} else {
		rsp, err := tpm2.CreatePrimary{PrimaryHandle: tpm2.TPMRHOwner, InPublic: tpm2.New2B(legacyTemplate(h.primaryAlg))}.Execute(tpm)
		if err != nil {
			return nil, fmt.Errorf("creating systemd's legacy primary key: %w", err)
		}
		defer tpm2.FlushContext{FlushHandle: rsp.ObjectHandle}.Execute(tpm) //nolint:errcheck
		parent = tpm2.AuthHandle{Handle: rsp.ObjectHandle, Name: rsp.Name, Auth: tpm2.PasswordAuth(nil)}
		if parentPub, err = rsp.OutPublic.Contents(); err != nil {
			return nil, err
		}
	}
	private := bl.private
	if len(bl.seed) > 0 {
		imp, err := tpm2.Import{
			ParentHandle: parent,
			ObjectPublic: bl.public,
			Duplicate:    bl.private,
			InSymSeed:    tpm2.TPM2BEncryptedSecret{Buffer: bl.seed},
			Symmetric:    tpm2.TPMTSymDef{Algorithm: tpm2.TPMAlgNull},
		}.Execute(tpm)
		if err != nil {
			return nil, fmt.Errorf("%w: TPM2_Import: %v", ErrWrongTPM, err)
		}
		private = imp.OutPrivate
	}
	obj, err := tpm2.Load{ParentHandle: parent, InPrivate: private, InPublic: bl.public}.Execute(tpm)
	if err != nil {
		return nil, fmt.Errorf("%w: loading the sealed object: %v", ErrWrongTPM, err)
	}
	defer tpm2.FlushContext{FlushHandle: obj.ObjectHandle}.Execute(tpm) //nolint:errcheck

	// The session is salted to the parent (whose name was checked above)
	// and encrypts the response, so that the secret does not cross the
	// bus in clear, as systemd's encryption session does.
	sess, closeSess, err := tpm2.PolicySession(tpm, tpm2.TPMAlgSHA256, 16,
		tpm2.Salted(parent.Handle, *parentPub), tpm2.AESEncryption(128, tpm2.EncryptOut))
	if err != nil {
		return nil, fmt.Errorf("starting a policy session: %w", err)
	}
	defer closeSess() //nolint:errcheck
	if h.id.publicKey {
		if err := policyAuthorize(tpm, sess, h, signature); err != nil {
			return nil, err
		}
	}
	if h.pcrMask != 0 {
		if _, err := (tpm2.PolicyPCR{PolicySession: sess.Handle(), Pcrs: maskSelection(h.pcrMask, h.pcrBank)}).Execute(tpm); err != nil {
			return nil, fmt.Errorf("PolicyPCR: %w", err)
		}
	}
	dg, err := tpm2.PolicyGetDigest{PolicySession: sess.Handle()}.Execute(tpm)
	if err != nil {
		return nil, fmt.Errorf("PolicyGetDigest: %w", err)
	}
	if len(h.policyHash) > 0 && !bytes.Equal(dg.PolicyDigest.Buffer, h.policyHash) {
		return nil, ErrPolicy
	}
	rsp, err := tpm2.Unseal{ItemHandle: tpm2.AuthHandle{Handle: obj.ObjectHandle, Name: obj.Name, Auth: sess}}.Execute(tpm)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPolicy, err)
	}
	return rsp.OutData.Buffer, nil
}

// signatureEntry is one entry of a signed PCR policy JSON (.pcrsig).
type signatureEntry struct {
	PCRs []uint32 `json:"pcrs"`
	PKFP string   `json:"pkfp"`
	Pol  string   `json:"pol"`
	Sig  string   `json:"sig"`
}

// policyAuthorize runs PolicyPCR over the public key's PCRs, finds the
// signature of the resulting digest (systemd's find_signature()), verifies
// it in the TPM and runs PolicyAuthorize.
func policyAuthorize(tpm transport.TPM, sess tpm2.Session, h *header, signature []byte) error {
	if len(signature) == 0 {
		return &InputError{Field: "PCR signature", Reason: "the credential is bound to a PCR public key: a signed PCR policy (.pcrsig JSON) is needed"}
	}
	pub, err := parsePCRPublicKey(h.publicKey)
	if err != nil {
		return &FormatError{Reason: err.Error()}
	}
	var doc map[string][]signatureEntry
	if err := json.Unmarshal(signature, &doc); err != nil {
		return &InputError{Field: "PCR signature", Reason: "not a signed PCR policy JSON: " + err.Error()}
	}
	if _, err := (tpm2.PolicyPCR{PolicySession: sess.Handle(), Pcrs: maskSelection(h.pkPCRMask, h.pcrBank)}).Execute(tpm); err != nil {
		return fmt.Errorf("PolicyPCR: %w", err)
	}
	dg, err := tpm2.PolicyGetDigest{PolicySession: sess.Handle()}.Execute(tpm)
	if err != nil {
		return fmt.Errorf("PolicyGetDigest: %w", err)
	}
	approved := dg.PolicyDigest.Buffer
	fp, err := pcrsig.PublicKeyFingerprint(pub)
	if err != nil {
		return err
	}
	var want []uint32
	for i := uint32(0); i < 24; i++ {
		if h.pkPCRMask&(1<<i) != 0 {
			want = append(want, i)
		}
	}
	var sig []byte
	for _, e := range doc[bankName(h.pcrBank)] {
		got := append([]uint32(nil), e.PCRs...)
		sort.Slice(got, func(i, j int) bool { return got[i] < got[j] })
		if fmt.Sprint(got) != fmt.Sprint(want) || e.PKFP != hex.EncodeToString(fp) || e.Pol != hex.EncodeToString(approved) {
			continue
		}
		if sig, err = base64.StdEncoding.DecodeString(e.Sig); err != nil {
			return &InputError{Field: "PCR signature", Reason: "signature is not base64"}
		}
		break
	}
	if sig == nil {
		return ErrNoSignature
	}
	keyPub, err := pcrsig.PolicyKeyPublic(pub)
	if err != nil {
		return err
	}
	key, err := tpm2.LoadExternal{InPublic: tpm2.New2B(*keyPub), Hierarchy: tpm2.TPMRHOwner}.Execute(tpm)
	if err != nil {
		return fmt.Errorf("loading the PCR public key: %w", err)
	}
	defer tpm2.FlushContext{FlushHandle: key.ObjectHandle}.Execute(tpm) //nolint:errcheck
	digest := sha256.Sum256(approved)
	ver, err := tpm2.VerifySignature{
		KeyHandle: key.ObjectHandle,
		Digest:    tpm2.TPM2BDigest{Buffer: digest[:]},
		Signature: tpm2.TPMTSignature{
			SigAlg: tpm2.TPMAlgRSASSA,
			Signature: tpm2.NewTPMUSignature(tpm2.TPMAlgRSASSA, &tpm2.TPMSSignatureRSA{
				Hash: tpm2.TPMAlgSHA256, Sig: tpm2.TPM2BPublicKeyRSA{Buffer: sig},
			}),
		},
	}.Execute(tpm)
	if err != nil {
		return fmt.Errorf("%w: the TPM rejects the signature: %v", ErrNoSignature, err)
	}
	if _, err := (tpm2.PolicyAuthorize{
		PolicySession:  sess.Handle(),
		ApprovedPolicy: tpm2.TPM2BDigest{Buffer: approved},
		KeySign:        key.Name,
		CheckTicket:    ver.Validation,
	}).Execute(tpm); err != nil {
		return fmt.Errorf("PolicyAuthorize: %w", err)
	}
	return nil
}

// OpenTPM opens the TPM named as systemd's --tpm2-device= names it: a
// device path (/dev/tpmrm0) or "swtpm:path=SOCKET" for swtpm's server
// socket (swtpm socket --server type=unixio,path=SOCKET).
func OpenTPM(device string) (transport.TPMCloser, error) {
	if rest, ok := strings.CutPrefix(device, "swtpm:"); ok {
		path, ok := strings.CutPrefix(rest, "path=")
		if !ok || path == "" {
			return nil, &InputError{Field: "TPM device", Reason: fmt.Sprintf("%q: want swtpm:path=SOCKET", device)}
		}
		return linuxudstpm.Open(path)
	}
	if device == "" {
		device = "/dev/tpmrm0"
	}
	return linuxtpm.Open(device)
}
