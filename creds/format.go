package creds

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// KeyType is what a credential's encryption key is derived from.
type KeyType int

// The key types. systemd-creds calls them null, host, tpm2 and host+tpm2
// (--with-key=).
const (
	KeyNull KeyType = iota + 1
	KeyHost
	KeyTPM2
	KeyHostTPM2
)

func (k KeyType) String() string {
	switch k {
	case KeyNull:
		return "null"
	case KeyHost:
		return "host"
	case KeyTPM2:
		return "tpm2"
	case KeyHostTPM2:
		return "host+tpm2"
	}
	return fmt.Sprintf("KeyType(%d)", int(k))
}

// ParseKeyType parses a --with-key= value: null, host, tpm2 or host+tpm2.
func ParseKeyType(s string) (KeyType, error) {
	for _, k := range []KeyType{KeyNull, KeyHost, KeyTPM2, KeyHostTPM2} {
		if s == k.String() {
			return k, nil
		}
	}
	return 0, &InputError{Field: "key type", Reason: fmt.Sprintf("%q is not one of null, host, tpm2, host+tpm2", s)}
}

func (k KeyType) usesHost() bool { return k == KeyHost || k == KeyHostTPM2 }
func (k KeyType) usesTPM() bool  { return k == KeyTPM2 || k == KeyHostTPM2 }

// keyID is one of the key-type IDs systemd writes at the start of a
// credential (CRED_AES256_GCM_BY_* in systemd's src/shared/creds-util.h).
type keyID struct {
	id        [16]byte
	key       KeyType
	publicKey bool // a PCR public key header follows the TPM header
	pinnedSRK bool // a pinned SRK header follows (262 and later)
	scoped    bool // per-user credentials (not written by this package)
}

func mustID(s string) [16]byte {
	var id [16]byte
	b, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil || len(b) != 16 {
		panic("creds: bad key ID " + s)
	}
	copy(id[:], b)
	return id
}

// keyIDs: systemd's src/shared/creds-util.h (v261-1469, f9558beb18bb).
var keyIDs = []keyID{
	{id: mustID("058469da-f6f5-4324-8005-49da0f8ea2fb"), key: KeyNull},
	{id: mustID("5a1c6a86-df9d-4096-b1d5-a65e0862f19a"), key: KeyHost},
	{id: mustID("55b9ed1d-3859-4d43-a831-9d2ebb332ac6"), key: KeyHost, scoped: true},
	{id: mustID("0c7cc07b-1176-4591-9c4b-0bea08bc20fe"), key: KeyTPM2},
	{id: mustID("faf7eb93-41e3-412c-a1a4-36f95a29362f"), key: KeyTPM2, publicKey: true},
	{id: mustID("93a89409-4874-4490-90ca-f2fc93cab553"), key: KeyHostTPM2},
	{id: mustID("ef4ac136-79a9-480e-a7db-68897f9f165d"), key: KeyHostTPM2, scoped: true},
	{id: mustID("af4950a8-4913-4eb1-a738-46304ff30c05"), key: KeyHostTPM2, publicKey: true},
	{id: mustID("adbc4ca3-efb6-4201-ba88-1b6f2e4095ea"), key: KeyHostTPM2, publicKey: true, scoped: true},
	{id: mustID("d4062dfb-71ad-4c86-804b-40ef1180f1fc"), key: KeyTPM2, pinnedSRK: true},
	{id: mustID("5e2d5c76-0372-4eaf-843c-6fb5f64098f5"), key: KeyTPM2, publicKey: true, pinnedSRK: true},
	{id: mustID("14142588-18a2-40cd-900b-ce862db5c7b9"), key: KeyHostTPM2, pinnedSRK: true},
	{id: mustID("2a1f877a-4275-431a-b3f9-ed1f5d8f6601"), key: KeyHostTPM2, pinnedSRK: true, scoped: true},
	{id: mustID("afbfeaac-eb6a-4a37-9541-9d135c47f37b"), key: KeyHostTPM2, publicKey: true, pinnedSRK: true},
	{id: mustID("16e49294-9f94-4002-8675-8f94b7c52bc7"), key: KeyHostTPM2, publicKey: true, pinnedSRK: true, scoped: true},
}

func findID(key KeyType, publicKey, pinnedSRK bool) keyID {
	for _, k := range keyIDs {
		if k.key == key && k.publicKey == publicKey && k.pinnedSRK == pinnedSRK && !k.scoped {
			return k
		}
	}
	panic("creds: no key ID")
}

func lookupID(id []byte) (keyID, bool) {
	for _, k := range keyIDs {
		if bytes.Equal(k.id[:], id) {
			return k, true
		}
	}
	return keyID{}, false
}

