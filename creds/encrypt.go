package creds

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"io"
	"time"
)

// DefaultTarget is the systemd version Encrypt writes for by default.
const DefaultTarget = 262

// Options describe a credential to encrypt.
type Options struct {
	// Name is the credential's name, embedded in the encrypted part and
	// compared by systemd with the name it loads the credential under
	// (the file name without ".cred" for /.extra/credentials/NAME.cred,
	// the file name for systemd-creds decrypt). Empty embeds no name.
	Name string
	// Key selects the key type.
	Key KeyType
	// HostKey is the target's host key file (KeyHost, KeyHostTPM2).
	HostKey *HostKey
	// Parent is the TPM key the secret is sealed to (KeyTPM2,
	// KeyHostTPM2): the SRK for TargetSystemd 262 and later, systemd's legacy
	// primary for 255-261.
	Parent *Parent
	// PCRPublicKey is a PEM RSA public key: the credential is then only
	// unsealed under a PCR policy signed by its private key (a UKI's
	// .pcrsig, systemd-creds decrypt --tpm2-signature=).
	PCRPublicKey []byte
	// PCRPublicKeyPCRs are the PCRs the signed policies cover (recorded in
	// the credential; default PCR 11).
	PCRPublicKeyPCRs []uint32
	// PCRs are literal SHA-256 PCR values the secret is bound to.
	PCRs []PCRValue
	// Timestamp is recorded as the credential's creation time; the zero
	// time records none.
	Timestamp time.Time
	// NotAfter is when the credential expires; the zero time means never.
	NotAfter time.Time
	// TargetSystemd is the systemd version that will decrypt the
	// credential (default DefaultTarget): 262 and later seal to the pinned
	// SRK, 255-261 to systemd's legacy primary, and 252-254 take only the
	// null and host keys.
	TargetSystemd int
	// Rand is the source of the IV, the TPM secret and the duplication's
	// randomness (crypto/rand.Reader if nil).
	Rand io.Reader
}

func randOrDefault(r io.Reader) io.Reader {
	if r == nil {
		return rand.Reader
	}
	return r
}

func usec(t time.Time) uint64 {
	if t.IsZero() {
		return infinity
	}
	if t.Before(time.Unix(0, 0)) {
		return 0
	}
	return uint64(t.UnixMicro())
}

// check validates the options against each other and the target.
func (o *Options) check() error {
	if o.Name != "" {
		if err := ValidName(o.Name); err != nil {
			return err
		}
	}
	target := o.TargetSystemd
	if target == 0 {
		target = DefaultTarget
	}
	if target < 250 {
		return &UnsupportedError{Reason: fmt.Sprintf("systemd %d has no encrypted credentials (250 and later)", target)}
	}
	if !o.NotAfter.IsZero() && !o.Timestamp.IsZero() && usec(o.NotAfter) <= usec(o.Timestamp) {
		return &InputError{Field: "not-after", Reason: fmt.Sprintf("%s is not after the timestamp %s",
			o.NotAfter.UTC().Format(time.RFC3339Nano), o.Timestamp.UTC().Format(time.RFC3339Nano))}
	}
	switch o.Key {
	case KeyNull, KeyHost, KeyTPM2, KeyHostTPM2:
	default:
		return &InputError{Field: "key type", Reason: "none selected (null, host, tpm2 or host+tpm2)"}
	}
	if o.Key.usesHost() && (o.HostKey == nil || len(o.HostKey.Secret) == 0) {
		return &InputError{Field: "host key", Reason: fmt.Sprintf("key type %s needs the target's host key file", o.Key)}
	}
	if !o.Key.usesHost() && o.HostKey != nil {
		return &InputError{Field: "host key", Reason: fmt.Sprintf("given, but key type %s does not use it", o.Key)}
	}
	if !o.Key.usesTPM() {
		if o.Parent != nil || o.PCRPublicKey != nil || len(o.PCRs) > 0 || len(o.PCRPublicKeyPCRs) > 0 {
			return &InputError{Field: "TPM options", Reason: fmt.Sprintf("given, but key type %s does not use the TPM", o.Key)}
		}
		return nil
	}
	// systemd 254's tpm2-util.c has no Esys_Import (255 added it).
	if target < 255 {
		return &UnsupportedError{Reason: fmt.Sprintf("systemd %d cannot import a TPM-sealed secret made offline (TPM2_Import is used from 255 on): use --with-key=host or null for it", target)}
	}
	if o.Parent == nil {
		return &InputError{Field: "storage key", Reason: fmt.Sprintf("key type %s needs the target TPM's storage key (TPM2B_PUBLIC)", o.Key)}
	}
	if target < 262 && !o.Parent.LegacyPrimary() {
		return &SRKError{Reason: fmt.Sprintf("systemd %d seals to its transient legacy primary key, and this key does not have that template's attributes (restricted|decrypt|fixedtpm|fixedparent|sensitivedataorigin|userwithauth, no noda): give the legacy primary's public (see docs/credentials.md), not the SRK's", target)}
	}
	if len(o.PCRPublicKeyPCRs) > 0 && o.PCRPublicKey == nil {
		return &InputError{Field: "public key PCRs", Reason: "given without a PCR public key"}
	}
	for _, i := range o.PCRPublicKeyPCRs {
		if i >= 24 {
			return &InputError{Field: "public key PCRs", Reason: fmt.Sprintf("PCR %d out of range (0-23)", i)}
		}
	}
	seen := map[uint32]bool{}
	for _, v := range o.PCRs {
		switch {
		case v.Index >= 24:
			return &InputError{Field: "PCRs", Reason: fmt.Sprintf("PCR %d out of range (0-23)", v.Index)}
		case seen[v.Index]:
			return &InputError{Field: "PCRs", Reason: fmt.Sprintf("PCR %d given twice", v.Index)}
		case len(v.Value) != sha256.Size:
			return &InputError{Field: "PCRs", Reason: fmt.Sprintf("PCR %d value has %d bytes, want %d (sha256)", v.Index, len(v.Value), sha256.Size)}
		}
		seen[v.Index] = true
	}
	return nil
}

