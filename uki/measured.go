package uki

import (
	"fmt"

	"github.com/ukibuild/ukibuild/pcr"
)

// ProfileError is a profile the image does not have.
type ProfileError struct {
	Profile int
	Err     error // pcr.LocateProfile's: how many profiles there are
}

func (e *ProfileError) Error() string { return e.Err.Error() }

func (e *ProfileError) Unwrap() error { return e.Err }

// CandidateError says that a profile has .dtbauto or .efifw sections, of which
// the stub measures the one that suits the machine, and the pick is not
// known; or (NeverSelects) that a .efifw pick was given for a stub that
// never selects one (pcr.SelectsEFIFW).
type CandidateError struct {
	Section      string // ".dtbauto" or ".efifw"
	Profile      int
	Count        int    // the profile's sections of that name
	StubVersion  string // for .efifw: the stub's version
	NeverSelects bool
	Pick         int // with NeverSelects: the pick given
}

func (e *CandidateError) Error() string {
	switch {
	case e.NeverSelects:
		return fmt.Sprintf("systemd-stub %s never selects a .efifw section (stubs from 261.1 on do)", e.StubVersion)
	case e.Section == ".efifw":
		return fmt.Sprintf("profile %d has %d .efifw sections, of which systemd-stub %s measures the one whose firmware ID the .hwids entry matching the machine names: the pick is needed", e.Profile, e.Count, e.StubVersion)
	}
	return fmt.Sprintf("profile %d has %d .dtbauto sections, of which the stub measures the one matching the machine: the pick is needed", e.Profile, e.Count)
}

// StubVersionError is a stub version MeasuredSections cannot read.
type StubVersionError struct {
	Version string
	Err     error
}

func (e *StubVersionError) Error() string { return "stub version: " + e.Err.Error() }

func (e *StubVersionError) Unwrap() error { return e.Err }

// ProfileSections returns the sections systemd-stub of version
// stubVersion measures into PCR 11 when it boots profile n of the image
// (the base sections overridden by the profile's: pcr.LocateProfile),
// with the .dtbauto and .efifw sections it picked: dtbauto and efifw are
// indexes among the profile's sections of that name, -1 when none
// matched the machine, nil when the pick is not known. A profile that
// does not exist is a *ProfileError; an unknown pick among sections the
// stub picks from, and a .efifw pick for a stub that never picks one, a
// *CandidateError; a version pcr.SelectsEFIFW cannot read a
// *StubVersionError. stubVersion is used (pcr.SelectsEFIFW) only when the
// profile has .efifw sections or efifw picks one.
func (img *ImageFile) ProfileSections(stubVersion string, n int, dtbauto, efifw *int) ([]pcr.Section, error) {
	var all []pcr.Section
	for _, s := range img.Sections() {
		all = append(all, pcr.Section{Name: s.Name, Content: s.Content})
	}
	loc, err := pcr.LocateProfile(all, n)
	if err != nil {
		return nil, &ProfileError{Profile: n, Err: err}
	}
	if dtbauto == nil && len(loc.DTBAuto) > 0 {
		return nil, &CandidateError{Section: ".dtbauto", Profile: n, Count: len(loc.DTBAuto)}
	}
	dtb, fw := -1, -1
	if dtbauto != nil {
		dtb = *dtbauto
	}
	if efifw != nil {
		fw = *efifw
	}
	if len(loc.EFIFW) > 0 || fw >= 0 {
		selects, err := pcr.SelectsEFIFW(stubVersion)
		if err != nil {
			return nil, &StubVersionError{Version: stubVersion, Err: err}
		}
		switch {
		case !selects && fw >= 0:
			return nil, &CandidateError{Section: ".efifw", Profile: n, Count: len(loc.EFIFW), StubVersion: stubVersion, NeverSelects: true, Pick: fw}
		case selects && efifw == nil:
			return nil, &CandidateError{Section: ".efifw", Profile: n, Count: len(loc.EFIFW), StubVersion: stubVersion}
		}
	}
	return loc.With(dtb, fw)
}
