package eventlog

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/ukibuild/ukibuild/pcr"
)

// The EV_EVENT_TAG identifiers systemd-stub 262 logs into PCR 12
// (src/fundamental/tpm2-pcr.h, systemd v262: INITRD_ADDON_EVENT_TAG_ID,
// UCODE_ADDON_EVENT_TAG_ID, DEVICETREE_ADDON_EVENT_TAG_ID,
// UKI_PROFILE_EVENT_TAG_ID; each present as a constant in Debian's
// systemd-stub 262.1-1 binary).
const (
	InitrdAddonEventTag     = 0x49dffe0f
	UcodeAddonEventTag      = 0xdac08e1a
	DevicetreeAddonEventTag = 0x6c46f751
	ProfileEventTag         = 0x13aed6db
)

// Addon is a PE add-on (*.addon.efi) on the ESP: its file name and the
// sections systemd-stub looks at, with their content as the loaded image
// holds it.
type Addon struct {
	Name string
	// Global: found in /loader/addons/ (else in <uki>.extra.d/).
	Global   bool
	Sections map[string][]byte
	// Path is where the caller read it from (not used here).
	Path string
	// Machine is the add-on's PE machine type (0: not known, not checked).
	Machine uint16
}

// AddonMachineError reports an add-on built for another CPU than the UKI
// (StubBoot.Machine): the firmware does not load such an image, so the
// stub neither applies nor measures it, and a prediction that counted it
// would be wrong.
type AddonMachineError struct {
	Addon                    string // its path, else its name
	AddonMachine, UKIMachine uint16
}

func (e *AddonMachineError) Error() string {
	return fmt.Sprintf("add-on %s is for PE machine %#x, but the UKI is for %#x: the firmware does not load it", e.Addon, e.AddonMachine, e.UKIMachine)
}

// SelectAddons picks from a directory's files those systemd-stub 262 loads
// as add-ons (src/boot/stub.c, load_addons_from_dir): names ending in
// ".addon.efi" (compared without case), not starting with '.', ASCII, at
// most 255 characters.
func SelectAddons(names []string) []string {
	var out []string
	for _, n := range names {
		if strings.HasPrefix(n, ".") || len(n) > 255 || !strings.HasSuffix(strings.ToLower(n), ".addon.efi") {
			continue
		}
		ascii := true
		for _, r := range n {
			ascii = ascii && r <= 0x7f
		}
		if ascii {
			out = append(out, n)
		}
	}
	return out
}

// StubBoot is what systemd-stub takes beyond the sections of the UKI it
// boots and measures into PCR 12 (and 13): the profile and command line
// passed in the load options, add-ons and the files of StubExtras.
type StubBoot struct {
	// Major is the stub's major version: 262 and 252 are modelled (the
	// versions whose sources were read and whose boots the tests check).
	Major int
	// SecureBoot: the firmware runs with Secure Boot on.
	SecureBoot bool
	// Profile is the profile selected by an "@N" load option (0: the
	// default, which the stub does not measure).
	Profile uint
	// LoadOptions is the command line passed in the image's load options
	// (without the "@N " profile prefix); empty: none.
	LoadOptions string
	// Cmdline is the UKI's .cmdline; HasCmdline says whether it has one.
	Cmdline    []byte
	HasCmdline bool
	// Uname is the UKI's .uname (nil: none).
	Uname []byte
	// Addons are the add-ons on the ESP, global and per-UKI, in any order.
	Addons []Addon
	// Machine is the UKI's PE machine type (0: not known). An add-on for
	// another one is an *AddonMachineError.
	Machine uint16
	// Extras are the credentials and extensions (ExtrasEvents).
	Extras StubExtras
}

// check fails when b needs the stub's version (anything beyond the
// extras) and that version is not modelled.
func (b StubBoot) check() error {
	if b.Profile == 0 && b.LoadOptions == "" && len(b.Addons) == 0 {
		return nil
	}
	switch b.Major {
	case 262:
		return nil
	case 252:
		if b.Profile != 0 {
			return fmt.Errorf("systemd-stub 252 has no profiles (profile %d)", b.Profile)
		}
		return nil
	}
	if b.Major == 0 {
		return fmt.Errorf("the stub's version is unknown (no .sdmagic): what it measures for add-ons, load options and profiles depends on it")
	}
	return fmt.Errorf("what systemd-stub %d measures for add-ons, load options and profiles is not modelled (262 and 252 are)", b.Major)
}

