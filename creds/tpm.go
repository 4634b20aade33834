package creds

import (
	"bytes"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/google/go-tpm/tpm2"

	"github.com/ukibuild/ukibuild/pcrsig"
)

// SRKHandle is the persistent handle of the storage root key systemd
// (262 and later) seals credentials to (TPM2_SRK_HANDLE in tpm2-util.h).
const SRKHandle = 0x81000001

// PCRValue is a literal PCR value a TPM-bound credential is bound to
// (TPM2_PolicyPCR), in the SHA-256 bank.
type PCRValue struct {
	Index uint32
	Value []byte // 32 bytes
}

// ParsePCRValues reads literal PCR values in systemd-creds' --tpm2-pcrs
// syntax, "N:sha256=HEX" separated by "+" or ",": an offline tool cannot
// read the target's PCRs, so every PCR needs its SHA-256 value.
func ParsePCRValues(s string) ([]PCRValue, error) {
	var out []PCRValue
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == '+' || r == ',' }) {
		idx, val, ok := strings.Cut(f, ":")
		n, err := strconv.ParseUint(idx, 10, 32)
		if err != nil || n > 23 {
			return nil, &InputError{Field: "PCR values", Reason: fmt.Sprintf("%q is not a PCR index (0-23)", idx)}
		}
		if !ok {
			return nil, &InputError{Field: "PCR values", Reason: fmt.Sprintf("PCR %d needs its value (%d:sha256=HEX): the target's PCRs cannot be read offline", n, n)}
		}
		hexv, ok := strings.CutPrefix(strings.ToLower(val), "sha256=")
		if !ok {
			return nil, &InputError{Field: "PCR values", Reason: fmt.Sprintf("PCR %d: only the sha256 bank is supported (%d:sha256=HEX)", n, n)}
		}
		b, err := hex.DecodeString(hexv)
		if err != nil || len(b) != 32 {
			return nil, &InputError{Field: "PCR values", Reason: fmt.Sprintf("PCR %d: %q is not 64 hexadecimal digits", n, hexv)}
		}
		out = append(out, PCRValue{Index: uint32(n), Value: b})
	}
	return out, nil
}

// Parent is the public part of the TPM key a credential's sealed object is
// duplicated to: the target machine's SRK (262 and later) or systemd's
// legacy primary key (255-261).
type Parent struct {
	public *tpm2.TPMTPublic
	raw    []byte // the TPM2B_PUBLIC as given
	name   []byte
}

// ParseParent parses a TPM2B_PUBLIC (as written by systemd-analyze srk,
// /run/systemd/tpm2-srk-public-key.tpm2b_public or tpm2_readpublic -f tss)
// and checks that it can be the parent of a credential: a restricted
// decryption (storage) key, ECC NIST P-256 or RSA 2048, with a SHA-256 name
// and AES-128-CFB as systemd's templates have.
func ParseParent(tpm2bPublic []byte) (p *Parent, err error) {
	defer func() {
		// go-tpm's reflection-based unmarshalling is not meant for
		// hostile input; turn any panic into an error.
		if r := recover(); r != nil {
			p, err = nil, &SRKError{Reason: fmt.Sprintf("not a TPM2B_PUBLIC (%v)", r)}
		}
	}()
	if len(tpm2bPublic) < 2 || int(binary.BigEndian.Uint16(tpm2bPublic))+2 != len(tpm2bPublic) {
		return nil, &SRKError{Reason: fmt.Sprintf("not a TPM2B_PUBLIC: %d bytes, size field says otherwise", len(tpm2bPublic))}
	}
	b2, err := tpm2.Unmarshal[tpm2.TPM2BPublic](tpm2bPublic)
	if err != nil {
		return nil, &SRKError{Reason: fmt.Sprintf("not a TPM2B_PUBLIC: %v", err)}
	}
	pub, err := b2.Contents()
	if err != nil {
		return nil, &SRKError{Reason: fmt.Sprintf("not a TPM2B_PUBLIC: %v", err)}
	}
	if !bytes.Equal(tpm2.Marshal(tpm2.New2B(*pub)), tpm2bPublic) {
		return nil, &SRKError{Reason: "not a TPM2B_PUBLIC: trailing or non-canonical bytes"}
	}
	a := pub.ObjectAttributes
	if !a.Restricted || !a.Decrypt || a.SignEncrypt {
		return nil, &SRKError{Reason: fmt.Sprintf("not a restricted decryption (storage) key (restricted=%t decrypt=%t sign=%t)", a.Restricted, a.Decrypt, a.SignEncrypt)}
	}
	if pub.NameAlg != tpm2.TPMAlgSHA256 {
		return nil, &SRKError{Reason: fmt.Sprintf("name algorithm %#04x, want SHA-256", uint16(pub.NameAlg))}
	}
	var sym *tpm2.TPMTSymDefObject
	switch pub.Type {
	case tpm2.TPMAlgECC:
		d, err := pub.Parameters.ECCDetail()
		if err != nil {
			return nil, &SRKError{Reason: err.Error()}
		}
		if d.CurveID != tpm2.TPMECCNistP256 {
			return nil, &SRKError{Reason: fmt.Sprintf("ECC curve %#04x, want NIST P-256", uint16(d.CurveID))}
		}
		sym = &d.Symmetric
	case tpm2.TPMAlgRSA:
		d, err := pub.Parameters.RSADetail()
		if err != nil {
			return nil, &SRKError{Reason: err.Error()}
		}
		u, err := pub.Unique.RSA()
		if err != nil {
			return nil, &SRKError{Reason: err.Error()}
		}
		if d.KeyBits != 2048 || len(u.Buffer) != 256 {
			return nil, &SRKError{Reason: fmt.Sprintf("RSA key of %d bits (modulus %d bytes), want 2048 bits as systemd's SRK template", d.KeyBits, len(u.Buffer))}
		}
		sym = &d.Symmetric
	default:
		return nil, &SRKError{Reason: fmt.Sprintf("key type %#04x, want ECC or RSA", uint16(pub.Type))}
	}
	if sym.Algorithm != tpm2.TPMAlgAES {
		return nil, &SRKError{Reason: "no AES symmetric algorithm (not a storage key)"}
	}
	name, err := tpm2.ObjectName(pub)
	if err != nil {
		return nil, &SRKError{Reason: err.Error()}
	}
	if _, err := tpm2.ImportEncapsulationKey(pub); err != nil {
		return nil, &SRKError{Reason: fmt.Sprintf("unusable public key: %v", err)}
	}
	return &Parent{public: pub, raw: append([]byte(nil), tpm2bPublic...), name: name.Buffer}, nil
}

