package pcr

import (
	"encoding/binary"
	"fmt"
	"unicode/utf16"
)

// The tagged events Linux's EFI stub logs into PCR 9
// (drivers/firmware/efi/libstub/efi-stub-helper.c and efistub.h, Linux 6.1
// as Debian builds it: efi_measure_tagged_event).
const (
	LinuxInitrdEventTag      = 0x8f3b22ec // "Linux initrd"
	LinuxLoadOptionsEventTag = 0x8f3b22ed // "LOADED_IMAGE::LoadOptions"
)

// LinuxEvents returns what the Linux EFI stub measures into PCR 9 when it
// starts: EV_EVENT_TAG "LOADED_IMAGE::LoadOptions" with digest
// H(cmdline in UTF-16LE with its terminating NUL), as systemd-stub passes
// it, and EV_EVENT_TAG "Linux initrd" with digest H(initrd), the initrd it
// loads through the LINUX_EFI_INITRD_MEDIA device path (for a UKI:
// StubInitrd). An empty initrd is not measured.
func LinuxEvents(cmdline string, initrd []byte, banks []Bank) []Event {
	u := utf16.Encode([]rune(cmdline))
	opts := make([]byte, 2*len(u)+2)
	for i, c := range u {
		binary.LittleEndian.PutUint16(opts[2*i:], c)
	}
	evs := []Event{hashEvent(9, EvEventTag, fmt.Sprintf("tag %#x LOADED_IMAGE::LoadOptions: %q", LinuxLoadOptionsEventTag, cmdline), opts, banks)}
	if len(initrd) > 0 {
		evs = append(evs, hashEvent(9, EvEventTag, fmt.Sprintf("tag %#x Linux initrd (%d bytes)", LinuxInitrdEventTag, len(initrd)), initrd, banks))
	}
	return evs
}

// StubInitrd returns the initrd systemd-stub of the given major version
// hands to the kernel for a UKI with these sections (.initrd, .pcrsig,
// .pcrpkey, .osrel; data as the image holds them) and extras: the
// concatenation, in the order of src/boot/stub.c's initrd slots, of
// .initrd, the archives of the extras (credentials, system and
// configuration extensions, each local then global; StubCPIO), and the archives of /.extra/tpm2-pcr-
// signature.json (.pcrsig), tpm2-pcr-public-key.pem (.pcrpkey) and, from
// 262 on, os-release (.osrel), each packed as cpio.c's pack_cpio_literal
// does (directory .extra 0555, file 0444). Only the versions of the boot
// tests, 252 and 262, are modelled (the boot tests' event logs match them);
// microcode (.ucode), profiles and add-on initrds are not.
func StubInitrd(major int, sections map[string][]byte, x StubExtras) ([]byte, error) {
	if major != 252 && major != 262 {
		return nil, fmt.Errorf("the initrd of systemd-stub %d is not modelled (252 and 262 are)", major)
	}
	for _, s := range []string{".ucode", ".profile"} {
		if len(sections[s]) > 0 {
			return nil, fmt.Errorf("the initrd of a UKI with a %s section is not modelled", s)
		}
	}
	out := append([]byte(nil), sections[".initrd"]...)
	for _, k := range x.archives() {
		if len(k.files) == 0 {
			continue
		}
		c, err := StubCPIO(k.prefix, k.dir, k.file, k.files)
		if err != nil {
			return nil, err
		}
		out = append(out, c...)
	}
	literals := []struct{ section, name string }{{".pcrsig", "tpm2-pcr-signature.json"}, {".pcrpkey", "tpm2-pcr-public-key.pem"}}
	if major >= 262 {
		literals = append(literals, struct{ section, name string }{".osrel", "os-release"})
	}
	for _, l := range literals {
		if len(sections[l.section]) == 0 {
			continue
		}
		c, err := StubCPIO(".extra", 0o555, 0o444, []ExtraFile{{Name: l.name, Data: sections[l.section]}})
		if err != nil {
			return nil, err
		}
		out = append(out, c...)
	}
	return out, nil
}