// usedAddons returns the add-ons the stub applies, in its order: global
// ones first, then the UKI's own, each sorted by name (src/boot/stub.c,
// v262: load_all_addons, load_addons with sort_pointer_array/strcmp16).
// Add-ons with a .linux section, with none of .cmdline, .dtb, .dtbauto,
// .initrd and .ucode, or whose .uname differs from the UKI's are skipped,
// as the stub skips them. Stub 252 loads no add-ons (its src/boot/efi/
// stub.c has no add-on code). It fails for what is not modelled: add-ons
// with .dtb or .dtbauto (whether the stub installs, and so measures, them
// depends on the machine's devicetree support) or .profile.
func (b StubBoot) usedAddons() ([]Addon, error) {
	loaded, err := b.Loaded()
	if err != nil {
		return nil, err
	}
	var out []Addon
	for _, a := range loaded {
		has := func(s string) bool { _, ok := a.Sections[s]; return ok }
		if !has(".cmdline") && !has(".dtb") && !has(".dtbauto") && !has(".initrd") && !has(".ucode") {
			continue
		}
		if has(".linux") {
			continue // "is a UKI, not an addon"
		}
		if b.Uname != nil && has(".uname") && !strneq(cString(b.Uname), a.Sections[".uname"]) {
			continue
		}
		for _, s := range []string{".dtb", ".dtbauto", ".profile"} {
			if has(s) {
				return nil, fmt.Errorf("add-on %s: has a %s section, whose measurement is not modelled", a.Name, s)
			}
		}
		out = append(out, a)
	}
	return out, nil
}

// compareUTF16 orders ASCII names as the stub's strcmp16 does.
func compareUTF16(a, b string) int {
	return slices.Compare(utf16.Encode([]rune(a)), utf16.Encode([]rune(b)))
}

// cString is b up to its first NUL byte.
func cString(b []byte) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[:i]
	}
	return b
}

// strneq is the stub's strneq8(a, b, len(b)): a and b agree in their first
// len(b) bytes, each ending at a NUL.
func strneq(a, b []byte) bool {
	for i := 0; i < len(b); i++ {
		var ca byte
		if i < len(a) {
			ca = a[i]
		}
		if ca != b[i] {
			return false
		}
		if ca == 0 {
			return true
		}
	}
	return true
}

// MangleCmdline is the stub's mangle_stub_cmdline of the given major
// version, applied to every command line it takes. 262 (src/boot/util.c):
// leading characters up to U+0020 and U+007F dropped, each such character
// inside turned into a space, trailing ones dropped. 252
// (src/boot/efi/util.c): characters up to U+001F turned into spaces,
// trailing spaces dropped.
func MangleCmdline(major int, s string) string {
	u := utf16.Encode([]rune(s))
	if major >= 262 {
		ws := func(c uint16) bool { return c <= 0x20 || c == 0x7f }
		i := 0
		for i < len(u) && ws(u[i]) {
			i++
		}
		u = slices.Clone(u[i:])
		end := 0
		for j, c := range u {
			if ws(c) {
				u[j] = ' '
			} else {
				end = j + 1
			}
		}
		return string(utf16.Decode(u[:end]))
	}
	u = slices.Clone(u)
	for j, c := range u {
		if c <= 0x1f {
			u[j] = ' '
		}
	}
	for len(u) > 0 && u[len(u)-1] == ' ' {
		u = u[:len(u)-1]
	}
	return string(utf16.Decode(u))
}

// sectionString is the stub's reading of a text section (pe_section_to_str16:
// UTF-8 up to the first NUL, as UTF-16).
func sectionString(name, section string, b []byte) (string, error) {
	b = cString(b)
	if !utf8.Valid(b) {
		return "", fmt.Errorf("%s: %s is not valid UTF-8 (how the stub converts it is not modelled)", name, section)
	}
	return string(b), nil
}

// utf16z is s in UTF-16LE with its terminating NUL: what the stub hashes for
// a command line (strsize16).
func utf16z(s string) []byte {
	u := utf16.Encode([]rune(s))
	out := make([]byte, 2*len(u)+2)
	for i, c := range u {
		binary.LittleEndian.PutUint16(out[2*i:], c)
	}
	return out
}

