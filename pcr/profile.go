package pcr

import (
	"fmt"
)

// Located is what systemd-stub finds in a UKI when it boots one profile:
// the sections it measures (see Measure) and the .dtbauto sections it picks
// one from by hardware.
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
// .efifw sections are left out: the stub selects one only for a device that
// .hwids maps to firmware, but it looks the machine up among devicetree
// devices only (pe_locate_sections passes DEVICE_TYPE_DEVICETREE to
// chid_match), so it never selects, and never measures, a .efifw section.
func LocateProfile(sections []Section, n int) (*Located, error) {
	if count := CountProfiles(sections); n < 0 || n >= count {
		return nil, fmt.Errorf("profile %d does not exist: the UKI has %d profile(s), 0 to %d", n, count, count-1)
	}
	loc := &Located{Profile: n}
	var base, prof []Section
	var baseDTB, profDTB []Section
	current := -1 // -1: base; then the index of the .profile seen last
	for _, s := range sections {
		if s.Name == ".profile" {
			current++
		}
		switch {
		case current == -1:
			if s.Name == ".dtbauto" {
				baseDTB = append(baseDTB, s)
			} else {
				base = append(base, s)
			}
		case current == n:
			if s.Name == ".dtbauto" {
				profDTB = append(profDTB, s)
			} else {
				prof = append(prof, s)
			}
		}
	}
	seen := map[string]int{}
	for _, list := range [][]Section{base, prof} {
		inRange := map[string]bool{}
		for _, s := range list {
			if s.Name == ".efifw" || inRange[s.Name] {
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
	return loc, nil
}

// WithDTBAuto returns the sections measured when the stub picked the i-th
// .dtbauto candidate (i < 0: none matched).
func (l *Located) WithDTBAuto(i int) ([]Section, error) {
	out := append([]Section(nil), l.Sections...)
	if i < 0 {
		return out, nil
	}
	if i >= len(l.DTBAuto) {
		return nil, fmt.Errorf(".dtbauto %d does not exist: profile %d has %d .dtbauto section(s)", i, l.Profile, len(l.DTBAuto))
	}
	return append(out, l.DTBAuto[i]), nil
}
