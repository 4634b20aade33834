package attest

import (
	"github.com/ukibuild/ukibuild/eventlog"
	"github.com/ukibuild/ukibuild/pcr"
	"github.com/ukibuild/ukibuild/shim"
)

// PredictedPCRs are the PCRs Predict can predict.
var predictedPCRs = []int{4, 7, 9, 11, 12, 13, 14}

// PredictedPCRs returns the PCRs Predict can predict: 4, 7, 9, 11, 12, 13
// and 14 (which only shim measures into: without shim among the loaders it
// has no events).
func PredictedPCRs() []int { return append([]int(nil), predictedPCRs...) }

// Machine is what a verifier knows about the machine that boots a UKI:
// what the firmware holds, what else is on its ESP, and how the UKI is
// started. The zero value predicts a direct boot of the UKI by the firmware
// (one boot attempt), its default profile, no files on the ESP beyond the
// UKI's own FILE.extra.d/, and no PCR 7 (which needs the Secure Boot
// variables).
type Machine struct {
	// PCRs are the PCRs to predict (PredictedPCRs); empty: 4, 9, 11, 12
	// and 13, and 7 when SecureBoot is set.
	PCRs []int
	// Banks are the PCR banks to predict digests in; empty: all four
	// (pcr.AllBanks), so that a log from any TPM can be compared (in the
	// banks both have).
	Banks []pcr.Bank

	// StubVersion overrides the systemd-stub version read from the UKI
	// (its .sdmagic): what the stub measures and in what order depends on
	// it.
	StubVersion string
	// Profile is the profile the stub boots (an "@N" load option); 0, the
	// default profile, is not measured.
	Profile int
	// CmdlineOverride is a command line passed to the UKI in its load
	// options (without the "@N" prefix); the stub ignores it under Secure
	// Boot when the UKI has a .cmdline.
	CmdlineOverride string
	// DTBAuto and EFIFW say which .dtbauto and .efifw sections of the
	// profile the stub measures into PCR 11, as indexes into
	// pcr.Located's candidates (-1: none of that kind). nil: unknown;
	// PCR 11 of a profile with .dtbauto candidates, or with .efifw
	// candidates under a stub that selects firmware (pcr.SelectsEFIFW),
	// is then not predicted (an error).
	DTBAuto, EFIFW *int

	// BootAttempts is the number of boot options the firmware tried up to
	// the one that started the first image (each adds a "Returning from
	// EFI Application" event to PCR 4); 0 means 1.
	BootAttempts int
	// Loaders are the boot loader images (shim, systemd-boot; paths to the
	// signed files as on the ESP) the firmware started before the UKI, in
	// order, the last one starting the UKI. Their PCR 4 images and PCR 7
	// authorities are predicted; what they measure themselves is not,
	// except for shim (recognised by its .data.ident section; package
	// shim): its PCR 7 and PCR 14 events, and the PCR 7 authority of each
	// image after it, which shim, not the firmware, verifies.
	Loaders []string
	// Entry is the Boot Loader Specification Type #1 entry through which
	// systemd-boot (the last of Loaders, which must be systemd-boot 262
	// by its .sdmagic: the only version examined) starts the UKI; its paths are
	// read from ESP. systemd-boot 262 measures the entry's extra files
	// into PCR 12 and 13 (eventlog.EntryExtrasEvents) and the load options it
	// passes ("@N" for a profile, then the options) into PCR 12 before it
	// starts the UKI, whose stub then boots that profile with those
	// options and hands the extra files' initrd on to Linux (PCR 9):
	// Profile and CmdlineOverride are taken from the entry and must not be
	// set. nil: no entry (the UKI is started as a Type #2
	// entry, or directly).
	Entry *Entry
	// Shim are the shim variables of the machine (MokList, SbatLevel,
	// ...), for a shim among Loaders; nil: none (a fresh install with no
	// MOK enrolled). Predict refuses them when PCR 7 or 14 is asked and
	// no loader is shim, and notes that they change nothing when neither
	// is asked.
	Shim *shim.Variables

	// ESP is the root of the EFI system partition, for the global
	// credentials (/loader/credentials/*.cred), extensions
	// (/loader/extensions/*.raw, *.confext.raw) and add-ons
	// (/loader/addons/*.addon.efi) the stub picks up; empty: none.
	ESP string
	// ExtraDir is the UKI's own directory of credentials, extensions and
	// add-ons; empty: the UKI's path with ".extra.d" appended, as the stub
	// looks for it.
	ExtraDir string

	// Consoles are the consoles the firmware offers (systemd-stub 262
	// appends a console= argument for each to a command line that has
	// none, and Linux measures the result into PCR 9); nil: unknown, and
	// PCR 9's command line event is predicted for each outcome the stub's
	// rule allows (eventlog.ConsoleCandidates), Verify reporting which one the
	// log shows.
	Consoles *eventlog.Consoles

	// BootSecret says that the machine may hand the UKI a boot secret:
	// systemd-stub 261 and later add /.extra/boot-secret to the initrd
	// when a Linux random seed table exists (systemd-boot, or the stub
	// itself, made one from an EFI RNG and \loader\random-seed;
	// eventlog.AddsBootSecret has the conditions), and Linux measures that
	// initrd into PCR 9. The secret comes from an EFI variable the OS
	// never sees, so PCR 9's initrd event is then machine-specific: Predict
	// marks it (Reference.MachineSpecific) and Verify checks the rest of
	// PCR 9 and reports the PCR as Unverifiable, neither a match nor a
	// mismatch, unless the log's initrd event is the one without a secret
	// (a boot that made none). Set it for machines with systemd-boot or an
	// EFI RNG; with stubs before 261 it changes nothing.
	BootSecret bool

	// SecureBoot are the firmware's Secure Boot variables; nil: PCR 7 is
	// not predicted.
	SecureBoot *SecureBoot

	// Warn, when set, receives what the prediction assumed or left out
	// that a reader should know (the Reference's Notes have them too).
	Warn func(msg string)
}

// SecureBoot are the firmware's Secure Boot variables as EDK2 measures
// them into PCR 7.
type SecureBoot struct {
	// Disabled: the SecureBoot variable is 0 (no image is verified, so no
	// authority is measured).
	Disabled bool
	// PK, KEK, DB and DBX are the variables' contents: EFI signature
	// lists (EFI_SIGNATURE_LIST) as enrolled, byte for byte. Empty means
	// the variable does not exist. The authority of each image is found
	// among DB's X.509 entries.
	PK, KEK, DB, DBX []byte
}

func (m *Machine) banks() []pcr.Bank {
	return pcr.NormalizeBanks(m.Banks)
}

func (m *Machine) pcrs() []int {
	if len(m.PCRs) > 0 {
		return m.PCRs
	}
	if m.SecureBoot != nil {
		return []int{4, 7, 9, 11, 12, 13}
	}
	return []int{4, 9, 11, 12, 13}
}
