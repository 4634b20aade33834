package uefi

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
)

// GUID is an EFI_GUID as UEFI stores it (UEFI 2.10, appendix A, "GUID and
// Time Formats"): Data1 (uint32), Data2 and Data3 (uint16) little-endian,
// then the eight bytes of Data4 as they are. Its text form is the registry
// format "8be4df61-93ca-11d2-aa0d-00e098032b8c", each field printed as a
// big-endian number.
//
// github.com/foxboron/go-uefi's efi/util.EFIGUID is not used: its
// StringToGUID ignores malformed input (it returns a zero or partial GUID
// rather than an error) and its Bytes gives big-endian fields, not the
// layout firmware stores, so every caller would need its own checks and
// byte swapping.
type GUID [16]byte

// ParseGUID parses the registry format "8be4df61-93ca-11d2-aa0d-00e098032b8c"
// (hexadecimal digits of either case, hyphens exactly there, nothing else).
func ParseGUID(s string) (GUID, error) {
	var g GUID
	err := g.UnmarshalText([]byte(s))
	return g, err
}

// MustParseGUID is ParseGUID for constants; it panics on malformed text.
func MustParseGUID(s string) GUID {
	g, err := ParseGUID(s)
	if err != nil {
		panic(err)
	}
	return g
}

// GUIDFromUUID returns the GUID whose text form is that of the RFC 9562
// UUID u (given in its big-endian byte order): the first three fields
// byte-swapped, as Python's uuid.UUID.bytes_le gives.
func GUIDFromUUID(u [16]byte) GUID {
	return GUID{u[3], u[2], u[1], u[0], u[5], u[4], u[7], u[6],
		u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]}
}

// String returns the registry format, in lower case.
func (g GUID) String() string {
	return fmt.Sprintf("%08x-%04x-%04x-%x-%x", binary.LittleEndian.Uint32(g[0:]),
		binary.LittleEndian.Uint16(g[4:]), binary.LittleEndian.Uint16(g[6:]), g[8:10], g[10:])
}

// MarshalText returns the registry format (as String), so a GUID is a JSON
// string.
func (g GUID) MarshalText() ([]byte, error) { return []byte(g.String()), nil }

// UnmarshalText parses the registry format (as ParseGUID).
func (g *GUID) UnmarshalText(text []byte) error {
	bad := fmt.Errorf("GUID %q: want the form 8be4df61-93ca-11d2-aa0d-00e098032b8c", text)
	if len(text) != 36 || text[8] != '-' || text[13] != '-' || text[18] != '-' || text[23] != '-' {
		return bad
	}
	var b [16]byte
	j := 0
	for _, f := range [][2]int{{0, 8}, {9, 13}, {14, 18}, {19, 23}, {24, 36}} {
		n, err := hex.Decode(b[j:], text[f[0]:f[1]])
		if err != nil {
			return bad
		}
		j += n
	}
	*g = GUIDFromUUID(b)
	return nil
}

// Well-known GUIDs of the UEFI specification and EDK2
// (MdePkg/Include/Guid/GlobalVariable.h, ImageAuthentication.h,
// WinCertificate.h).
var (
	// GlobalVariable is EFI_GLOBAL_VARIABLE, the vendor of SecureBoot,
	// PK and KEK.
	GlobalVariable = MustParseGUID("8be4df61-93ca-11d2-aa0d-00e098032b8c")
	// ImageSecurityDatabase is EFI_IMAGE_SECURITY_DATABASE_GUID, the
	// vendor of db and dbx.
	ImageSecurityDatabase = MustParseGUID("d719b2cb-3d3a-4596-a3bc-dad00e67656f")
	// CertX509 is EFI_CERT_X509_GUID, the signature type of a DER
	// certificate in a signature list.
	CertX509 = MustParseGUID("a5c059a1-94e4-4aa7-87b5-ab155c2bf072")
	// CertSHA256 is EFI_CERT_SHA256_GUID, the signature type of an
	// image's Authenticode SHA-256 digest in a signature list.
	CertSHA256 = MustParseGUID("c1c41626-504c-4092-aca9-41f936934328")
	// CertSHA1 is EFI_CERT_SHA1_GUID, the signature type of an image's
	// Authenticode SHA-1 digest in a signature list (UEFI 2.10, 32.4.1).
	CertSHA1 = MustParseGUID("826ca512-cf10-4ac9-b187-be01496631bd")
	// CertTypePKCS7 is EFI_CERT_TYPE_PKCS7_GUID, the CertType of a
	// WIN_CERTIFICATE_UEFI_GUID holding a PKCS#7 SignedData (an image's
	// certificate table entry, an EFI_VARIABLE_AUTHENTICATION_2).
	CertTypePKCS7 = MustParseGUID("4aafd29d-68df-49ee-8aa9-347d375665a7")
)
