package eventlog

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"unicode/utf16"

	"github.com/ukibuild/ukibuild/pcr"
	"github.com/ukibuild/ukibuild/uefi"
)

// SignatureData is an EFI_SIGNATURE_DATA: the owner's GUID and the
// signature (a certificate's DER, or a digest).
func SignatureData(owner uefi.GUID, data []byte) []byte {
	return append(owner[:], data...)
}

// SignatureList is an EFI_SIGNATURE_LIST of type typ with no header,
// holding entries, which must all have the same length (SignatureData's).
func SignatureList(typ uefi.GUID, entries ...[]byte) ([]byte, error) {
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
func X509SignatureList(owner uefi.GUID, der []byte) []byte {
	l, _ := SignatureList(uefi.CertX509, SignatureData(owner, der))
	return l
}

// VariableData is a UEFI_VARIABLE_DATA structure (TCG PC Client Platform
// Firmware Profile, "UEFI_VARIABLE_DATA"): the variable's vendor GUID, the
// lengths of its name (in characters, without NUL) and data, its name in
// UTF-16LE and its data. Firmware measures variables as H(this).
func VariableData(vendor uefi.GUID, name string, data []byte) []byte {
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
func PCR7Events(vars SecureBootVariables, authorities [][]byte, banks []pcr.Bank) []Event {
	sb := []byte{0}
	if vars.SecureBoot {
		sb[0] = 1
	}
	var evs []Event
	for _, v := range []struct {
		vendor uefi.GUID
		name   string
		data   []byte
	}{
		{uefi.GlobalVariable, "SecureBoot", sb},
		{uefi.GlobalVariable, "PK", vars.PK},
		{uefi.GlobalVariable, "KEK", vars.KEK},
		{uefi.ImageSecurityDatabase, "db", vars.DB},
		{uefi.ImageSecurityDatabase, "dbx", vars.DBX},
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
			VariableData(uefi.ImageSecurityDatabase, "db", a), banks))
	}
	return evs
}
