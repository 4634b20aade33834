package attest

import (
	"crypto/x509"
	"encoding/binary"
	"fmt"

	"github.com/ukibuild/ukibuild/pcr"
)

// dbCerts returns the X.509 entries of the EFI signature lists in db
// (UEFI 2.10, 32.4.1 "Signature Database": EFI_SIGNATURE_LIST of
// EFI_SIGNATURE_DATA), in order. Entries of other types (hashes) are
// skipped; a list that does not parse is an error.
func dbCerts(db []byte) ([]dbCert, error) {
	var out []dbCert
	for off := 0; off < len(db); {
		rest := db[off:]
		if len(rest) < 28 {
			return nil, fmt.Errorf("signature list at offset %d: %d bytes, shorter than its 28-byte header", off, len(rest))
		}
		var typ pcr.GUID
		copy(typ[:], rest)
		listSize := binary.LittleEndian.Uint32(rest[16:])
		headerSize := binary.LittleEndian.Uint32(rest[20:])
		sigSize := binary.LittleEndian.Uint32(rest[24:])
		if uint64(listSize) > uint64(len(rest)) || uint64(listSize) < 28+uint64(headerSize) {
			return nil, fmt.Errorf("signature list at offset %d: size %d does not fit the %d bytes left", off, listSize, len(rest))
		}
		body := rest[28+headerSize : listSize]
		if sigSize < 16 || uint32(len(body))%sigSize != 0 {
			return nil, fmt.Errorf("signature list at offset %d: %d bytes of entries are not a multiple of the entry size %d", off, len(body), sigSize)
		}
		for e := 0; e < len(body); e += int(sigSize) {
			entry := body[e : e+int(sigSize)]
			if typ != pcr.EFICertX509GUID {
				continue
			}
			c, err := x509.ParseCertificate(entry[16:])
			if err != nil {
				return nil, fmt.Errorf("signature list at offset %d: X.509 entry at %d: %w", off, e, err)
			}
			out = append(out, dbCert{cert: c, data: entry})
		}
		off += int(listSize)
	}
	return out, nil
}
