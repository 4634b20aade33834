package creds

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// Info describes a credential. Inspect fills in what the unencrypted
// headers say; Decrypt (and Inspect for null-key credentials, whose key is
// public) also what the encrypted metadata says. It never holds a secret.
type Info struct {
	KeyType KeyType
	// KeyID is the key-type ID (a UUID from systemd's creds-util.h).
	KeyID string
	// PinnedSRK is set for the 262 key types, which embed the SRK.
	PinnedSRK bool
	// Scoped is set for per-user credentials.
	Scoped bool

	// TPM-bound credentials:
	PCRMask    uint64 // literal PCRs (PolicyPCR)
	PCRBank    string // "sha256" ...
	PrimaryAlg string // "ecc" or "rsa": the parent key's algorithm
	Policy     []byte // the sealed object's policy digest
	Imported   bool   // the sealed object is a duplicate systemd imports (made offline)
	// PublicKey is the PCR public key (PEM) of signed-policy credentials,
	// PublicKeyPCRMask the PCRs its policies cover.
	PublicKey        []byte
	PublicKeyPCRMask uint64
	// SRKHandle and SRKName identify the pinned SRK.
	SRKHandle uint32
	SRKName   []byte

	// From the encrypted metadata (Decrypted is set when known):
	Decrypted bool
	Name      string
	Timestamp time.Time // zero: none
	NotAfter  time.Time // zero: never
	Size      int       // payload bytes
}

func fromUsec(v uint64) time.Time {
	if v == infinity {
		return time.Time{}
	}
	return time.UnixMicro(int64(v)).UTC()
}

func (h *header) info() *Info {
	in := &Info{KeyType: h.id.key, KeyID: formatUUID(h.raw), PinnedSRK: h.id.pinnedSRK, Scoped: h.id.scoped}
	if h.id.key.usesTPM() {
		in.PCRMask = h.pcrMask
		in.PCRBank = bankName(h.pcrBank)
		in.PrimaryAlg = algName(h.primaryAlg)
		in.Policy = bytes.Clone(h.policyHash)
		if b, err := parseBlob(h.blob); err == nil {
			in.Imported = len(b.seed) > 0
		}
	}
	if h.id.publicKey {
		in.PublicKey = bytes.Clone(h.publicKey)
		in.PublicKeyPCRMask = h.pkPCRMask
	}
	if h.id.pinnedSRK {
		if s, err := parseSerializedSRK(h.srk); err == nil {
			in.SRKHandle = s.handle
			in.SRKName = s.name
		}
	}
	return in
}

// Inspect reads a credential's unencrypted headers. For null-key
// credentials it also decrypts the metadata (the key is public), so that
// Name, Timestamp and NotAfter are known.
func Inspect(r io.Reader) (*Info, error) { return InspectHostKey(r, nil) }

// InspectHostKey is Inspect that also decrypts the metadata of host-key
// credentials with hk (when hk is not nil). Neither checks the name or the
// not-after time; the payload is only counted.
func InspectHostKey(r io.Reader, hk *HostKey) (*Info, error) {
	data, err := readCredential(r)
	if err != nil {
		return nil, err
	}
	h, err := parseHeader(data)
	if err != nil {
		return nil, err
	}
	in := h.info()
	switch {
	case h.id.key == KeyNull:
		if _, err := open(data, h, nil, in); err != nil {
			return nil, err
		}
	case h.id.key == KeyHost && hk != nil && !h.id.scoped:
		k := sha256.Sum256(hk.Secret)
		if _, err := open(data, h, k[:], in); err != nil {
			return nil, err
		}
	}
	return in, nil
}

// DecryptOptions are what decryption may need.
type DecryptOptions struct {
	// Name is the name the credential is expected to embed (systemd uses
	// the file name); a credential embedding another name is refused with
	// *NameMismatchError. Empty accepts any name.
	Name string
	// HostKey is the machine's host key (host and host+tpm2 credentials).
	HostKey *HostKey
	// TPM unseals the TPM part (tpm2 and host+tpm2 credentials).
	TPM transport.TPM
	// Signature is the signed PCR policy JSON (a UKI's .pcrsig) for
	// credentials bound to a PCR public key.
	Signature []byte
	// Now is compared with the credential's not-after time (zero:
	// time.Now()).
	Now time.Time
}

// Decrypt reads a credential from r and writes its payload to w. Nothing is
// written unless the credential is authentic, its name matches and it has
// not expired. Null-key credentials are accepted (systemd refuses them on
// machines with a TPM2 under Secure Boot by default); check Info.KeyType
// where that matters.
func Decrypt(w io.Writer, r io.Reader, o *DecryptOptions) (*Info, error) {
	if o == nil {
		o = &DecryptOptions{}
	}
	data, err := readCredential(r)
	if err != nil {
		return nil, err
	}
	h, err := parseHeader(data)
	if err != nil {
		return nil, err
	}
	if h.id.scoped {
		return nil, &UnsupportedError{Reason: "per-user (scoped) credentials"}
	}
	in := h.info()
	key := sha256.New()
	if h.id.key.usesHost() {
		if o.HostKey == nil {
			return nil, &InputError{Field: "host key", Reason: fmt.Sprintf("a %s credential needs the machine's host key", h.id.key)}
		}
		key.Write(o.HostKey.Secret)
	}
	if h.id.key.usesTPM() {
		if o.TPM == nil {
			return nil, &InputError{Field: "TPM", Reason: fmt.Sprintf("a %s credential needs the TPM it was sealed to", h.id.key)}
		}
		secret, err := unseal(o.TPM, h, o.Signature)
		if err != nil {
			return nil, err
		}
		key.Write(secret)
	}
	payload, err := open(data, h, key.Sum(nil), in)
	if err != nil {
		return nil, err
	}
	if o.Name != "" && in.Name != "" && in.Name != o.Name {
		return nil, &NameMismatchError{Embedded: in.Name, Expected: o.Name}
	}
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	if !in.NotAfter.IsZero() && in.NotAfter.Before(now) {
		return nil, &ExpiredError{NotAfter: in.NotAfter, Now: now}
	}
	if _, err := w.Write(payload); err != nil {
		return nil, err
	}
	return in, nil
}

