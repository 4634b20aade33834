package main

import (
	"fmt"
	"strings"
)

// usageError is a combination of options a command does not take (exit
// code 2, as kong's own usage errors): an option the chosen mode would
// ignore is refused rather than dropped silently.
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

// flagSet collects the names of options given.
type flagSet []string

func (f *flagSet) add(given bool, name string) {
	if given {
		*f = append(*f, "--"+name)
	}
}

// given lists the prediction options set to other than their defaults
// (TestEventPredictionGiven checks that it knows every field).
func (p eventPrediction) given() flagSet {
	var f flagSet
	f.add(p.BootAttempts != 1, "boot-attempts")
	f.add(p.PK != "", "pk")
	f.add(len(p.KEK) > 0, "kek")
	f.add(len(p.DB) > 0, "db")
	f.add(len(p.DBX) > 0, "dbx")
	f.add(p.OwnerGUID != "", "owner-guid")
	f.add(!p.SecureBoot, "secure-boot")
	f.add(p.ESP != "", "esp")
	f.add(len(p.Loader) > 0, "loader")
	f.add(p.Entry != "", "entry")
	f.add(len(p.MOK) > 0, "mok")
	f.add(len(p.ShimVars) > 0, "shim-var")
	f.add(p.Consoles != "", "consoles")
	f.add(p.BootSecret, "boot-secret")
	f.add(p.CmdlineOverride != "", "cmdline-override")
	return f
}

// checkModeFlags refuses the options of measure FILE that its mode does
// not use: plain PCR 11 (the sections only) takes none of the boot's
// description, and --pcrlock and --keylime-policy without --explain print
// no events (so no --phase, --systemd-version or JSON).
func (m *measureFileCmd) checkModeFlags() error {
	var unused flagSet
	var mode string
	switch {
	case m.Explain:
		return nil // all are used (--stub is refused by Run)
	case m.PCRLock != "" || m.Keylime != "":
		mode = "--pcrlock and --keylime-policy without --explain"
		unused.add(len(m.Phase) > 0, "phase")
		unused.add(m.SystemdVersion != "", "systemd-version")
		unused.add(m.JSON != "", "json")
		unused.add(m.J, "j")
	default:
		mode = "measure FILE without --explain, --pcrlock or --keylime-policy (PCR 11 from the UKI's sections)"
		unused = m.eventPrediction.given()
		unused.add(m.PCRs != "11", "pcrs")
		unused.add(m.SystemdVersion != "", "systemd-version")
	}
	if len(unused) == 0 {
		return nil
	}
	return usageError{fmt.Sprintf("%s: not used by %s", strings.Join(unused, ", "), mode)}
}

// checkModeFlags refuses, without --uki, the options that describe the
// boot to predict: only the log's replay is checked then.
func (c *eventlogVerifyCmd) checkModeFlags() error {
	if c.UKI != "" {
		return nil
	}
	unused := c.eventPrediction.given()
	unused.add(c.StubVersion != "", "stub-version")
	unused.add(c.Profile != 0, "profile")
	unused.add(c.DTBAuto != "", "dtbauto")
	unused.add(c.EFIFW != "", "efifw")
	switch len(unused) {
	case 0:
		return nil
	case 1:
		return usageError{fmt.Sprintf("%s needs --uki (it describes the boot to predict; without --uki only the log's replay is checked)", unused[0])}
	}
	return usageError{fmt.Sprintf("%s need --uki (they describe the boot to predict; without --uki only the log's replay is checked)", strings.Join(unused, ", "))}
}