func formatUUID(id [16]byte) string {
	h := hex.EncodeToString(id[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// Limits: systemd's creds-util.[ch].
const (
	// MaxPayload is the largest credential payload systemd accepts
	// (CREDENTIAL_SIZE_MAX, 1 MiB).
	MaxPayload = 1 << 20
	// maxEncrypted is CREDENTIAL_ENCRYPTED_SIZE_MAX (1 MiB + 128 KiB).
	maxEncrypted = MaxPayload + 128<<10
	// maxField is CREDENTIAL_FIELD_SIZE_MAX.
	maxField = 16 << 10
	// maxPublicKey is PUBLIC_KEY_MAX.
	maxPublicKey = 1 << 20
	// maxName is CREDENTIAL_NAME_MAX (FDNAME_MAX).
	maxName = 255
	// infinity is USEC_INFINITY: no timestamp, never expires.
	infinity = math.MaxUint64

	keySize = 32
	ivSize  = 12
	tagSize = 16
	// base64 line length of systemd-creds' output.
	lineLength = 79
)

// ErrAuthentication means AES-GCM authentication failed: a wrong key (host
// key, TPM secret) or a modified file.
var ErrAuthentication = errors.New("decryption failed: wrong key or modified credential")

// ErrTooLarge means a payload over MaxPayload bytes.
var ErrTooLarge = fmt.Errorf("payload is larger than %d bytes (systemd's limit)", MaxPayload)

// FormatError is a corrupt or foreign file where a credential was expected.
type FormatError struct{ Reason string }

func (e *FormatError) Error() string { return "not a valid systemd credential: " + e.Reason }

// InputError is a refused option or input value (a credential name with
// "/", not_after before the timestamp, a bad PCR value ...).
type InputError struct{ Field, Reason string }

func (e *InputError) Error() string { return e.Field + ": " + e.Reason }

// SRKError is a TPM2B_PUBLIC that cannot be the parent of a credential's
// sealed object (not a restricted decryption key, an RSA key that is not
// 2048 bits, a curve other than P-256 ...).
type SRKError struct{ Reason string }

func (e *SRKError) Error() string { return "storage key: " + e.Reason }

// NameMismatchError is an embedded name that differs from the expected one
// (systemd compares it with the file name).
type NameMismatchError struct{ Embedded, Expected string }

func (e *NameMismatchError) Error() string {
	return fmt.Sprintf("embedded credential name %q does not match %q", e.Embedded, e.Expected)
}

// ExpiredError is a credential whose not-after time has passed.
type ExpiredError struct{ NotAfter, Now time.Time }

func (e *ExpiredError) Error() string {
	return fmt.Sprintf("credential expired at %s (now %s)", e.NotAfter.UTC().Format(time.RFC3339), e.Now.UTC().Format(time.RFC3339))
}

// UnsupportedError is a request the target systemd, or this package, cannot
// serve (TPM keys for systemd 252-254, scoped credentials ...).
type UnsupportedError struct{ Reason string }

func (e *UnsupportedError) Error() string { return "unsupported: " + e.Reason }

// ValidName reports whether systemd accepts name as a credential name: a
// valid file name (not empty, ".", ".." and without "/") of printable ASCII
// without ":", at most 255 bytes (credential_name_valid() in creds-util.c).
func ValidName(name string) error {
	bad := func(r string) error {
		return &InputError{Field: "credential name", Reason: fmt.Sprintf("%q %s", name, r)}
	}
	switch {
	case name == "":
		return bad("is empty")
	case name == "." || name == "..":
		return bad("is not a file name")
	case len(name) > maxName:
		return bad(fmt.Sprintf("is longer than %d bytes", maxName))
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '/':
			return bad("contains \"/\"")
		case c == ':':
			return bad("contains \":\"")
		case c < ' ' || c >= 127:
			return bad("contains a control or non-ASCII character")
		}
	}
	return nil
}

func align8(n int) int { return (n + 7) &^ 7 }

// header is the authenticated, unencrypted part of a credential.
type header struct {
	id  keyID
	raw [16]byte
	iv  []byte

	// TPM2 header
	pcrMask    uint64
	pcrBank    uint16
	primaryAlg uint16
	blob       []byte
	policyHash []byte
	// public key header
	pkPCRMask uint64
	publicKey []byte
	// pinned SRK header (Esys_TR_Serialize form)
	srk []byte
	// scoped header
	scopeFlags uint64

	size int // bytes of the AAD
}

func padTo8(b []byte) []byte {
	for len(b)%8 != 0 {
		b = append(b, 0)
	}
	return b
}

// marshal writes the headers: the AES-GCM AAD.
func (h *header) marshal() []byte {
	le := binary.LittleEndian
	b := append([]byte{}, h.id.id[:]...)
	b = le.AppendUint32(b, keySize)
	b = le.AppendUint32(b, 1) // block size of AES-GCM
	b = le.AppendUint32(b, uint32(len(h.iv)))
	b = le.AppendUint32(b, tagSize)
	b = padTo8(append(b, h.iv...))
	if h.id.key.usesTPM() {
		b = le.AppendUint64(b, h.pcrMask)
		b = le.AppendUint16(b, h.pcrBank)
		b = le.AppendUint16(b, h.primaryAlg)
		b = le.AppendUint32(b, uint32(len(h.blob)))
		b = le.AppendUint32(b, uint32(len(h.policyHash)))
		b = append(b, h.blob...)
		b = padTo8(append(b, h.policyHash...))
	}
	if h.id.publicKey {
		b = le.AppendUint64(b, h.pkPCRMask)
		b = le.AppendUint32(b, uint32(len(h.publicKey)))
		b = padTo8(append(b, h.publicKey...))
	}
	if h.id.pinnedSRK {
		b = le.AppendUint32(b, uint32(len(h.srk)))
		b = padTo8(append(b, h.srk...))
	}
	return b
}

// reader is a bounds-checked little-endian cursor.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) take(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b)-r.off {
		r.err = &FormatError{Reason: fmt.Sprintf("file too short for %s", what)}
		return nil
	}
	v := r.b[r.off : r.off+n]
	r.off += n
	return v
}

