package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/ukibuild/ukibuild/attest"
	"github.com/ukibuild/ukibuild/pcr"
	"github.com/ukibuild/ukibuild/secureboot"
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
	// UKI, in order (pcr.FirmwareBoot.Chain: the first from the boot
	// option, each loading the next, the last loading the UKI).
	Loader []string `name:"loader" help:"PCR 4, 7: a boot loader image the firmware started before the UKI (shim, systemd-boot), as on the ESP (signed); repeatable, in the order they were started, the last one starting the UKI." placeholder:"FILE.efi"`
	// Consoles are the consoles the firmware offers (pcr.ParseConsoles).
	Consoles string `name:"consoles" help:"PCR 9: the machine's consoles (serial=N for COM N, virtio, graphics; comma-separated; or none): systemd-stub 262 appends a console= argument for each to a command line that has none, and Linux measures it. Without it every outcome of the stub's rule is predicted, and eventlog verify says which one the log shows." placeholder:"LIST"`
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
	if p.dtbauto, err = candidatePick("--dtbauto", dtbauto); err != nil {
		return err
	}
	p.efifw, err = candidatePick("--efifw", efifw)
	return err
}

// machine turns the options into what the verifier knows of the
// machine (attest.Machine); the Secure Boot variables are read from the
// --pk, --kek, --db and --dbx files (certificates as PEM, owned by
// --owner-guid, or EFI signature lists).
func (p eventPrediction) machine(e *env, pcrs []int, banks []pcr.Bank, stubVersion string, profile int) (attest.Machine, error) {
	m := attest.Machine{PCRs: pcrs, Banks: banks, StubVersion: stubVersion, Profile: profile,
		CmdlineOverride: p.CmdlineOverride, BootAttempts: p.BootAttempts, Loaders: p.Loader, ESP: p.ESP,
		DTBAuto: p.dtbauto, EFIFW: p.efifw,
		Warn: func(msg string) { e.warnf("%s", msg) }}
	if p.Consoles != "" {
		c, err := pcr.ParseConsoles(p.Consoles)
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
	var owner *uefi.GUID
	if p.OwnerGUID != "" {
		g, err := uefi.ParseGUID(p.OwnerGUID)
		if err != nil {
			return m, fmt.Errorf("--owner-guid: %w", err)
		}
		owner = &g
	}
	sb := &attest.SecureBoot{Disabled: !p.SecureBoot}
	var pk []string
	if p.PK != "" {
		pk = []string{p.PK}
	}
	for _, v := range []struct {
		flag  string
		files []string
		dst   *[]byte
	}{{"--pk", pk, &sb.PK}, {"--kek", p.KEK, &sb.KEK}, {"--db", p.DB, &sb.DB}, {"--dbx", p.DBX, &sb.DBX}} {
		for _, f := range v.files {
			l, err := signatureList(f, owner)
			if err != nil {
				return m, fmt.Errorf("%s: %w", v.flag, err)
			}
			*v.dst = append(*v.dst, l...)
		}
	}
	m.SecureBoot = sb
	return m, nil
}

// signatureList reads a Secure Boot variable's contents from file:
// certificates as PEM or DER (one EFI_SIGNATURE_LIST each, owned by owner,
// as virt-fw-vars and efi-updatevar enroll them), EFI signature lists
// (.esl) or a signed update (.auth, whose signature is not checked)
// (secureboot.ReadFile).
func signatureList(file string, owner *uefi.GUID) ([]byte, error) {
	d, err := secureboot.ReadFile(file, owner)
	if errors.Is(err, secureboot.ErrNoOwner) {
		return nil, fmt.Errorf("%s: a certificate needs --owner-guid", file)
	}
	if err != nil {
		return nil, err
	}
	return d.Bytes(), nil
}

// reference predicts the events of pcrs for the UKI at path (attest.Predict).
func (p eventPrediction) reference(e *env, path, stubVersion string, profile int, pcrs []int, banks []pcr.Bank) (*attest.Reference, error) {
	m, err := p.machine(e, pcrs, banks, stubVersion, profile)
	if err != nil {
		return nil, err
	}
	ref, err := attest.Predict(context.Background(), path, m)
	var sv *attest.StubVersionError
	if errors.As(err, &sv) {
		return nil, fmt.Errorf("%s: no systemd-stub version in its .sdmagic section; give --stub-version", sv.Path)
	}
	return ref, err
}

// writeEvents writes the reference: as JSON (attest.Reference's form:
// events and each PCR's value, usable as reference values) or as text,
// each PCR's events and its replay.
func writeEvents(w io.Writer, ref *attest.Reference, asJSON bool) error {
	if asJSON {
		b, err := json.Marshal(ref)
		if err != nil {
			return err
		}
		var out bytes.Buffer
		if err := json.Indent(&out, b, "", "  "); err != nil {
			return err
		}
		out.WriteByte('\n')
		_, err = w.Write(out.Bytes())
		return err
	}
	events := ref.Events()
	for _, i := range ref.PCRs {
		n := 0
		for k, ev := range events {
			if ev.PCR != i {
				continue
			}
			fmt.Fprintf(w, "PCR %d event %d: %s %s\n", i, n, ev.Type, ev.Description)
			for _, v := range ev.Digests {
				fmt.Fprintf(w, "    %s %x\n", v.Bank.Name, v.Digest)
			}
			for _, a := range ref.Alternatives(k) {
				fmt.Fprintf(w, "  or %s\n", a.Description)
				for _, v := range a.Digests {
					fmt.Fprintf(w, "    %s %x\n", v.Bank.Name, v.Digest)
				}
			}
			n++
		}
		for _, b := range ref.Banks {
			vs, err := ref.Values(i, b)
			if err != nil {
				return err
			}
			for _, v := range vs {
				fmt.Fprintf(w, "%d:%s=%x\n", i, b.Name, v)
			}
		}
	}
	return nil
}

type eventlogCmd struct {
	Verify eventlogVerifyCmd `cmd:"" help:"Compare a TCG event log with the prediction for a UKI, event by event."`
}

type eventlogVerifyCmd struct {
	Log         string `arg:"" help:"TCG2 event log (/sys/kernel/security/tpm0/binary_bios_measurements)." type:"existingfile"`
	UKI         string `name:"uki" help:"The UKI the firmware started (without it, only the log's agreement with --quote or --quote-pcrs is checked)." type:"existingfile" placeholder:"FILE.efi"`
	PCRs        string `name:"pcrs" default:"4,11" help:"PCRs to compare (ukibuild predicts 4, 7, 9, 11, 12 and 13)." placeholder:"LIST"`
	StubVersion string `name:"stub-version" help:"Predict PCR 11 as this systemd-stub version would (default: the UKI's .sdmagic, else the stub's LoaderInfo string)." placeholder:"VERSION"`
	QuotePCRs   string `name:"quote-pcrs" help:"PCR values the TPM reported, lines PCR:BANK=HEX: the log's replay must equal them." type:"existingfile" placeholder:"FILE"`
	Profile     int    `help:"The profile the stub booted (an '@N' load option; 0, the default, is not measured): PCR 12's profile event and PCR 11 for that profile." default:"0" placeholder:"N"`
	DTBAuto     string `name:"dtbauto" help:"PCR 11 of a UKI with .dtbauto sections: the index of the one the stub picked (0 is the profile's first), or 'none'." placeholder:"INDEX|none"`
	EFIFW       string `name:"efifw" help:"PCR 11 of a UKI with .efifw sections, for a stub from 261.1 on: the index of the one the stub picked (0 is the profile's first), or 'none'." placeholder:"INDEX|none"`
	quoteFlags
	eventPrediction
}

// Run prints one line per PCR (match, or the first diverging event with
// expected and seen) and fails when any PCR differs.
func (c *eventlogVerifyCmd) Run(e *env) error {
	pcrs, err := pcr.ParsePCRList(c.PCRs)
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
	if ev.Quote, err = c.quoteFlags.load(); err != nil {
		return err
	}
	if c.QuotePCRs != "" {
		b, err := os.ReadFile(c.QuotePCRs)
		if err != nil {
			return err
		}
		if ev.TPMValues, err = pcr.ParseValues(b); err != nil {
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
		return c.quoteFlags.explain(c.Log, err)
	}
	c.quoteFlags.print(e.stdout, rep.Quote)
	for _, v := range rep.Values {
		fmt.Fprintln(e.stdout, v)
	}
	bad := 0
	for _, r := range rep.PCRs {
		fmt.Fprintln(e.stdout, r)
		if r.Status != attest.Match {
			bad++
		}
	}
	switch {
	case bad > 0:
		return fmt.Errorf("%s does not match %s: %d PCR(s) differ", c.Log, c.UKI, bad)
	case !rep.OK():
		return fmt.Errorf("%s does not match the quoted PCR values", c.Log)
	}
	return nil
}
