package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/ukibuild/ukibuild/attest"
	"github.com/ukibuild/ukibuild/eventlog"
	"github.com/ukibuild/ukibuild/pcr"
	"github.com/ukibuild/ukibuild/quote"
	"github.com/ukibuild/ukibuild/secureboot"
	"github.com/ukibuild/ukibuild/shim"
	"github.com/ukibuild/ukibuild/uefi"
)

// eventPrediction are the options that say what booted, shared by
// "measure FILE --explain" and "eventlog verify".
type eventPrediction struct {
	BootAttempts int      `name:"boot-attempts" default:"1" help:"Boot options the firmware tried up to the one that started the UKI (each adds a \"Returning from EFI Application\" event to PCR 4)."`
	PK           string   `name:"pk" help:"PCR 7: the PK: a certificate (PEM or DER), EFI signature lists (.esl) or a signed update (.auth)." placeholder:"FILE"`
	KEK          []string `name:"kek" help:"PCR 7: a KEK certificate (PEM or DER), EFI signature lists (.esl) or signed update (.auth); repeatable, in enrolment order." placeholder:"FILE"`
	DB           []string `name:"db" help:"PCR 7: a db certificate (PEM or DER), EFI signature lists (.esl) or signed update (.auth); repeatable, in enrolment order. The authority of each image is found here, as EDK2 finds it." placeholder:"FILE"`
	DBX          []string `name:"dbx" help:"PCR 7: dbx as EFI signature lists (.esl), a signed update (.auth) or a certificate; repeatable. An image whose hash or certificate is in dbx is predicted as refused." placeholder:"FILE"`
	OwnerGUID    string   `name:"owner-guid" help:"PCR 7: the owner GUID of the certificates given as PEM or DER." placeholder:"GUID"`
	SecureBoot   bool     `name:"secure-boot" default:"true" negatable:"" help:"PCR 7: the SecureBoot variable is 1."`
	ESP          string   `name:"esp" help:"PCR 12, 13: the ESP, for /loader/credentials/*.cred, /loader/extensions/*.raw and *.confext.raw, and /loader/addons/*.addon.efi (the UKI's own FILE.efi.extra.d/ is read next to it)." placeholder:"DIR"`
	// Loader are the boot loader images the firmware started before the
	// UKI, in order (eventlog.FirmwareBoot.Chain: the first from the boot
	// option, each loading the next, the last loading the UKI).
	Loader []string `name:"loader" help:"PCR 4, 7: a boot loader image the firmware started before the UKI (shim, systemd-boot), as on the ESP (signed); repeatable, in the order they were started, the last one starting the UKI. shim (16.1) is recognised: its own PCR 7 and PCR 14 events are predicted too (see --mok, --shim-var)." placeholder:"FILE.efi"`
	// Entry is a Type #1 entry systemd-boot starts the UKI from.
	Entry string `name:"entry" help:"PCR 9, 12, 13 (and 11 for its profile): the Boot Loader Specification Type #1 entry (loader/entries/NAME.conf, a path from --esp's root unless absolute) through which systemd-boot (the last --loader) started the UKI: its 'extra' files (read from --esp) are measured into PCR 12 and 13 and passed on in the initrd (PCR 9), its load options ('@PROFILE OPTIONS') into PCR 12, and the stub boots that profile with those options (so not with --profile or --cmdline-override)." placeholder:"FILE.conf"`
	// MOK are certificates or signature lists enrolled in MokList.
	MOK []string `name:"mok" help:"PCR 7, 14 behind shim: a machine owner key enrolled in MokList: a certificate (PEM or DER; one signature list owned by shim's GUID 605dab50-e046-4300-abb6-3dd810dd8b23, as mokutil --import enrolls it) or EFI signature lists (.esl); repeatable, in enrolment order. Default: none." placeholder:"FILE"`
	// ShimVars are shim variables' contents, NAME=FILE.
	ShimVars []string `name:"shim-var" help:"PCR 7, 14 behind shim: a shim variable's data as stored, NAME=FILE, NAME one of MokList (instead of --mok), MokListX, MokListTrusted, MokSBState, MokDBState, MokPolicy, SbatLevel (the level in force before the boot), SbatPolicy; repeatable. Default: a fresh install (none set)." placeholder:"NAME=FILE"`
	// Consoles are the consoles the firmware offers (eventlog.ParseConsoles).
	Consoles string `name:"consoles" help:"PCR 9: the machine's consoles (serial=N for COM N, virtio, graphics; comma-separated; or none): systemd-stub 262 appends a console= argument for each to a command line that has none, and Linux measures it. Without it every outcome of the stub's rule is predicted, and eventlog verify says which one the log shows." placeholder:"LIST"`
	// BootSecret: the machine may have a boot secret (attest.Machine.BootSecret).
	BootSecret bool `name:"boot-secret" help:"PCR 9: the machine may hand the UKI a boot secret (it has systemd-boot, or an EFI RNG with a writable ESP): systemd-stub 261+ then adds /.extra/boot-secret to the initrd, whose digest only the machine knows. The initrd event is marked machine-specific, and eventlog verify checks the rest of PCR 9 and calls it unverifiable, neither a match nor a mismatch."`
	// CmdlineOverride is the command line passed in the UKI's load options.
	CmdlineOverride string `name:"cmdline-override" help:"PCR 9, 12: the kernel command line passed to the UKI in its load options (without an '@N' profile prefix; see --profile); the stub ignores it under Secure Boot when the UKI has a .cmdline." placeholder:"TEXT"`
	// dtbauto and efifw are the --dtbauto and --efifw picks of the
	// command (attest.Machine.DTBAuto, EFIFW).
	dtbauto, efifw *int
}