// open authenticates and decrypts data with key (nil: the null key) and
// fills in the metadata.
func open(data []byte, h *header, key []byte, in *Info) ([]byte, error) {
	if key == nil {
		k := sha256.Sum256(nil)
		key = k[:]
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	plain, err := gcm.Open(nil, h.iv, data[h.size:], data[:h.size])
	if err != nil {
		return nil, ErrAuthentication
	}
	m, payload, err := parseMetadata(plain)
	if err != nil {
		return nil, err
	}
	if len(payload) > MaxPayload {
		return nil, &FormatError{Reason: "payload larger than 1 MiB"}
	}
	in.Decrypted = true
	in.Name = m.name
	in.Timestamp = fromUsec(m.timestamp)
	in.NotAfter = fromUsec(m.notAfter)
	in.Size = len(payload)
	return payload, nil
}

type blob struct {
	private tpm2.TPM2BPrivate
	public  tpm2.TPM2BPublic
	seed    []byte
}

// tpm2b splits a big-endian size-prefixed buffer off b.
func tpm2b(b []byte) (v, rest []byte, ok bool) {
	if len(b) < 2 {
		return nil, nil, false
	}
	n := int(binary.BigEndian.Uint16(b))
	if len(b) < 2+n {
		return nil, nil, false
	}
	return b[2 : 2+n], b[2+n:], true
}

// parseBlob splits systemd's TPM blob: TPM2B_PRIVATE || TPM2B_PUBLIC
// [|| TPM2B_ENCRYPTED_SECRET] (tpm2_unmarshal_blob() in tpm2-util.c).
func parseBlob(b []byte) (bl *blob, err error) {
	defer func() {
		if r := recover(); r != nil {
			bl, err = nil, &FormatError{Reason: fmt.Sprintf("TPM2 blob: %v", r)}
		}
	}()
	priv, rest, ok := tpm2b(b)
	if !ok {
		return nil, &FormatError{Reason: "TPM2 blob: truncated private part"}
	}
	pubBytes, rest2, ok := tpm2b(rest)
	if !ok {
		return nil, &FormatError{Reason: "TPM2 blob: truncated public part"}
	}
	bl = &blob{private: tpm2.TPM2BPrivate{Buffer: bytes.Clone(priv)}}
	pub, err := tpm2.Unmarshal[tpm2.TPM2BPublic](rest[:2+len(pubBytes)])
	if err != nil {
		return nil, &FormatError{Reason: fmt.Sprintf("TPM2 blob: public part: %v", err)}
	}
	if _, err := pub.Contents(); err != nil {
		return nil, &FormatError{Reason: fmt.Sprintf("TPM2 blob: public part: %v", err)}
	}
	bl.public = *pub
	if len(rest2) > 0 {
		seed, rest3, ok := tpm2b(rest2)
		if !ok || len(rest3) != 0 {
			return nil, &FormatError{Reason: "TPM2 blob: bad seed part"}
		}
		bl.seed = bytes.Clone(seed)
	}
	return bl, nil
}

type serializedSRK struct {
	handle uint32
	name   []byte
	public tpm2.TPM2BPublic
}

// parseSerializedSRK reads the Esys_TR_Serialize() form of the pinned SRK.
func parseSerializedSRK(b []byte) (s *serializedSRK, err error) {
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, &FormatError{Reason: fmt.Sprintf("pinned SRK: %v", r)}
		}
	}()
	if len(b) < 4 {
		return nil, &FormatError{Reason: "pinned SRK: truncated"}
	}
	s = &serializedSRK{handle: binary.BigEndian.Uint32(b)}
	name, rest, ok := tpm2b(b[4:])
	if !ok || len(rest) < 4 || binary.BigEndian.Uint32(rest) != 1 {
		return nil, &FormatError{Reason: "pinned SRK: not a serialized key"}
	}
	s.name = bytes.Clone(name)
	pub, err := tpm2.Unmarshal[tpm2.TPM2BPublic](rest[4:])
	if err != nil {
		return nil, &FormatError{Reason: fmt.Sprintf("pinned SRK: %v", err)}
	}
	s.public = *pub
	return s, nil
}

// MaskPCRs lists the PCRs of a mask (Info.PCRMask, Info.PublicKeyPCRMask)
// in ascending order; an empty mask is an empty, non-nil list.
func MaskPCRs(mask uint64) []uint32 {
	l := []uint32{}
	for i := uint32(0); i < 64; i++ {
		if mask&(1<<i) != 0 {
			l = append(l, i)
		}
	}
	return l
}
