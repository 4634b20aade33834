package pcr

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf16"
)

// GUID is an EFI_GUID as it is stored: the first three fields little-endian.
type GUID [16]byte

// ParseGUID parses "8be4df61-93ca-11d2-aa0d-00e098032b8c".
func ParseGUID(s string) (GUID, error) {
	var g GUID
	h := strings.ReplaceAll(s, "-", "")
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != 16 || len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return g, fmt.Errorf("GUID %q: want the form 8be4df61-93ca-11d2-aa0d-00e098032b8c", s)
	}
	binary.LittleEndian.PutUint32(g[0:], binary.BigEndian.Uint32(b[0:]))
	binary.LittleEndian.PutUint16(g[4:], binary.BigEndian.Uint16(b[4:]))
	binary.LittleEndian.PutUint16(g[6:], binary.BigEndian.Uint16(b[6:]))
	copy(g[8:], b[8:])
	return g, nil
}

func mustGUID(s string) GUID {
	g, err := ParseGUID(s)
	if err != nil {
		panic(err)
	}
	return g
}

// The GUIDs of the UEFI specification ("Image Execution Information
// Table", "Signature Database").
var (
	EFIGlobalVariable  = mustGUID("8be4df61-93ca-11d2-aa0d-00e098032b8c")
	EFIImageSecurityDB = mustGUID("d719b2cb-3d3a-4596-a3bc-dad00e67656f")
	EFICertX509GUID    = mustGUID("a5c059a1-94e4-4aa7-87b5-ab155c2bf072")
	EFICertSHA256GUID  = mustGUID("c1c41626-504c-4092-aca9-41f936934328")
)

// SignatureData is an EFI_SIGNATURE_DATA: the owner's GUID and the
// signature (a certificate's DER, or a digest).
func SignatureData(owner GUID, data []byte) []byte {
	return append(owner[:], data...)
}

// SignatureList is an EFI_SIGNATURE_LIST of type typ with no header,
// holding entries, which must all have the same length (SignatureData's).
func SignatureList(typ GUID, entries ...[]byte) ([]byte, error) {
	if len(entries) == 0 {
		return nil, fmt.Errorf("signature list: no entry")
	}
	size := len(entries[0])
	var b bytes.Buffer
	b.Write(typ[:])
	_ = binary.Write(&b, binary.LittleEndian, uint32(28+size*len(entries))) // SignatureListSize
	_ = binary.Write(&b, binary.LittleEndian, uint32(0))                    // SignatureHeaderSize
	_ = binary.Write(&b, binary.LittleEndian, uint32(size))                 // SignatureSize
	for _, e := range entries {
		if len(e) != size {
			return nil, fmt.Errorf("signature list: entries of %d and %d bytes", size, len(e))
		}
		b.Write(e)
	}
	return b.Bytes(), nil
}

// X509SignatureList is the EFI_SIGNATURE_LIST of one certificate (DER)
// with its owner: one list per certificate, as virt-fw-vars --add-db and
// efi-updatevar -c enroll them.
func X509SignatureList(owner GUID, der []byte) []byte {
	l, _ := SignatureList(EFICertX509GUID, SignatureData(owner, der))
	return l
}

// VariableData is a UEFI_VARIABLE_DATA structure (TCG PC Client Platform
// Firmware Profile, "UEFI_VARIABLE_DATA"): the variable's vendor GUID, the
// lengths of its name (in characters, without NUL) and data, its name in
// UTF-16LE and its data. Firmware measures variables as H(this).
func VariableData(vendor GUID, name string, data []byte) []byte {
	u := utf16.Encode([]rune(name))
	var b bytes.Buffer
	b.Write(vendor[:])
	_ = binary.Write(&b, binary.LittleEndian, uint64(len(u)))
	_ = binary.Write(&b, binary.LittleEndian, uint64(len(data)))
	_ = binary.Write(&b, binary.LittleEndian, u)
	b.Write(data)
	return b.Bytes()
}

// SecureBootVariables are the contents of the Secure Boot variables.
type SecureBootVariables struct {
	// SecureBoot is the SecureBoot variable (1: on).
	SecureBoot bool
	// PK, KEK, DB and DBX are the variables' data: concatenated
	// EFI_SIGNATURE_LISTs (see X509SignatureList, SignatureList). Empty
	// means the variable does not exist (measured with no data).
	PK, KEK, DB, DBX []byte
}

// PCR7Events returns what EDK2 measures into PCR 7 for Secure Boot
// (SecurityPkg/Tcg/Tcg2Dxe/Tcg2Dxe.c, MeasureAllSecureVariables and
// MeasureSecureBootPolicy; TCG PC Client Platform Firmware Profile, PCR[7]):
// EV_EFI_VARIABLE_DRIVER_CONFIG events for SecureBoot, PK, KEK, db and dbx
// (digest H(UEFI_VARIABLE_DATA)), an EV_SEPARATOR, and then, for each
// distinct db entry that authorized an image the firmware started, an
// EV_EFI_VARIABLE_AUTHORITY event whose data is a UEFI_VARIABLE_DATA of
// "db" holding that EFI_SIGNATURE_DATA
// (SecurityPkg/Library/DxeImageVerificationLib/Measurement.c). authorities
// are those entries (SignatureData) in the order the images were started.
// dbt and dbr, which EDK2 measures when they exist, are not modelled.
func PCR7Events(vars SecureBootVariables, authorities [][]byte, banks []Bank) []Event {
	sb := []byte{0}
	if vars.SecureBoot {
		sb[0] = 1
	}
	var evs []Event
	for _, v := range []struct {
		vendor GUID
		name   string
		data   []byte
	}{
		{EFIGlobalVariable, "SecureBoot", sb},
		{EFIGlobalVariable, "PK", vars.PK},
		{EFIGlobalVariable, "KEK", vars.KEK},
		{EFIImageSecurityDB, "db", vars.DB},
		{EFIImageSecurityDB, "dbx", vars.DBX},
	} {
		evs = append(evs, hashEvent(7, EvEFIVariableDriverConfig, fmt.Sprintf("variable %s (%d bytes of data)", v.name, len(v.data)),
			VariableData(v.vendor, v.name, v.data), banks))
	}
	evs = append(evs, hashEvent(7, EvSeparator, separatorDescription, []byte{0, 0, 0, 0}, banks))
	var seen [][]byte
	for _, a := range authorities {
		dup := false
		for _, s := range seen {
			dup = dup || bytes.Equal(s, a)
		}
		if dup {
			continue
		}
		seen = append(seen, a)
		evs = append(evs, hashEvent(7, EvEFIVariableAuthority, fmt.Sprintf("variable db (%d bytes of data): the entry that authorized an image", len(a)),
			VariableData(EFIImageSecurityDB, "db", a), banks))
	}
	return evs
}
