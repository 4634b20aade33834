package pcr

import (
	"crypto"
	_ "crypto/sha1" // register the bank hashes
	_ "crypto/sha256"
	_ "crypto/sha512"
	"fmt"
	"strings"
)

// Bank is a TPM 2.0 PCR bank: a hash algorithm by its systemd name.
type Bank struct {
	// Name is systemd's name: "sha1", "sha256", "sha384", "sha512".
	Name string
	// Hash is the Go hash.
	Hash crypto.Hash
	// AlgID is the TPM2_ALG_ID (TCG Algorithm Registry).
	AlgID uint16
}

// The banks systemd-measure knows (src/measure/measure-tool.c, 262).
var (
	SHA1   = Bank{"sha1", crypto.SHA1, 0x0004}
	SHA256 = Bank{"sha256", crypto.SHA256, 0x000b}
	SHA384 = Bank{"sha384", crypto.SHA384, 0x000c}
	SHA512 = Bank{"sha512", crypto.SHA512, 0x000d}
)

// AllBanks lists the banks in systemd's order.
func AllBanks() []Bank { return []Bank{SHA1, SHA256, SHA384, SHA512} }

// ParseBank returns the bank called name (case-insensitive, as
// systemd-measure accepts "SHA256" and "sha256").
func ParseBank(name string) (Bank, error) {
	for _, b := range AllBanks() {
		if strings.EqualFold(b.Name, name) {
			return b, nil
		}
	}
	return Bank{}, fmt.Errorf("unknown PCR bank %q (want sha1, sha256, sha384 or sha512)", name)
}

// String returns the bank's name.
func (b Bank) String() string { return b.Name }

// Extend returns H(old || digest), the TPM's PCR extend.
func (b Bank) Extend(old, digest []byte) []byte {
	h := b.Hash.New()
	h.Write(old)
	h.Write(digest)
	return h.Sum(nil)
}

// Zero returns the reset value of a PCR in this bank (all zero bytes).
func (b Bank) Zero() []byte { return make([]byte, b.Hash.Size()) }
