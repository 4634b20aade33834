package eventlog

import (
	"encoding/binary"
	"fmt"
	"slices"
	"unicode/utf16"

	"github.com/ukibuild/ukibuild/pcr"
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
// StubInitrd, then StubBoot.LinuxInitrd). An empty or nil initrd is not
// measured. The initrd is read once, as a stream.
func LinuxEvents(cmdline string, initrd pcr.Sized, banks []pcr.Bank) ([]Event, error) {
	evs := []Event{LoadOptionsLinuxEvent(cmdline, banks)}
	if initrd != nil && initrd.Size() > 0 {
		ev, err := dataEvent(9, EvEventTag, fmt.Sprintf("tag %#x Linux initrd (%d bytes)", LinuxInitrdEventTag, initrd.Size()), initrd, banks)
		if err != nil {
			return nil, err
		}
		evs = append(evs, ev)
	}
	return evs, nil
}

// LoadOptionsLinuxEvent is the first of LinuxEvents: Linux's EFI stub's
// measurement of the command line it was given.
func LoadOptionsLinuxEvent(cmdline string, banks []pcr.Bank) Event {
	u := utf16.Encode([]rune(cmdline))
	opts := make([]byte, 2*len(u)+2)
	for i, c := range u {
		binary.LittleEndian.PutUint16(opts[2*i:], c)
	}
	return hashEvent(9, EvEventTag, fmt.Sprintf("tag %#x LOADED_IMAGE::LoadOptions: %q", LinuxLoadOptionsEventTag, cmdline), opts, banks)
}

// StubInitrd returns the initrd systemd-stub of the given major version
// hands to the kernel for a UKI with these sections (.initrd, .pcrsig,
// .pcrpkey, .osrel, as the image holds them) and extras: in the order of
// src/boot/stub.c's initrd slots, .initrd, the archives of the extras
// (credentials, system and configuration extensions, each local then
// global; StubCPIO), and the archives of /.extra/tpm2-pcr-signature.json
// (.pcrsig), tpm2-pcr-public-key.pem (.pcrpkey) and, from 257 on,
// os-release (.osrel), each packed as cpio.c's pack_cpio_literal does
// (directory .extra 0555, file 0444). When there is more than one piece,
// the stub copies them into one buffer, each padded with zeros to a
// multiple of 4 bytes (252: combine_initrd pads the main initrd, the
// archives are multiples of 4 already; 262: combine_initrds pads every
// piece; the boots of 252, 254, 257 and 262 with an initrd one byte longer
// than a multiple of 4 agree); a lone piece is handed over as it is.
// Nothing is read here: the result is a stream of the sections' and
// files' contents. Only the
// versions of the boot tests, 252, 254, 257 and 262, are modelled (the
// boot tests' event logs match them); microcode (.ucode) and add-on
// initrds are not, and profiles (.profile) only for 262 (StubInitrdAfter).
func StubInitrd(major int, sections map[string]pcr.Sized, x StubExtras) (pcr.Sized, error) {
	return StubInitrdAfter(major, nil, sections, x)
}

// StubInitrdAfter is StubInitrd with previous, an initrd that a boot
// loader registered before it started the UKI (the LINUX_INITRD_MEDIA
// device path; systemd-boot's for a Type #1 entry's extra files,
// EntryExtrasInitrd): systemd-stub 262 puts it after the .ucode section
// and before .initrd (src/boot/stub.c, the INITRD_PREVIOUS slot,
// acquire_previous_initrd). nil or empty: none. Stub 262 also packs the
// .profile section of the profile it boots into /.extra/profile, after
// os-release (the INITRD_PROFILE slot, generate_embedded_initrds); for
// the other versions a .profile section or a previous initrd is not
// modelled (an error). sections are those of the profile booted
// (pcr.LocateProfile).
func StubInitrdAfter(major int, previous pcr.Sized, sections map[string]pcr.Sized, x StubExtras) (pcr.Sized, error) {
	if !slices.Contains([]int{252, 254, 257, 262}, major) {
		return nil, fmt.Errorf("the initrd of systemd-stub %d is not modelled (252, 254, 257 and 262 are)", major)
	}
	size := func(name string) int64 {
		if c := sections[name]; c != nil {
			return c.Size()
		}
		return 0
	}
	if size(".ucode") > 0 {
		return nil, fmt.Errorf("the initrd of a UKI with a .ucode section is not modelled")
	}
	if major != 262 && size(".profile") > 0 {
		return nil, fmt.Errorf("the initrd of systemd-stub %d for a UKI with a .profile section is not modelled (262's is)", major)
	}
	if major != 262 && previous != nil && previous.Size() > 0 {
		return nil, fmt.Errorf("how systemd-stub %d passes on a boot loader's initrd is not modelled (262's is)", major)
	}
	var pieces []pcr.Sized
	if previous != nil && previous.Size() > 0 {
		pieces = append(pieces, previous)
	}
	if size(".initrd") > 0 {
		pieces = append(pieces, sections[".initrd"])
	}
	for _, k := range x.archives() {
		if len(k.files) == 0 {
			continue
		}
		c, err := stubCPIO(k.prefix, k.dir, k.file, k.files)
		if err != nil {
			return nil, err
		}
		pieces = append(pieces, c)
	}
	literals := []struct{ section, name string }{{".pcrsig", "tpm2-pcr-signature.json"}, {".pcrpkey", "tpm2-pcr-public-key.pem"}}
	if major >= 257 {
		literals = append(literals, struct{ section, name string }{".osrel", "os-release"})
	}
	if major == 262 {
		literals = append(literals, struct{ section, name string }{".profile", "profile"})
	}
	for _, l := range literals {
		if size(l.section) == 0 {
			continue
		}
		c, err := stubCPIO(".extra", 0o555, 0o444, []ExtraFile{{Name: l.name, Content: sections[l.section]}})
		if err != nil {
			return nil, err
		}
		pieces = append(pieces, c)
	}
	return combineInitrds(pieces), nil
}

// combineInitrds is what systemd-stub hands over for pieces: nothing, the
// one piece as it is, or all of them each padded to a multiple of 4 bytes.
func combineInitrds(pieces []pcr.Sized) pcr.Sized {
	switch len(pieces) {
	case 0:
		return nil
	case 1:
		return pieces[0]
	}
	return joined(4, pieces)
}