// pick sets the .dtbauto and .efifw picks from --dtbauto and --efifw
// ("": unknown, "none", or an index).
func (p *eventPrediction) pick(dtbauto, efifw string) error {
	var err error
	if p.dtbauto, err = candidatePick("--dtbauto", dtbauto); err == nil {
		p.efifw, err = candidatePick("--efifw", efifw)
	}
	return err
}

// machine turns the options into what the verifier knows of the
// machine (attest.Machine); the Secure Boot variables are read from the
// --pk, --kek, --db and --dbx files (certificates as PEM, owned by
// --owner-guid, or EFI signature lists).
func (p eventPrediction) machine(e *env, pcrs []int, banks []pcr.Bank, stubVersion string, profile int) (attest.Machine, error) {
	m := attest.Machine{PCRs: pcrs, Banks: banks, StubVersion: stubVersion, Profile: profile,
		CmdlineOverride: p.CmdlineOverride, BootAttempts: p.BootAttempts, Loaders: p.Loader, ESP: p.ESP,
		DTBAuto: p.dtbauto, EFIFW: p.efifw, BootSecret: p.BootSecret,
		Warn: func(msg string) { e.warnf("%s", msg) }}
	if p.Entry != "" {
		if p.ESP == "" {
			return m, fmt.Errorf("--entry needs --esp (the entry's paths are read from the ESP)")
		}
		if profile != 0 || p.CmdlineOverride != "" {
			return m, fmt.Errorf("--entry sets the profile and the command line (its 'profile' and 'options'): leave out --profile and --cmdline-override")
		}
		path := p.Entry
		if !filepath.IsAbs(path) {
			path = filepath.Join(p.ESP, path)
		}
		entry, err := attest.ReadEntry(path)
		if err != nil {
			return m, fmt.Errorf("--entry: %w", err)
		}
		m.Entry = entry
	}
	if err := p.shimVariables(&m); err != nil {
		return m, err
	}
	if p.Consoles != "" {
		c, err := eventlog.ParseConsoles(p.Consoles)
		if err != nil {
			return m, fmt.Errorf("--consoles: %w", err)
		}
		m.Consoles = &c
	}
	given := p.PK != "" || len(p.KEK) > 0 || len(p.DB) > 0 || len(p.DBX) > 0
	if slices.Contains(pcrs, 7) && (p.PK == "" || len(p.DB) == 0) {
		return m, fmt.Errorf("PCR 7 needs --pk and --db (and --kek, --dbx as enrolled)")
	}
	if !given && p.SecureBoot {
		return m, nil
	}
	files := attest.SecureBootFiles{PK: p.PK, KEK: p.KEK, DB: p.DB, DBX: p.DBX, Disabled: !p.SecureBoot}
	if p.OwnerGUID != "" {
		g, err := uefi.ParseGUID(p.OwnerGUID)
		if err != nil {
			return m, fmt.Errorf("--owner-guid: %w", err)
		}
		files.Owner = &g
	}
	sb, err := attest.ReadSecureBoot(files)
	var fe *attest.VariableFileError
	if errors.As(err, &fe) {
		flag := "--" + strings.ToLower(fe.Variable)
		if errors.Is(fe.Err, secureboot.ErrNoOwner) {
			return m, fmt.Errorf("%s: %s: a certificate needs --owner-guid", flag, fe.File)
		}
		return m, fmt.Errorf("%s: %w", flag, fe.Err)
	}
	m.SecureBoot = sb
	return m, err
}

