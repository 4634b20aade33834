package pcr

import (
	"fmt"
	"strconv"
	"strings"
)

// Located is what systemd-stub finds in a UKI when it boots one profile:
// the sections it measures (see Measure) and the .dtbauto and .efifw
// sections it picks one of each from by hardware.
type Located struct {
	// Profile is the profile booted (0: the default).
	Profile int
	// Sections holds, for each section name, the section the stub uses:
	// the first of that name among the profile's sections, else the first
	// among the base sections (those before the first .profile). .dtbauto
	// and .efifw sections are not here.
	Sections []Section
	// DTBAuto are the .dtbauto sections the stub picks from: it measures
	// the first whose devicetree matches the machine (by the firmware's
	// devicetree or the .hwids table), or none. The profile's come first,
	// then the base's.
	DTBAuto []Section
	// EFIFW are the .efifw sections the stub picks from, profile's first,
	// then the base's. Stubs that select firmware (see SelectsEFIFW)
	// measure, after .hwids, the first .efifw whose firmware ID is that of
	// the firmware entry of .hwids matching the machine's CHIDs, or none;
	// older stubs never measure one. The stub looks for that entry in the
	// .hwids of the same range (the base's, or the profile's own), so the
	// .efifw sections of a range without .hwids are no candidates. Those
	// it can never pick for other reasons (a firmware ID no entry names, a
	// second .efifw of the same ID, a malformed header) are still listed.
	EFIFW []Section
}

// CountProfiles returns the number of profiles of a UKI with the given
// sections (in PE order): the number of .profile sections, or 1 when there
// is none (the stub boots the base sections as profile 0).
func CountProfiles(sections []Section) int {
	n := 0
	for _, s := range sections {
		if s.Name == ".profile" {
			n++
		}
	}
	return max(n, 1)
}

// LocateProfile returns what systemd-stub 257 to 262 uses when it boots
// profile n of a UKI whose sections, in PE order, are sections
// (src/boot/stub.c find_sections, src/boot/pe.c pe_locate_profile_sections):
// the base sections, those before the first .profile, overridden by the
// sections of profile n, which start with the n-th .profile section
// (counting from 0) and end before the next. Within each range the first
// section of a name wins. Profile 0 of a UKI without .profile sections is
// the base alone.
//
// .dtbauto and .efifw sections are candidates (Located.DTBAuto and
// Located.EFIFW), not Sections: the stub measures at most one of each,
// the one matching the machine (see Located.With); .efifw sections only
// where their range (base or profile) has a .hwids.
func LocateProfile(sections []Section, n int) (*Located, error) {
	if count := CountProfiles(sections); n < 0 || n >= count {
		return nil, fmt.Errorf("profile %d does not exist: the UKI has %d profile(s), 0 to %d", n, count, count-1)
	}
	loc := &Located{Profile: n}
	var base, prof []Section
	var baseDTB, profDTB, baseFW, profFW []Section
	baseHWIDs, profHWIDs := false, false
	current := -1 // -1: base; then the index of the .profile seen last
	for _, s := range sections {
		if s.Name == ".profile" {
			current++
		}
		switch {
		case current == -1:
			switch s.Name {
			case ".dtbauto":
				baseDTB = append(baseDTB, s)
			case ".efifw":
				baseFW = append(baseFW, s)
			default:
				baseHWIDs = baseHWIDs || s.Name == ".hwids"
				base = append(base, s)
			}
		case current == n:
			switch s.Name {
			case ".dtbauto":
				profDTB = append(profDTB, s)
			case ".efifw":
				profFW = append(profFW, s)
			default:
				profHWIDs = profHWIDs || s.Name == ".hwids"
				prof = append(prof, s)
			}
		}
	}
	seen := map[string]int{}
	for _, list := range [][]Section{base, prof} {
		inRange := map[string]bool{}
		for _, s := range list {
			if inRange[s.Name] {
				continue
			}
			inRange[s.Name] = true
			if i, ok := seen[s.Name]; ok {
				loc.Sections[i] = s
				continue
			}
			seen[s.Name] = len(loc.Sections)
			loc.Sections = append(loc.Sections, s)
		}
	}
	loc.DTBAuto = append(profDTB, baseDTB...)
	// pe_locate_sections (src/boot/pe.c, v262.1) matches .efifw against
	// the .hwids it finds among the sections of the range it is given:
	// the base's, then the profile's (pe_locate_profile_sections).
	if profHWIDs {
		loc.EFIFW = append(loc.EFIFW, profFW...)
	}
	if baseHWIDs {
		loc.EFIFW = append(loc.EFIFW, baseFW...)
	}
	return loc, nil
}

// WithDTBAuto returns the sections measured when the stub picked the i-th
// .dtbauto candidate (i < 0: none matched) and no .efifw: With(i, -1).
func (l *Located) WithDTBAuto(i int) ([]Section, error) { return l.With(i, -1) }

// With returns the sections measured when the stub picked the dtb-th
// .dtbauto candidate and the fw-th .efifw candidate (a negative index: none
// of that kind). Measure puts each in its place in the stub's order
// (.efifw after .hwids); the candidates not picked are not measured.
func (l *Located) With(dtb, fw int) ([]Section, error) {
	out := append([]Section(nil), l.Sections...)
	if dtb >= len(l.DTBAuto) {
		return nil, fmt.Errorf(".dtbauto %d does not exist: profile %d has %d .dtbauto section(s)", dtb, l.Profile, len(l.DTBAuto))
	}
	if fw >= len(l.EFIFW) {
		return nil, fmt.Errorf(".efifw %d does not exist: profile %d has %d .efifw section(s)", fw, l.Profile, len(l.EFIFW))
	}
	if dtb >= 0 {
		out = append(out, l.DTBAuto[dtb])
	}
	if fw >= 0 {
		out = append(out, l.EFIFW[fw])
	}
	return out, nil
}

// SelectsEFIFW reports whether systemd-stub of the given version (as for
// OrderFor: "262.1", "v261.1", "261.1-1") selects, and so measures, a
// .efifw section. Stubs 258 to 261.0 list .efifw among the sections they
// measure but look the machine up among the devicetree entries of .hwids
// only (src/boot/pe.c pe_locate_sections passes DEVICE_TYPE_DEVICETREE to
// chid_match, systemd v258 to v261), and a devicetree entry has no
// firmware ID, so they never select one. 261.1 and 262 also look it up
// among the firmware entries (systemd commit 1f4f348c8e, "chid_match: match
// UEFI firmware hwid entry with the current smbios data"; src/boot/pe.c,
// tags v261.1 and v262.1).
func SelectsEFIFW(version string) (bool, error) {
	major, err := MajorVersion(version)
	if err != nil {
		return false, err
	}
	if major != 261 {
		return major > 261, nil
	}
	// 261.N: the number after the dot, if any ("261~rc2", "261-1" are 261.0).
	rest := strings.TrimPrefix(strings.TrimPrefix(version, "v"), "261")
	if !strings.HasPrefix(rest, ".") {
		return false, nil
	}
	rest = rest[1:]
	n := 0
	for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
		n++
	}
	minor, err := strconv.Atoi(rest[:n])
	if err != nil {
		return false, fmt.Errorf("systemd version %q: %w", version, err)
	}
	return minor >= 1, nil
}