func (r *reader) u16(what string) uint16 {
	if v := r.take(2, what); v != nil {
		return binary.LittleEndian.Uint16(v)
	}
	return 0
}

func (r *reader) u32(what string) uint32 {
	if v := r.take(4, what); v != nil {
		return binary.LittleEndian.Uint32(v)
	}
	return 0
}

func (r *reader) u64(what string) uint64 {
	if v := r.take(8, what); v != nil {
		return binary.LittleEndian.Uint64(v)
	}
	return 0
}

func (r *reader) align(what string) { r.take(align8(r.off)-r.off, what) }

// parseHeader reads the headers of a decoded credential, checking what
// systemd's decrypt_credential_and_warn() checks before decryption.
func parseHeader(data []byte) (*header, error) {
	r := &reader{b: data}
	h := &header{}
	copy(h.raw[:], r.take(16, "the key type ID"))
	if r.err != nil {
		return nil, r.err
	}
	id, ok := lookupID(h.raw[:])
	if !ok {
		return nil, &FormatError{Reason: fmt.Sprintf("unknown key type ID %s", formatUUID(h.raw))}
	}
	h.id = id
	ks, bs, is, ts := r.u32("the key size"), r.u32("the block size"), r.u32("the IV size"), r.u32("the tag size")
	if r.err != nil {
		return nil, r.err
	}
	switch {
	case ks != keySize:
		return nil, &FormatError{Reason: fmt.Sprintf("key size %d, want %d", ks, keySize)}
	case bs == 0 || bs > maxField:
		return nil, &FormatError{Reason: fmt.Sprintf("block size %d", bs)}
	case is != ivSize:
		// systemd takes any IV size OpenSSL's AES-256-GCM takes; it
		// only ever writes 12 bytes, and so does this package.
		return nil, &FormatError{Reason: fmt.Sprintf("IV size %d, want %d", is, ivSize)}
	case ts != tagSize:
		return nil, &FormatError{Reason: fmt.Sprintf("tag size %d, want %d", ts, tagSize)}
	}
	h.iv = r.take(int(is), "the IV")
	r.align("the IV padding")
	if id.key.usesTPM() {
		h.pcrMask = r.u64("the TPM2 PCR mask")
		h.pcrBank = r.u16("the TPM2 PCR bank")
		h.primaryAlg = r.u16("the TPM2 primary algorithm")
		bl, pl := r.u32("the TPM2 blob size"), r.u32("the TPM2 policy hash size")
		if r.err != nil {
			return nil, r.err
		}
		switch {
		case h.pcrMask >= 1<<24:
			return nil, &FormatError{Reason: fmt.Sprintf("TPM2 PCR mask %#x out of range", h.pcrMask)}
		case bankName(h.pcrBank) == "":
			return nil, &FormatError{Reason: fmt.Sprintf("TPM2 PCR bank %#04x not supported", h.pcrBank)}
		case h.primaryAlg != algRSA && h.primaryAlg != algECC:
			return nil, &FormatError{Reason: fmt.Sprintf("TPM2 primary key algorithm %#04x not supported", h.primaryAlg)}
		case bl > maxField || pl > maxField:
			return nil, &FormatError{Reason: "TPM2 blob or policy hash too large"}
		}
		h.blob = r.take(int(bl), "the TPM2 blob")
		h.policyHash = r.take(int(pl), "the TPM2 policy hash")
		r.align("the TPM2 header padding")
	}
	if id.publicKey {
		h.pkPCRMask = r.u64("the public key PCR mask")
		n := r.u32("the public key size")
		if r.err != nil {
			return nil, r.err
		}
		if h.pkPCRMask == 0 || h.pkPCRMask >= 1<<24 {
			return nil, &FormatError{Reason: fmt.Sprintf("public key PCR mask %#x out of range", h.pkPCRMask)}
		}
		if n > maxPublicKey {
			return nil, &FormatError{Reason: "public key too large"}
		}
		h.publicKey = r.take(int(n), "the public key")
		r.align("the public key padding")
	}
	if id.pinnedSRK {
		n := r.u32("the pinned SRK size")
		if r.err == nil && n > maxField {
			return nil, &FormatError{Reason: "pinned SRK too large"}
		}
		h.srk = r.take(int(n), "the pinned SRK")
		r.align("the pinned SRK padding")
	}
	if id.scoped {
		h.scopeFlags = r.u64("the scope flags")
	}
	if r.err != nil {
		return nil, r.err
	}
	h.size = r.off
	if len(data)-h.size < align8(20)+tagSize {
		return nil, &FormatError{Reason: "file too short for the metadata and the tag"}
	}
	return h, nil
}

