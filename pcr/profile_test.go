package pcr

import (
	"strings"
	"testing"
)

func names(secs []Section) string {
	var out []string
	for _, s := range secs {
		out = append(out, s.Name+"="+string(s.Content.(bytesContent)))
	}
	return strings.Join(out, " ")
}

// TestLocateProfile follows systemd-stub's find_sections: base sections
// before the first .profile, overridden by the n-th profile's, the first of
// a name winning in each range; .dtbauto and .efifw as candidates, the
// profile's first.
func TestLocateProfile(t *testing.T) {
	sec := func(name, data string) Section { return Section{name, Bytes([]byte(data))} }
	uki := []Section{
		sec(".linux", "k"), sec(".cmdline", "base"), sec(".cmdline", "shadowed"), sec(".dtbauto", "d1"),
		sec(".dtbauto", "d2"), sec(".efifw", "fw"), sec(".hwids", "h"), sec(".sbat", "s"),
		sec(".profile", "ID=main"), sec(".pcrsig", "sig0"),
		sec(".profile", "ID=one"), sec(".cmdline", "one"), sec(".cmdline", "one-shadowed"), sec(".efifw", "fw1"), sec(".hwids", "h1"), sec(".pcrsig", "sig1"),
		sec(".profile", "ID=two"), sec(".dtbauto", "d3"), sec(".efifw", "fw2"), sec(".osrel", "two"),
	}
	if n := CountProfiles(uki); n != 3 {
		t.Errorf("CountProfiles = %d, want 3", n)
	}
	for _, c := range []struct {
		profile  int
		sections string
		dtbauto  string
		efifw    string
	}{
		{0, ".linux=k .cmdline=base .hwids=h .sbat=s .profile=ID=main .pcrsig=sig0", ".dtbauto=d1 .dtbauto=d2", ".efifw=fw"},
		{1, ".linux=k .cmdline=one .hwids=h1 .sbat=s .profile=ID=one .pcrsig=sig1", ".dtbauto=d1 .dtbauto=d2", ".efifw=fw1 .efifw=fw"},
		// Profile 2 has no .hwids of its own: its .efifw is matched
		// against none, so never picked.
		{2, ".linux=k .cmdline=base .hwids=h .sbat=s .profile=ID=two .osrel=two", ".dtbauto=d3 .dtbauto=d1 .dtbauto=d2", ".efifw=fw"},
	} {
		loc, err := LocateProfile(uki, c.profile)
		if err != nil {
			t.Fatal(err)
		}
		if got := names(loc.Sections); got != c.sections {
			t.Errorf("profile %d: sections %s, want %s", c.profile, got, c.sections)
		}
		if got := names(loc.DTBAuto); got != c.dtbauto {
			t.Errorf("profile %d: .dtbauto %s, want %s", c.profile, got, c.dtbauto)
		}
		if got := names(loc.EFIFW); got != c.efifw {
			t.Errorf("profile %d: .efifw %s, want %s", c.profile, got, c.efifw)
		}
		last := len(loc.EFIFW) - 1
		both, err := loc.With(0, last)
		if want := c.sections + " " + names(loc.DTBAuto[:1]) + " " + names(loc.EFIFW[last:]); err != nil || names(both) != want {
			t.Errorf("profile %d: With(0, %d) = %s, %v; want %s", c.profile, last, names(both), err, want)
		}
		if fwOnly, err := loc.With(-1, 0); err != nil || names(fwOnly) != c.sections+" "+names(loc.EFIFW[:1]) {
			t.Errorf("profile %d: With(-1, 0) = %s, %v", c.profile, names(fwOnly), err)
		}
		if _, err := loc.With(0, len(loc.EFIFW)); err == nil || !strings.Contains(err.Error(), ".efifw") {
			t.Errorf("profile %d: a .efifw past the last was accepted: %v", c.profile, err)
		}
		with, err := loc.WithDTBAuto(1)
		if err != nil || names(with[len(with)-1:]) != names(loc.DTBAuto[1:2]) || len(with) != len(loc.Sections)+1 {
			t.Errorf("profile %d: WithDTBAuto(1) = %s, %v", c.profile, names(with), err)
		}
		if none, _ := loc.WithDTBAuto(-1); names(none) != c.sections {
			t.Errorf("profile %d: WithDTBAuto(-1) = %s", c.profile, names(none))
		}
		if _, err := loc.WithDTBAuto(len(loc.DTBAuto)); err == nil {
			t.Errorf("profile %d: a .dtbauto past the last was accepted", c.profile)
		}
	}
	if _, err := LocateProfile(uki, 3); err == nil {
		t.Error("profile 3 of 3 was accepted")
	}
	plain := []Section{sec(".linux", "k"), sec(".cmdline", "c"), sec(".efifw", "fw")}
	if loc, err := LocateProfile(plain, 0); err != nil || names(loc.Sections) != ".linux=k .cmdline=c" || len(loc.EFIFW) != 0 {
		t.Errorf("profile 0 of a UKI without profiles and .hwids: %v, %v", loc, err)
	}
	if _, err := LocateProfile(plain, 1); err == nil {
		t.Error("profile 1 of a UKI without profiles was accepted")
	}
}

// TestSelectsEFIFW: stubs from 261.1 on select .efifw (the tags v261.1 and
// v262.1 of src/boot/pe.c call chid_match with DEVICE_TYPE_UEFI_FW), older
// ones never do (v258 to v261 call it with DEVICE_TYPE_DEVICETREE only).
func TestSelectsEFIFW(t *testing.T) {
	for v, want := range map[string]bool{
		"252": false, "257.13-1~deb13u1": false, "258": false, "260.4": false, "261": false, "v261": false,
		"261~rc4": false, "261-1": false, "261.0": false, "261.1": true, "v261.2": true, "261.10-1": true,
		"262": true, "262~rc1": true, "262.1-1": true, "263": true,
	} {
		got, err := SelectsEFIFW(v)
		if err != nil || got != want {
			t.Errorf("SelectsEFIFW(%q) = %v, %v; want %v", v, got, err, want)
		}
	}
	for _, v := range []string{"", "x262", "261.x"} {
		if _, err := SelectsEFIFW(v); err == nil {
			t.Errorf("SelectsEFIFW(%q) accepted", v)
		}
	}
}