// LoadOptionsEvent is the stub's measurement of a command line into PCR 12
// (src/boot/measure.c, tpm_log_load_options; the same in 252 and 262):
// EV_IPL, digest H(the string in UTF-16LE with its NUL), the string as
// the event data.
func LoadOptionsEvent(cmdline string, banks []pcr.Bank) Event {
	return hashEvent(12, EvIPL, cmdline, utf16z(cmdline), banks)
}

// ProfileEvent is systemd-stub 262's measurement of a non-default profile
// (src/boot/stub.c, measure_profile): into PCR 12, EV_EVENT_TAG with tag
// ProfileEventTag, digest H(the number in decimal, UTF-16LE, with its NUL),
// the same string as the tagged event's data.
func ProfileEvent(profile uint, banks []pcr.Bank) Event {
	s := strconv.FormatUint(uint64(profile), 10)
	return hashEvent(12, EvEventTag, fmt.Sprintf("tag %#x profile %s", ProfileEventTag, s), utf16z(s), banks)
}

// CommandLine returns the command line the stub hands to the kernel (what
// Linux's EFI stub measures into PCR 9) and the PCR 12 events of its
// parts, in the stub's order:
//
//   - 262 (src/boot/stub.c, process_arguments and settle_command_line):
//     the load options, mangled, replace .cmdline unless Secure Boot is on
//     and the UKI has a .cmdline (then they are dropped, unmeasured);
//     used, they are measured (LoadOptionsEvent). Then the .cmdline
//     sections of the add-ons (usedAddons' order), each mangled, joined
//     with spaces and mangled again, are appended after a space and
//     measured as one LoadOptionsEvent (load_addons,
//     cmdline_append_and_measure_addons).
//   - 252 (src/boot/efi/stub.c, use_load_options): the same rule for the
//     load options (not used when they start with a character up to
//     U+001F); no add-ons.
//
// Not modelled: the SMBIOS OEM string io.systemd.stub.kernel-cmdline-extra
// (another PCR 12 event) and confidential VMs (whose load options 262
// drops). The console= arguments 262 appends afterwards (not measured by
// the stub, but part of what Linux measures into PCR 9) are
// AppendConsoles'.
func (b StubBoot) CommandLine(banks []pcr.Bank) (string, []Event, error) {
	if err := b.check(); err != nil {
		return "", nil, err
	}
	base := ""
	if b.HasCmdline {
		s, err := sectionString("the UKI", ".cmdline", b.Cmdline)
		if err != nil {
			return "", nil, err
		}
		base = MangleCmdline(b.Major, s)
	}
	var evs []Event
	cmdline, used := "", false
	if opts := b.LoadOptions; opts != "" {
		for _, r := range opts {
			if r <= 0x1f {
				return "", nil, fmt.Errorf("load options %q: a control character makes the stub ignore them; give none", opts)
			}
		}
		if !(b.SecureBoot && b.HasCmdline) {
			// 252 measures and uses them even when nothing is left after
			// mangling; 262 then falls back to .cmdline.
			cmdline = MangleCmdline(b.Major, opts)
			used = b.Major == 252 || cmdline != ""
			if used {
				evs = append(evs, LoadOptionsEvent(cmdline, banks))
			}
		}
	}
	if !used {
		cmdline = base
	}
	addons, err := b.usedAddons()
	if err != nil {
		return "", nil, err
	}
	var extra []string
	found := false
	for _, a := range addons {
		c, ok := a.Sections[".cmdline"]
		if !ok {
			continue
		}
		s, err := sectionString("add-on "+a.Name, ".cmdline", c)
		if err != nil {
			return "", nil, err
		}
		extra = append(extra, MangleCmdline(b.Major, s))
		found = true
	}
	if found {
		if add := MangleCmdline(b.Major, strings.Join(extra, " ")); add != "" {
			evs = append(evs, LoadOptionsEvent(add, banks))
			if cmdline == "" {
				cmdline = add
			} else {
				cmdline += " " + add
			}
		}
	}
	return cmdline, evs, nil
}