// shimVariables reads --mok and --shim-var into m.Shim (nil when neither
// is given: shim's fresh-install defaults).
func (p eventPrediction) shimVariables(m *attest.Machine) error {
	if len(p.MOK) == 0 && len(p.ShimVars) == 0 {
		return nil
	}
	v := &shim.Variables{}
	var err error
	if v.MokList, err = shim.ReadMokList(p.MOK...); err != nil {
		return fmt.Errorf("--mok: %w", err)
	}
	for _, nv := range p.ShimVars {
		name, file, ok := strings.Cut(nv, "=")
		if !ok || !slices.Contains(shim.VariableNames(), name) {
			return fmt.Errorf("--shim-var %q: want NAME=FILE with NAME one of %s", nv, strings.Join(shim.VariableNames(), ", "))
		}
		d, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("--shim-var %s: %w", name, err)
		}
		if len(d) == 0 {
			return fmt.Errorf("--shim-var %s: %s is empty (a UEFI variable has data; leave the variable out instead)", name, file)
		}
		if name == "MokList" && len(p.MOK) > 0 {
			// One would silently replace the other.
			return usageError{fmt.Sprintf("--mok and --shim-var MokList=%s both give MokList: give one of them", file)}
		}
		if err := v.Set(name, d); err != nil {
			return err
		}
	}
	m.Shim = v
	return nil
}

// shimVarSource names the option that gave the shim variable name:
// "--shim-var NAME=FILE", or --mok's files for MokList.
func (p eventPrediction) shimVarSource(name string) string {
	for _, nv := range slices.Backward(p.ShimVars) {
		if n, _, _ := strings.Cut(nv, "="); n == name {
			return "--shim-var " + nv
		}
	}
	if name == "MokList" && len(p.MOK) > 0 {
		return "--mok " + strings.Join(p.MOK, ", --mok ")
	}
	return "shim variable " + name
}

// reference predicts the events of pcrs for the UKI at path (attest.Predict).
func (p eventPrediction) reference(e *env, path, stubVersion string, profile int, pcrs []int, banks []pcr.Bank) (*attest.Reference, error) {
	m, err := p.machine(e, pcrs, banks, stubVersion, profile)
	if err != nil {
		return nil, err
	}
	ref, err := attest.Predict(context.Background(), path, m)
	var ve *shim.VariableError
	if errors.As(err, &ve) {
		return nil, fmt.Errorf("%s: %w", p.shimVarSource(ve.Name), ve)
	}
	var sv *attest.StubVersionError
	if errors.As(err, &sv) {
		return nil, fmt.Errorf("%s: no systemd-stub version in its .sdmagic section; give --stub-version", sv.Path)
	}
	return ref, err
}

type eventlogCmd struct {
	Verify eventlogVerifyCmd `cmd:"" help:"Compare a TCG event log with the prediction for a UKI, event by event."`
}

type eventlogVerifyCmd struct {
	Log         string `arg:"" help:"TCG2 event log (/sys/kernel/security/tpm0/binary_bios_measurements)." type:"existingfile"`
	UKI         string `name:"uki" help:"The UKI the firmware started (without it, only the log's agreement with --quote or --quote-pcrs is checked)." type:"existingfile" placeholder:"FILE.efi"`
	PCRs        string `name:"pcrs" default:"4,11" help:"PCRs to compare (ukibuild predicts 4, 7, 9, 11, 12, 13, and 14 behind shim)." placeholder:"LIST"`
	StubVersion string `name:"stub-version" help:"Predict PCR 11 as this systemd-stub version would (default: the UKI's .sdmagic, else the stub's LoaderInfo string)." placeholder:"VERSION"`
	QuotePCRs   string `name:"quote-pcrs" help:"PCR values the TPM reported, lines PCR:BANK=HEX: the log's replay must equal them." type:"existingfile" placeholder:"FILE"`
	Profile     int    `help:"The profile the stub booted (an '@N' load option; 0, the default, is not measured): PCR 12's profile event and PCR 11 for that profile." default:"0" placeholder:"N"`
	DTBAuto     string `name:"dtbauto" help:"PCR 11 of a UKI with .dtbauto sections: the index of the one the stub picked (0 is the profile's first), or 'none'." placeholder:"INDEX|none"`
	EFIFW       string `name:"efifw" help:"PCR 11 of a UKI with .efifw sections, for a stub from 261.1 on: the index of the one the stub picked (0 is the profile's first), or 'none'." placeholder:"INDEX|none"`
	// JSON prints the report as JSON (attest.Report.MarshalJSON).
	JSON bool `name:"json" help:"Print the report as JSON instead of text: \"ok\", and per PCR its \"status\" (match, differs or unverifiable) with the first diverging event or the events that could not be checked; the exit code is the same."`
	celFlags
	quoteFlags
	eventPrediction
}

