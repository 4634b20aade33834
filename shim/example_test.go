package shim_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"

	"github.com/ukibuild/ukibuild/eventlog"
	"github.com/ukibuild/ukibuild/pcr"
	"github.com/ukibuild/ukibuild/shim"
)

// What a shim 16.1 without a vendor certificate or deny list measures when
// it starts on a fresh machine: each digest is checked against SHA-256 of
// the data shim's source says it measures, computed here.
func Example() {
	bin := &shim.Binary{
		Version:            "16.1",
		SbatLevelAutomatic: "sbat,1,2025021800\nshim,4\ngrub,5\n",
		SbatLevelLatest:    "sbat,1,2025051000\nshim,4\ngrub,5\n",
	}
	boot, err := shim.NewBoot(bin, shim.Machine{SecureBoot: true, Banks: []pcr.Bank{pcr.SHA256}})
	if err != nil {
		fmt.Println(err)
		return
	}
	// The placeholder list shim mirrors for an empty MokList and
	// MokListX: EFI_CERT_SHA256_GUID, list size 76, header 0, entry size
	// 48, then the owner (SHIM_LOCK_GUID) and 32 zero bytes.
	placeholder := []byte{0x26, 0x16, 0xc4, 0xc1, 0x4c, 0x50, 0x92, 0x40, 0xac, 0xa9, 0x41, 0xf9, 0x36, 0x93, 0x43, 0x28,
		76, 0, 0, 0, 0, 0, 0, 0, 48, 0, 0, 0,
		0x50, 0xab, 0x5d, 0x60, 0x46, 0xe0, 0x00, 0x43, 0xab, 0xb6, 0x3d, 0xd8, 0x10, 0xdd, 0x8b, 0x23}
	placeholder = append(placeholder, make([]byte, 32)...)
	want := map[string][]byte{
		"MokList":        placeholder,
		"MokListX":       placeholder,
		"MokListTrusted": {1},
	}
	for _, ev := range boot.Startup() {
		d, _ := ev.Digest(pcr.SHA256)
		name, _, _ := bytes.Cut([]byte(ev.Description), []byte(" "))
		data, ok := want[string(name)]
		if ev.Type == eventlog.EvEFIVariableAuthority {
			// UEFI_VARIABLE_DATA: SHIM_LOCK_GUID, name length 9, data
			// length 32, "SbatLevel" in UTF-16LE, the level.
			data = eventlog.VariableData(shim.LockGUID(), "SbatLevel", []byte(bin.SbatLevelAutomatic))
			ok = true
		}
		sum := sha256.Sum256(data)
		fmt.Printf("PCR %d %s %s: digest as expected: %v\n", ev.PCR, ev.Type, name, ok && bytes.Equal(d, sum[:]))
	}
	// Output:
	// PCR 14 EV_IPL MokList: digest as expected: true
	// PCR 14 EV_IPL MokListX: digest as expected: true
	// PCR 7 EV_EFI_VARIABLE_AUTHORITY variable: digest as expected: true
	// PCR 14 EV_IPL MokListTrusted: digest as expected: true
}