// Encrypt reads the payload from r (at most MaxPayload bytes) and writes the
// credential to w, in systemd-creds' output format (base64, 79-column
// lines). Nothing is written to w if the options or the payload are refused.
func Encrypt(w io.Writer, r io.Reader, o *Options) error {
	if err := o.check(); err != nil {
		return err
	}
	payload, err := io.ReadAll(io.LimitReader(r, MaxPayload+1))
	if err != nil {
		return fmt.Errorf("reading the payload: %w", err)
	}
	if len(payload) > MaxPayload {
		return ErrTooLarge
	}
	data, err := encrypt(payload, o)
	if err != nil {
		return err
	}
	return encodeBase64(w, data)
}

func encrypt(payload []byte, o *Options) ([]byte, error) {
	rnd := randOrDefault(o.Rand)
	target := o.TargetSystemd
	if target == 0 {
		target = DefaultTarget
	}
	pinned := o.Key.usesTPM() && target >= 262
	h := &header{id: findID(o.Key, o.Key.usesTPM() && o.PCRPublicKey != nil, pinned), iv: make([]byte, ivSize)}
	if _, err := io.ReadFull(rnd, h.iv); err != nil {
		return nil, fmt.Errorf("reading random bytes: %w", err)
	}
	key := sha256.New()
	if o.Key.usesHost() {
		key.Write(o.HostKey.Secret)
	}
	if o.Key.usesTPM() {
		var pcrKey *rsa.PublicKey
		if o.PCRPublicKey != nil {
			k, err := parsePCRPublicKey(o.PCRPublicKey)
			if err != nil {
				return nil, err
			}
			pcrKey = k
		}
		policy, err := sealingPolicy(pcrKey, o.PCRs)
		if err != nil {
			return nil, err
		}
		secret, blob, err := seal(rnd, o.Parent, policy)
		if err != nil {
			return nil, err
		}
		key.Write(secret)
		for _, v := range o.PCRs {
			h.pcrMask |= 1 << v.Index
		}
		h.pcrBank = algSHA256
		h.primaryAlg = uint16(o.Parent.public.Type)
		h.blob = blob
		h.policyHash = policy
		if pcrKey != nil {
			h.publicKey = o.PCRPublicKey
			if len(o.PCRPublicKeyPCRs) == 0 {
				h.pkPCRMask = 1 << 11
			}
			for _, i := range o.PCRPublicKeyPCRs {
				h.pkPCRMask |= 1 << i
			}
		}
		if pinned {
			h.srk = o.Parent.serializeSRK()
		}
	}
	aad := h.marshal()
	block, err := aes.NewCipher(key.Sum(nil))
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	m := metadata{timestamp: usec(o.Timestamp), notAfter: usec(o.NotAfter), name: o.Name}
	plain := append(m.marshal(), payload...)
	return gcm.Seal(aad, h.iv, plain, aad), nil
}