// Name returns the parent's TPM name (nameAlg || digest of its TPMT_PUBLIC).
func (p *Parent) Name() []byte { return append([]byte(nil), p.name...) }

// Algorithm returns "ecc" or "rsa".
func (p *Parent) Algorithm() string { return algName(uint16(p.public.Type)) }

func algName(a uint16) string {
	switch a {
	case algECC:
		return "ecc"
	case algRSA:
		return "rsa"
	}
	return fmt.Sprintf("%#04x", a)
}

// LegacyPrimary reports whether p has the attributes of systemd's legacy
// primary template (tpm2_get_legacy_template() in tpm2-util.c): the SRK
// template's without noDA. Such a key is the parent for targets 255-261,
// and most likely the wrong key for 262 and later.
func (p *Parent) LegacyPrimary() bool {
	a := p.public.ObjectAttributes
	return a.Restricted && a.Decrypt && a.FixedTPM && a.FixedParent && a.SensitiveDataOrigin && a.UserWithAuth &&
		!a.NoDA && !a.AdminWithPolicy && len(p.public.AuthPolicy.Buffer) == 0
}

// serializeSRK returns the parent as Esys_TR_Serialize() writes a persistent
// key's ESYS_TR (tpm2-tss's iesys_MU_IESYS_RESOURCE: BE32 handle,
// TPM2B_NAME, BE32 resource type 1 = key, TPM2B_PUBLIC), which systemd 262
// pins in the credential. Written by hand: go-tpm has no ESAPI.
func (p *Parent) serializeSRK() []byte {
	be := binary.BigEndian
	b := be.AppendUint32(nil, SRKHandle)
	b = be.AppendUint16(b, uint16(len(p.name)))
	b = append(b, p.name...)
	b = be.AppendUint32(b, 1)
	return append(b, p.raw...)
}

// parsePCRPublicKey reads a PEM RSA public key (the public half of the key
// a UKI's .pcrsig is signed with).
func parsePCRPublicKey(pemData []byte) (*rsa.PublicKey, error) {
	blk, _ := pem.Decode(pemData)
	if blk == nil {
		return nil, &InputError{Field: "PCR public key", Reason: "no PEM block"}
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, &InputError{Field: "PCR public key", Reason: err.Error()}
	}
	rk, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, &InputError{Field: "PCR public key", Reason: fmt.Sprintf("a %T, only RSA keys are supported", k)}
	}
	return rk, nil
}