// PCR banks and primary algorithms (TPM_ALG_ID).
const (
	algRSA    = 0x0001
	algSHA1   = 0x0004
	algSHA256 = 0x000b
	algSHA384 = 0x000c
	algSHA512 = 0x000d
	algECC    = 0x0023
)

func bankName(alg uint16) string {
	switch alg {
	case algSHA1:
		return "sha1"
	case algSHA256:
		return "sha256"
	case algSHA384:
		return "sha384"
	case algSHA512:
		return "sha512"
	}
	return ""
}

// metadata is the encrypted header before the payload.
type metadata struct {
	timestamp, notAfter uint64
	name                string
}

func (m *metadata) marshal() []byte {
	le := binary.LittleEndian
	b := le.AppendUint64(nil, m.timestamp)
	b = le.AppendUint64(b, m.notAfter)
	b = le.AppendUint32(b, uint32(len(m.name)))
	return padTo8(append(b, m.name...))
}

func parseMetadata(plain []byte) (*metadata, []byte, error) {
	r := &reader{b: plain}
	m := &metadata{timestamp: r.u64("the timestamp"), notAfter: r.u64("the not-after time")}
	n := r.u32("the name size")
	if r.err != nil {
		return nil, nil, r.err
	}
	if m.timestamp != infinity && m.notAfter != infinity && m.timestamp >= m.notAfter {
		return nil, nil, &FormatError{Reason: "timestamps of credential are not in order"}
	}
	if n > maxName {
		return nil, nil, &FormatError{Reason: "embedded credential name too long"}
	}
	m.name = string(r.take(int(n), "the name"))
	r.align("the name padding")
	if r.err != nil {
		return nil, nil, r.err
	}
	if n > 0 {
		if err := ValidName(m.name); err != nil {
			return nil, nil, &FormatError{Reason: "embedded credential name is not valid"}
		}
	}
	return m, plain[r.off:], nil
}

// encodeBase64 writes data the way systemd-creds does: base64 in lines of
// 79 characters and a final newline.
func encodeBase64(w io.Writer, data []byte) error {
	s := base64.StdEncoding.EncodeToString(data)
	var b strings.Builder
	b.Grow(len(s) + len(s)/lineLength + 1)
	for len(s) > lineLength {
		b.WriteString(s[:lineLength])
		b.WriteByte('\n')
		s = s[lineLength:]
	}
	b.WriteString(s)
	b.WriteByte('\n')
	_, err := io.WriteString(w, b.String())
	return err
}

// readCredential reads a base64 credential (whitespace ignored, as systemd's
// unbase64mem() does) and decodes it.
func readCredential(r io.Reader) ([]byte, error) {
	// base64 of the largest credential systemd accepts, with line breaks
	limit := int64(maxEncrypted/3*4+maxEncrypted/3*4/lineLength+16) + 8
	raw, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(raw)) > limit {
		return nil, &FormatError{Reason: "file too large"}
	}
	clean := make([]byte, 0, len(raw))
	for _, c := range raw {
		switch c {
		case ' ', '\t', '\n', '\r', '\v', '\f':
			continue
		}
		clean = append(clean, c)
	}
	data := make([]byte, base64.StdEncoding.DecodedLen(len(clean)))
	n, err := base64.StdEncoding.Decode(data, clean)
	if err != nil {
		return nil, &FormatError{Reason: "not base64 (" + err.Error() + ")"}
	}
	if n == 0 {
		return nil, &FormatError{Reason: "empty file"}
	}
	return data[:n], nil
}