// Run prints one line per PCR (match, or the first diverging event with
// expected and seen) and fails when any PCR differs.
func (c *eventlogVerifyCmd) Run(e *env) error {
	if err := c.checkModeFlags(); err != nil {
		return err
	}
	pcrs, err := eventlog.ParsePCRList(c.PCRs)
	if err != nil {
		return fmt.Errorf("--pcrs: %w", err)
	}
	data, err := os.ReadFile(c.Log)
	if err != nil {
		return err
	}
	banks, err := attest.LogBanks(data)
	if err != nil {
		return fmt.Errorf("%s: %w", c.Log, err)
	}
	if c.UKI == "" && c.QuotePCRs == "" && !c.quoteFlags.given() {
		return fmt.Errorf("nothing to compare %s with: give --uki, --quote or --quote-pcrs", c.Log)
	}
	ev := attest.Evidence{Log: data}
	if err := c.celFlags.load(&ev); err != nil {
		return err
	}
	if ev.Quote, err = c.quoteFlags.load(); err != nil {
		return err
	}
	if c.QuotePCRs != "" {
		b, err := os.ReadFile(c.QuotePCRs)
		if err != nil {
			return err
		}
		if ev.TPMValues, err = quote.ParseValues(b); err != nil {
			return fmt.Errorf("%s: %w", c.QuotePCRs, err)
		}
	}
	var rep *attest.Report
	if c.UKI == "" {
		rep, err = attest.VerifyLog(context.Background(), ev, pcrs)
	} else {
		if err := c.pick(c.DTBAuto, c.EFIFW); err != nil {
			return err
		}
		ref, perr := c.reference(e, c.UKI, c.StubVersion, c.Profile, pcrs, banks)
		if perr != nil {
			return perr
		}
		rep, err = ref.Verify(context.Background(), ev)
	}
	if err != nil {
		return c.quoteFlags.explain(c.Log, c.celFlags.explain(err))
	}
	if c.JSON {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s\n", b)
	} else if err := rep.WriteText(e.stdout, c.Quote, c.AKPublic); err != nil {
		return err
	}
	if sdBad := c.celFlags.bad(rep.Systemd); sdBad > 0 {
		return fmt.Errorf("%s: %d record(s) are not what systemd %s measures", c.CEL, sdBad, c.SystemdVersion)
	}
	return verifyOutcome(rep, c.Log, c.UKI)
}

// verifyOutcome is eventlog verify's verdict on rep (systemd's records
// already checked): an error for a differing PCR, a log that does not
// replay to the TPM's values or the quote, or any other defect; the
// unverifiableError (exit 3) only when unverifiable PCRs are the report's
// one defect.
func verifyOutcome(rep *attest.Report, log, uki string) error {
	bad, unverifiable := len(rep.Differing()), rep.Unverifiable()
	switch {
	case bad > 0:
		return fmt.Errorf("%s does not match %s: %d PCR(s) differ", log, uki, bad)
	case !rep.Replays():
		return fmt.Errorf("%s does not match the quoted PCR values", log)
	case !rep.SystemdOK():
		return fmt.Errorf("%s: systemd's records are not what systemd measures (see above)", log)
	case len(unverifiable) > 0:
		return unverifiableError{fmt.Sprintf("%s: PCR %s could not be verified offline (machine-specific events; see above): neither a match nor a mismatch", log, joinInts(unverifiable))}
	case !rep.OK():
		return fmt.Errorf("%s: the report has defects (see above)", log)
	}
	return nil
}

// joinInts is "9" or "9,11".
func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}