// sealingPolicy computes the policy digest systemd's
// tpm2_calculate_sealing_policy() computes: PolicyAuthorize by the PCR
// public key's name (empty policy reference) if there is one, then
// PolicyPCR over the literal PCR values (SHA-256 bank) if any.
func sealingPolicy(pcrKey *rsa.PublicKey, pcrs []PCRValue) ([]byte, error) {
	calc, err := tpm2.NewPolicyCalculator(tpm2.TPMAlgSHA256)
	if err != nil {
		return nil, err
	}
	if pcrKey != nil {
		name, err := pcrsig.PolicyPublicKeyName(pcrKey)
		if err != nil {
			return nil, &InputError{Field: "PCR public key", Reason: err.Error()}
		}
		if err := (tpm2.PolicyAuthorize{KeySign: tpm2.TPM2BName{Buffer: name}}).Update(calc); err != nil {
			return nil, err
		}
	}
	if len(pcrs) > 0 {
		// The PCR digest is the hash of the selected values in the
		// order of the selection bitmap (ascending index).
		sorted := append([]PCRValue(nil), pcrs...)
		sort.Slice(sorted, func(i, j int) bool { return sorted[i].Index < sorted[j].Index })
		sel := make([]byte, 3)
		h := sha256.New()
		for _, v := range sorted {
			sel[v.Index/8] |= 1 << (v.Index % 8)
			h.Write(v.Value)
		}
		cmd := tpm2.PolicyPCR{
			PcrDigest: tpm2.TPM2BDigest{Buffer: h.Sum(nil)},
			Pcrs: tpm2.TPMLPCRSelection{PCRSelections: []tpm2.TPMSPCRSelection{{
				Hash: tpm2.TPMAlgSHA256, PCRSelect: sel,
			}}},
		}
		if err := cmd.Update(calc); err != nil {
			return nil, err
		}
	}
	return calc.Hash().Digest, nil
}

// seal makes the TPM part of a credential: a random 32-byte secret in a
// KEYEDHASH object with the given policy, duplicated to parent (outer
// wrapper only, so that the target TPM imports it with TPM2_Import). It
// returns the secret and systemd's blob: TPM2B_PRIVATE || TPM2B_PUBLIC ||
// TPM2B_ENCRYPTED_SECRET (tpm2_marshal_blob() in tpm2-util.c; the third part
// makes systemd import the object before loading it).
func seal(rnd io.Reader, parent *Parent, policy []byte) (secret, blob []byte, err error) {
	secret = make([]byte, 32)
	seedValue := make([]byte, 32)
	if _, err := io.ReadFull(rnd, secret); err != nil {
		return nil, nil, fmt.Errorf("reading random bytes: %w", err)
	}
	if _, err := io.ReadFull(rnd, seedValue); err != nil {
		return nil, nil, fmt.Errorf("reading random bytes: %w", err)
	}
	unique := sha256.New()
	unique.Write(seedValue)
	unique.Write(secret)
	// systemd's sealed-object template (tpm2_seal()): KEYEDHASH, SHA-256,
	// noDA, no userWithAuth (only the policy unseals it), null scheme.
	// fixedTPM and fixedParent stay clear: TPM2_Import refuses them.
	pub := tpm2.TPMTPublic{
		Type:             tpm2.TPMAlgKeyedHash,
		NameAlg:          tpm2.TPMAlgSHA256,
		ObjectAttributes: tpm2.TPMAObject{NoDA: true},
		AuthPolicy:       tpm2.TPM2BDigest{Buffer: policy},
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgKeyedHash, &tpm2.TPMSKeyedHashParms{
			Scheme: tpm2.TPMTKeyedHashScheme{Scheme: tpm2.TPMAlgNull},
		}),
		Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgKeyedHash, &tpm2.TPM2BDigest{Buffer: unique.Sum(nil)}),
	}
	sens := tpm2.TPMTSensitive{
		SensitiveType: tpm2.TPMAlgKeyedHash,
		SeedValue:     tpm2.TPM2BDigest{Buffer: seedValue},
		Sensitive:     tpm2.NewTPMUSensitiveComposite(tpm2.TPMAlgKeyedHash, &tpm2.TPM2BSensitiveData{Buffer: secret}),
	}
	name, err := tpm2.ObjectName(&pub)
	if err != nil {
		return nil, nil, err
	}
	ek, err := tpm2.ImportEncapsulationKey(parent.public)
	if err != nil {
		return nil, nil, &SRKError{Reason: err.Error()}
	}
	dup, encSeed, err := tpm2.CreateDuplicate(rnd, ek, name.Buffer, tpm2.Marshal(sens))
	if err != nil {
		return nil, nil, fmt.Errorf("duplicating the sealed object to the storage key: %w", err)
	}
	blob = tpm2.Marshal(tpm2.TPM2BPrivate{Buffer: dup})
	blob = append(blob, tpm2.Marshal(tpm2.New2B(pub))...)
	blob = append(blob, tpm2.Marshal(tpm2.TPM2BEncryptedSecret{Buffer: encSeed})...)
	return secret, blob, nil
}