// KernelConfigEvents returns what systemd-stub measures into PCR 12 and 13
// when it boots, in its order (src/boot/stub.c, v262: run):
//
//  1. the profile, if not 0 (ProfileEvent, measure_profile);
//  2. the load options and the add-ons' command lines (CommandLine);
//  3. the credentials and extensions (ExtrasEvents,
//     generate_sidecar_initrds);
//  4. the add-ons' .ucode sections, last add-on first
//     (measure_and_append_ucode_addons), then their .initrd sections
//     (measure_and_append_initrd_addons): EV_EVENT_TAG with tag
//     UcodeAddonEventTag or InitrdAddonEventTag, digest H(the section), the
//     add-on's file name as the tagged event's data.
//
// Without a profile, load options or add-ons this is ExtrasEvents, for any
// stub version; with them only 262 and 252 are modelled (252 measures load
// options only; it has no add-ons or profiles).
func (b StubBoot) KernelConfigEvents(banks []pcr.Bank) ([]Event, error) {
	if err := b.check(); err != nil {
		return nil, err
	}
	var evs []Event
	if b.Profile != 0 {
		evs = append(evs, ProfileEvent(b.Profile, banks))
	}
	_, cmd, err := b.CommandLine(banks)
	if err != nil {
		return nil, err
	}
	evs = append(evs, cmd...)
	x, err := ExtrasEvents(b.Extras, banks)
	if err != nil {
		return nil, err
	}
	evs = append(evs, x...)
	addons, err := b.usedAddons()
	if err != nil {
		return nil, err
	}
	for i := len(addons) - 1; i >= 0; i-- {
		if u, ok := addons[i].Sections[".ucode"]; ok && len(u) > 0 {
			evs = append(evs, hashEvent(12, EvEventTag, fmt.Sprintf("tag %#x ucode add-on %s", UcodeAddonEventTag, addons[i].Name), u, banks))
		}
	}
	for _, a := range addons {
		if d, ok := a.Sections[".initrd"]; ok && len(d) > 0 {
			evs = append(evs, hashEvent(12, EvEventTag, fmt.Sprintf("tag %#x initrd add-on %s", InitrdAddonEventTag, a.Name), d, banks))
		}
	}
	return evs, nil
}

// LinuxInitrd returns the initrd the stub hands to the kernel given base,
// what StubInitrd returns for the UKI and its extras: 262 puts the add-ons'
// .ucode sections (last add-on first) before it and their .initrd
// sections after it, and, when there is more than one piece, pads each to
// 4 bytes (src/boot/stub.c, run; combine_initrds). Without add-ons it is
// base, or nil when base is nil or empty (no initrd).
func (b StubBoot) LinuxInitrd(base pcr.Sized) (pcr.Sized, error) {
	addons, err := b.usedAddons()
	if err != nil {
		return nil, err
	}
	var pieces []pcr.Sized
	for i := len(addons) - 1; i >= 0; i-- {
		if u := addons[i].Sections[".ucode"]; len(u) > 0 {
			pieces = append(pieces, pcr.Bytes(u))
		}
	}
	if base != nil && base.Size() > 0 {
		pieces = append(pieces, base)
	}
	for _, a := range addons {
		if d := a.Sections[".initrd"]; len(d) > 0 {
			pieces = append(pieces, pcr.Bytes(d))
		}
	}
	return combineInitrds(pieces), nil
}

// Applied returns the names of the add-ons the stub applies, in its order.
func (b StubBoot) Applied() ([]string, error) {
	addons, err := b.usedAddons()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, a := range addons {
		out = append(out, a.Name)
	}
	return out, nil
}

// Loaded returns the add-ons the stub loads through the firmware's
// LoadImage, in its order: every one of b.Addons for 262 (global first,
// then the UKI's own, each sorted by name; load_addons loads each before
// it looks at its sections), none for 252. The firmware measures each into
// PCR 4 (and, under Secure Boot, its authority into PCR 7).
//
// It fails for a version whose add-on handling is not modelled, and with an
// *AddonMachineError for an add-on whose Machine is not the UKI's.
func (b StubBoot) Loaded() ([]Addon, error) {
	if err := b.check(); err != nil {
		return nil, err
	}
	if b.Major != 262 {
		return nil, nil
	}
	for _, a := range b.Addons {
		if a.Machine != 0 && b.Machine != 0 && a.Machine != b.Machine {
			name := a.Path
			if name == "" {
				name = a.Name
			}
			return nil, &AddonMachineError{Addon: name, AddonMachine: a.Machine, UKIMachine: b.Machine}
		}
	}
	var global, local []Addon
	for _, a := range b.Addons {
		if a.Global {
			global = append(global, a)
		} else {
			local = append(local, a)
		}
	}
	byName := func(x, y Addon) int { return compareUTF16(x.Name, y.Name) }
	slices.SortFunc(global, byName)
	slices.SortFunc(local, byName)
	return slices.Concat(global, local), nil
}
