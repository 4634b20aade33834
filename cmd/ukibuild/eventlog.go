package main

import (
	"bufio"
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/ukibuild/ukibuild/internal/keys"
	"github.com/ukibuild/ukibuild/pcr"
	"github.com/ukibuild/ukibuild/sign"
	"github.com/ukibuild/ukibuild/uki"
)

// eventPrediction are the options that say what booted, shared by
// "measure FILE --explain" and "eventlog verify".
type eventPrediction struct {
	BootAttempts int      `name:"boot-attempts" default:"1" help:"Boot options the firmware tried up to the one that started the UKI (each adds a \"Returning from EFI Application\" event to PCR 4)."`
	PK           string   `name:"pk" help:"PCR 7: the PK certificate (PEM) or EFI signature list (.esl)." placeholder:"FILE"`
	KEK          []string `name:"kek" help:"PCR 7: a KEK certificate (PEM) or EFI signature list (.esl); repeatable, in enrolment order." placeholder:"FILE"`
	DB           []string `name:"db" help:"PCR 7: a db certificate (PEM) or EFI signature list (.esl); repeatable, in enrolment order." placeholder:"FILE"`
	DBX          []string `name:"dbx" help:"PCR 7: a dbx EFI signature list (.esl); repeatable." placeholder:"FILE"`
	OwnerGUID    string   `name:"owner-guid" help:"PCR 7: the owner GUID of the certificates given as PEM." placeholder:"GUID"`
	SecureBoot   bool     `name:"secure-boot" default:"true" negatable:"" help:"PCR 7: the SecureBoot variable is 1."`
	ESP          string   `name:"esp" help:"PCR 12, 13: the ESP, for /loader/credentials/*.cred, /loader/extensions/*.raw and *.confext.raw, and /loader/addons/*.addon.efi (the UKI's own FILE.efi.extra.d/ is read next to it)." placeholder:"DIR"`
	// Loader are the boot loader images the firmware started before the
	// UKI, in order (pcr.FirmwareBoot.Chain: the first from the boot
	// option, each loading the next, the last loading the UKI).
	Loader []string `name:"loader" help:"PCR 4, 7: a boot loader image the firmware started before the UKI (shim, systemd-boot), as on the ESP (signed); repeatable, in the order they were started, the last one starting the UKI." placeholder:"FILE.efi"`
	// CmdlineOverride is the command line passed in the UKI's load options.
	CmdlineOverride string `name:"cmdline-override" help:"PCR 9, 12: the kernel command line passed to the UKI in its load options (without an '@N' profile prefix; see --profile); the stub ignores it under Secure Boot when the UKI has a .cmdline." placeholder:"TEXT"`
}

// predictedPCRs are the PCRs ukibuild predicts events for.
var predictedPCRs = []int{4, 7, 9, 11, 12, 13}

// readExtras lists the regular files of dir (none when it does not
// exist); their contents are read when the prediction needs them.
func readExtras(dir string) ([]pcr.ExtraFile, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []pcr.ExtraFile
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		c, err := uki.File(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, pcr.ExtraFile{Name: e.Name(), Content: c})
	}
	return out, nil
}

// stubExtras reads what the stub (major version major) finds for the UKI
// at path: the files in path.extra.d/ and, with --esp, in the ESP's
// /loader/credentials/ and /loader/extensions/ (pcr.FindExtras).
func stubExtras(path string, major int, p eventPrediction) (pcr.StubExtras, error) {
	local, err := readExtras(path + ".extra.d")
	if err != nil {
		return pcr.StubExtras{}, err
	}
	var credentials, extensions []pcr.ExtraFile
	if p.ESP != "" {
		if credentials, err = readExtras(filepath.Join(p.ESP, "loader", "credentials")); err != nil {
			return pcr.StubExtras{}, err
		}
		if extensions, err = readExtras(filepath.Join(p.ESP, "loader", "extensions")); err != nil {
			return pcr.StubExtras{}, err
		}
	}
	x, err := pcr.FindExtras(major, local, credentials, extensions)
	if err != nil {
		return x, fmt.Errorf("%s: %w", path, err)
	}
	return x, nil
}

// addonSections are the sections of an add-on the stub looks at.
var addonSections = []string{".linux", ".cmdline", ".dtb", ".dtbauto", ".initrd", ".ucode", ".uname", ".profile"}

// readAddons reads the add-ons the stub would load from dir (global: the
// ESP's /loader/addons/): the *.addon.efi files, with their sections.
func readAddons(dir string, global bool) ([]pcr.Addon, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if !e.IsDir() {
			names = append(names, e.Name())
		}
	}
	var out []pcr.Addon
	for _, n := range pcr.SelectAddons(names) {
		path := filepath.Join(dir, n)
		img, err := uki.OpenImage(path)
		if err != nil {
			return nil, fmt.Errorf("add-on %s: %w", path, err)
		}
		a := pcr.Addon{Name: n, Global: global, Path: path, Sections: map[string][]byte{}}
		for _, s := range img.Sections() {
			if !slices.Contains(addonSections, s.Name) {
				continue
			}
			if _, dup := a.Sections[s.Name]; dup {
				continue // the stub takes the first section of a name
			}
			b, err := readContent(s)
			if err != nil {
				img.Close()
				return nil, fmt.Errorf("add-on %s: %w", path, err)
			}
			a.Sections[s.Name] = b
		}
		img.Close()
		out = append(out, a)
	}
	return out, nil
}

func readContent(s uki.Section) ([]byte, error) {
	rc, err := s.Content.Open()
	if err != nil {
		return nil, fmt.Errorf("section %s: %w", s.Name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("section %s: %w", s.Name, err)
	}
	return b, nil
}

// stubBoot gathers what the stub (major version major) takes beyond the
// UKI img at path: the extras (only when asked for: PCR 9, 12 and 13 need
// them, and sorting them may need the version), add-ons (path.extra.d/
// and, with --esp, /loader/addons/), --cmdline-override and the profile.
func stubBoot(img *uki.ImageFile, path string, major int, p eventPrediction, profile int, extras bool) (pcr.StubBoot, error) {
	b := pcr.StubBoot{Major: major, SecureBoot: p.SecureBoot, Profile: uint(profile), LoadOptions: p.CmdlineOverride}
	var err error
	if extras {
		if b.Extras, err = stubExtras(path, major, p); err != nil {
			return b, err
		}
	}
	if b.Addons, err = readAddons(path+".extra.d", false); err != nil {
		return b, err
	}
	if p.ESP != "" {
		global, err := readAddons(filepath.Join(p.ESP, "loader", "addons"), true)
		if err != nil {
			return b, err
		}
		b.Addons = append(global, b.Addons...)
	}
	var all []pcr.Section
	for _, s := range img.Sections() {
		all = append(all, pcr.Section{Name: s.Name, Content: s.Content})
	}
	loc, err := pcr.LocateProfile(all, profile)
	if err != nil {
		return b, fmt.Errorf("%s: --profile: %w", path, err)
	}
	for _, s := range loc.Sections {
		switch s.Name {
		case ".cmdline", ".uname":
			rc, err := s.Content.Open()
			if err != nil {
				return b, err
			}
			d, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				return b, fmt.Errorf("%s: section %s: %w", path, s.Name, err)
			}
			if s.Name == ".cmdline" {
				b.Cmdline, b.HasCmdline = d, true
			} else {
				b.Uname = d
			}
		}
	}
	return b, nil
}

// pcr9Events predicts what Linux's EFI stub measures into PCR 9 for the
// UKI img: the command line and the initrd the stub hands over
// (pcr.StubBoot.CommandLine, pcr.StubInitrd and pcr.StubBoot.LinuxInitrd:
// .cmdline or the load options, add-ons).
func pcr9Events(img *uki.ImageFile, major int, sb pcr.StubBoot, banks []pcr.Bank) ([]pcr.Event, error) {
	secs := map[string]pcr.Sized{}
	for _, s := range img.BaseSections() {
		switch s.Name {
		case ".initrd", ".pcrsig", ".pcrpkey", ".osrel", ".cmdline", ".ucode", ".profile":
			secs[s.Name] = s.Content
		}
	}
	initrd, err := pcr.StubInitrd(major, secs, sb.Extras)
	if err != nil {
		return nil, fmt.Errorf("PCR 9: %w", err)
	}
	if initrd, err = sb.LinuxInitrd(initrd); err != nil {
		return nil, fmt.Errorf("PCR 9: %w", err)
	}
	cmdline, _, err := sb.CommandLine(banks)
	if err != nil {
		return nil, fmt.Errorf("PCR 9: %w", err)
	}
	evs, err := pcr.LinuxEvents(cmdline, initrd, banks)
	if err != nil {
		return nil, fmt.Errorf("PCR 9: %w", err)
	}
	return evs, nil
}

// signatureLists reads certificates (PEM: one EFI_SIGNATURE_LIST each,
// owned by owner, as virt-fw-vars and efi-updatevar enroll them) or
// EFI signature lists (.esl, taken as they are) and concatenates them. It
// also returns the certificates' EFI_SIGNATURE_DATA entries and parsed
// certificates, for finding the authority.
func signatureLists(files []string, owner *pcr.GUID) (lists []byte, entries [][]byte, certs []*x509.Certificate, err error) {
	for _, f := range files {
		if strings.HasSuffix(f, ".esl") {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, nil, nil, err
			}
			lists = append(lists, b...)
			continue
		}
		if owner == nil {
			return nil, nil, nil, fmt.Errorf("%s: a certificate needs --owner-guid", f)
		}
		c, err := keys.Certificate(f)
		if err != nil {
			return nil, nil, nil, err
		}
		lists = append(lists, pcr.X509SignatureList(*owner, c.Raw)...)
		entries = append(entries, pcr.SignatureData(*owner, c.Raw))
		certs = append(certs, c)
	}
	return lists, entries, certs, nil
}

// pcr7Events predicts PCR 7 for the UKI at path: the variables from the
// options, and as the authorities the db certificates (given as PEM) that
// the UKI's signature and then each add-on's chain to (sign.Verify, as the
// firmware checks them; the firmware logs a certificate once).
//
// When the UKI is not authorized (a tampered or unsigned UKI, which the
// firmware would refuse), warn says so and no authority is predicted.
func pcr7Events(path string, p eventPrediction, addons []pcr.Addon, banks []pcr.Bank, warn func(string, ...any)) ([]pcr.Event, error) {
	var owner *pcr.GUID
	if p.OwnerGUID != "" {
		g, err := pcr.ParseGUID(p.OwnerGUID)
		if err != nil {
			return nil, fmt.Errorf("--owner-guid: %w", err)
		}
		owner = &g
	}
	vars := pcr.SecureBootVariables{SecureBoot: p.SecureBoot}
	var err error
	var pk []string
	if p.PK != "" {
		pk = []string{p.PK}
	}
	if vars.PK, _, _, err = signatureLists(pk, owner); err != nil {
		return nil, fmt.Errorf("--pk: %w", err)
	}
	if vars.KEK, _, _, err = signatureLists(p.KEK, owner); err != nil {
		return nil, fmt.Errorf("--kek: %w", err)
	}
	db, entries, certs, err := signatureLists(p.DB, owner)
	if err != nil {
		return nil, fmt.Errorf("--db: %w", err)
	}
	vars.DB = db
	for _, f := range p.DBX {
		if !strings.HasSuffix(f, ".esl") {
			return nil, fmt.Errorf("--dbx %s: want an EFI signature list (.esl)", f)
		}
	}
	if vars.DBX, _, _, err = signatureLists(p.DBX, owner); err != nil {
		return nil, fmt.Errorf("--dbx: %w", err)
	}
	if len(vars.PK) == 0 || len(vars.DB) == 0 {
		return nil, fmt.Errorf("PCR 7 needs --pk and --db (and --kek, --dbx as enrolled)")
	}
	var auth [][]byte
	if vars.SecureBoot {
		// The boot loaders run first: the firmware logs the db entry
		// that authorized each (DxeImageVerificationLib), before the
		// UKI's.
		for _, l := range p.Loader {
			c, err := authority(l, certs)
			if err != nil {
				return nil, fmt.Errorf("PCR 7: boot loader %s is not authorized by the --db certificates given as PEM: the firmware refuses it, and what is measured then is not predicted: %w", l, err)
			}
			for i := range certs {
				if certs[i].Equal(c) {
					auth = append(auth, entries[i]) // pcr.PCR7Events logs each once
				}
			}
		}
		c, err := authority(path, certs)
		if err != nil {
			// Nothing of the UKI runs then, so no add-on is loaded either.
			warn("PCR 7: the UKI is not authorized by the --db certificates given as PEM (the firmware would refuse it), so no authority event is predicted: %v", err)
			addons = nil
		}
		for i := range certs {
			if c != nil && certs[i].Equal(c) {
				auth = append(auth, entries[i])
			}
		}
		for _, a := range addons {
			c, err := authority(a.Path, certs)
			if err != nil {
				return nil, fmt.Errorf("PCR 7: add-on %s is not authorized by the --db certificates given as PEM: the firmware refuses it, and what is measured then is not predicted: %w", a.Path, err)
			}
			for i := range certs {
				if certs[i].Equal(c) {
					auth = append(auth, entries[i]) // pcr.PCR7Events logs each once
				}
			}
		}
	}
	return pcr.PCR7Events(vars, auth, banks), nil
}

// authority returns the db certificate the first valid signature of the
// PE file at path chains to, as the firmware picks it.
func authority(path string, db []*x509.Certificate) (*x509.Certificate, error) {
	rep, err := sign.VerifyFile(path, sign.VerifyOptions{DB: db})
	if err != nil {
		return nil, err
	}
	for _, s := range rep.Signatures {
		if s.OK() && s.TrustedBy != nil {
			return s.TrustedBy, nil // the firmware stops at the first signature that verifies
		}
	}
	return nil, fmt.Errorf("%s: no signature chains to a db certificate", path)
}

// checkAddons refuses add-ons that the --db certificates given as PEM do
// not authorize under Secure Boot: the firmware would not load them, and
// what it measures then is not predicted. Without such certificates every
// add-on is taken to load.
func checkAddons(p eventPrediction, addons []pcr.Addon) error {
	if !p.SecureBoot || len(addons) == 0 {
		return nil
	}
	var certs []*x509.Certificate
	for _, f := range p.DB {
		if strings.HasSuffix(f, ".esl") {
			continue
		}
		c, err := keys.Certificate(f)
		if err != nil {
			return fmt.Errorf("--db: %w", err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil
	}
	for _, a := range addons {
		if _, err := authority(a.Path, certs); err != nil {
			return fmt.Errorf("add-on %s is not authorized by the --db certificates: under Secure Boot the firmware refuses it, and what is measured then is not predicted: %w", a.Path, err)
		}
	}
	return nil
}

// predictEvents predicts the events of pcrs for the UKI at path, booted
// by the firmware directly or through the boot loaders p.Loader (shim,
// systemd-boot: PCR 4 and 7; what they measure themselves elsewhere is not
// predicted), in banks; profile is
// the profile the stub boots (an "@N" load option).
func predictEvents(e *env, path, stubVersion string, p eventPrediction, profile int, pcrs []int, banks []pcr.Bank) ([]pcr.Event, error) {
	for _, i := range pcrs {
		if !slices.Contains(predictedPCRs, i) {
			return nil, fmt.Errorf("PCR %d: not predicted (ukibuild predicts PCR %s)", i, joinInts(predictedPCRs))
		}
	}
	img, err := uki.OpenImage(path)
	if err != nil {
		return nil, err
	}
	defer img.Close()
	if stubVersion == "" {
		stubVersion = img.StubVersion()
	}
	// Without a version only what every stub does is predicted: PCR 4, 7
	// and the extras' PCR 12 and 13 events as long as there are no
	// configuration or global extensions (pcr.FindExtras and pcr.StubBoot
	// ask for a version for the rest).
	major := 0
	if stubVersion != "" {
		if major, err = pcr.MajorVersion(stubVersion); err != nil {
			return nil, err
		}
	} else if slices.Contains(pcrs, 9) || slices.Contains(pcrs, 11) {
		return nil, fmt.Errorf("%s: no systemd-stub version in its .sdmagic section; give --stub-version", path)
	}
	extras := slices.ContainsFunc(pcrs, func(i int) bool { return i == 9 || i == 12 || i == 13 })
	sb, err := stubBoot(img, path, major, p, profile, extras)
	if err != nil {
		return nil, err
	}
	loaded, err := sb.Loaded()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := checkAddons(p, loaded); err != nil {
		return nil, err
	}
	if profile != 0 && slices.Contains(pcrs, 9) {
		return nil, fmt.Errorf("PCR 9 of profile %d is not predicted (the stub passes the profile's .cmdline and a /.extra/profile archive, which is not modelled); leave out 9 from --pcrs", profile)
	}
	var events []pcr.Event
	if slices.Contains(pcrs, 4) {
		chain := slices.Concat(p.Loader, []string{path})
		for _, a := range loaded {
			chain = append(chain, a.Path)
		}
		fb := pcr.FirmwareBoot{BootAttempts: p.BootAttempts}
		for _, f := range chain {
			app, err := imageApplication(f, banks)
			if err != nil {
				return nil, err
			}
			fb.Chain = append(fb.Chain, app)
		}
		evs, err := pcr.PCR4Events(fb, banks)
		if err != nil {
			return nil, err
		}
		events = append(events, evs...)
	}
	if slices.Contains(pcrs, 7) {
		evs, err := pcr7Events(path, p, loaded, banks, e.warnf)
		if err != nil {
			return nil, err
		}
		events = append(events, evs...)
	}
	if slices.Contains(pcrs, 9) {
		evs, err := pcr9Events(img, major, sb, banks)
		if err != nil {
			return nil, err
		}
		events = append(events, evs...)
	}
	if slices.Contains(pcrs, 12) || slices.Contains(pcrs, 13) {
		evs, err := sb.KernelConfigEvents(banks)
		if err != nil {
			return nil, fmt.Errorf("PCR 12: %s: %w", path, err)
		}
		events = append(events, evs...)
	}
	if slices.Contains(pcrs, 11) {
		order, err := pcr.OrderFor(stubVersion)
		if err != nil {
			return nil, err
		}
		var all []pcr.Section
		for _, s := range img.Sections() {
			all = append(all, pcr.Section{Name: s.Name, Content: s.Content})
		}
		loc, err := pcr.LocateProfile(all, profile)
		if err != nil {
			return nil, fmt.Errorf("%s: --profile: %w", path, err)
		}
		if len(loc.DTBAuto) > 0 {
			return nil, fmt.Errorf("%s: profile %d has .dtbauto sections, of which the stub measures the one matching the machine: PCR 11 events are predicted without .dtbauto only", path, profile)
		}
		evs, err := pcr.SectionEvents(order, loc.Sections, banks)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		events = append(events, evs...)
	}
	return events, nil
}

// imageApplication is the PE file at path as the firmware measures it
// into PCR 4 when it loads it (its Authenticode digest).
func imageApplication(path string, banks []pcr.Bank) (pcr.BootApplication, error) {
	f, err := os.Open(path)
	if err != nil {
		return pcr.BootApplication{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return pcr.BootApplication{}, err
	}
	return pcr.ImageApplication(filepath.Base(path), f, st.Size(), banks)
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

// jsonEvent is an event in --json output: usable as reference values.
type jsonEvent struct {
	PCR         int               `json:"pcr"`
	Type        string            `json:"type"`
	Description string            `json:"description"`
	Digests     map[string]string `json:"digests"`
}

// writeEvents writes the events and each PCR's replay: as text lines or
// JSON ({"events": [...], "pcrs": {"4": {"sha256": ...}}}).
func writeEvents(w io.Writer, events []pcr.Event, pcrs []int, banks []pcr.Bank, asJSON bool) error {
	if asJSON {
		doc := struct {
			Events []jsonEvent                  `json:"events"`
			PCRs   map[string]map[string]string `json:"pcrs"`
		}{Events: []jsonEvent{}, PCRs: map[string]map[string]string{}}
		for _, ev := range events {
			je := jsonEvent{PCR: ev.PCR, Type: ev.Type.String(), Description: ev.Description, Digests: map[string]string{}}
			for _, v := range ev.Digests {
				je.Digests[v.Bank.Name] = hex.EncodeToString(v.Digest)
			}
			doc.Events = append(doc.Events, je)
		}
		for _, i := range pcrs {
			m := map[string]string{}
			for _, b := range banks {
				v, err := pcr.Replay(events, i, b)
				if err != nil {
					return err
				}
				m[b.Name] = hex.EncodeToString(v)
			}
			doc.PCRs[strconv.Itoa(i)] = m
		}
		b, err := json.MarshalIndent(doc, "", "  ")
		if err != nil {
			return err
		}
		_, err = w.Write(append(b, '\n'))
		return err
	}
	for _, i := range pcrs {
		n := 0
		for _, ev := range events {
			if ev.PCR != i {
				continue
			}
			fmt.Fprintf(w, "PCR %d event %d: %s %s\n", i, n, ev.Type, ev.Description)
			for _, v := range ev.Digests {
				fmt.Fprintf(w, "    %s %x\n", v.Bank.Name, v.Digest)
			}
			n++
		}
		for _, b := range banks {
			v, err := pcr.Replay(events, i, b)
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "%d:%s=%x\n", i, b.Name, v)
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
	StubVersion string `name:"stub-version" help:"Predict PCR 11 as this systemd-stub version would (default: the UKI's .sdmagic)." placeholder:"VERSION"`
	QuotePCRs   string `name:"quote-pcrs" help:"PCR values the TPM reported, lines PCR:BANK=HEX: the log's replay must equal them." type:"existingfile" placeholder:"FILE"`
	Profile     int    `help:"The profile the stub booted (an '@N' load option; 0, the default, is not measured): PCR 12's profile event and PCR 11 for that profile." default:"0" placeholder:"N"`
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
	seen, err := pcr.ParseEventLog(data)
	if err != nil {
		return fmt.Errorf("%s: %w", c.Log, err)
	}
	var banks []pcr.Bank // the log's banks
	for _, ev := range seen {
		for _, v := range ev.Digests {
			if !slices.ContainsFunc(banks, func(b pcr.Bank) bool { return b.Name == v.Bank.Name }) {
				banks = append(banks, v.Bank)
			}
		}
	}
	if c.UKI == "" && c.QuotePCRs == "" && !c.quoteFlags.given() {
		return fmt.Errorf("nothing to compare %s with: give --uki, --quote or --quote-pcrs", c.Log)
	}
	bad := 0
	if c.quoteFlags.given() {
		n, err := c.quoteFlags.check(e.stdout, seen, pcrs)
		if err != nil {
			return err
		}
		bad += n
	}
	if c.QuotePCRs != "" {
		n, err := checkQuote(e.stdout, c.QuotePCRs, seen)
		if err != nil {
			return err
		}
		bad += n
	}
	if c.UKI == "" {
		if bad > 0 {
			return fmt.Errorf("%s does not match the quoted PCR values", c.Log)
		}
		return nil
	}
	expected, err := predictEvents(e, c.UKI, c.StubVersion, c.eventPrediction, c.Profile, pcrs, banks)
	if err != nil {
		return err
	}
	for _, r := range pcr.CompareEvents(expected, seen, pcrs) {
		fmt.Fprintln(e.stdout, r)
		if !r.Match {
			bad++
		}
	}
	if bad > 0 {
		return fmt.Errorf("%s does not match %s: %d PCR(s) differ", c.Log, c.UKI, bad)
	}
	return nil
}

// checkQuote compares the replay of the log with the values in file
// ("11:sha256=HEX" lines, as "ukibuild measure" prints) and returns how
// many differ.
func checkQuote(w io.Writer, file string, seen []pcr.Event) (int, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	bad := 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		idx, rest, ok1 := strings.Cut(l, ":")
		bank, val, ok2 := strings.Cut(rest, "=")
		n, err := strconv.Atoi(idx)
		if !ok1 || !ok2 || err != nil {
			return bad, fmt.Errorf("%s:%d: want PCR:BANK=HEX, not %q", file, line, l)
		}
		b, err := pcr.ParseBank(bank)
		if err != nil {
			return bad, fmt.Errorf("%s:%d: %w", file, line, err)
		}
		want, err := hex.DecodeString(val)
		if err != nil {
			return bad, fmt.Errorf("%s:%d: %w", file, line, err)
		}
		got, err := pcr.Replay(seen, n, b)
		if err != nil {
			return bad, fmt.Errorf("%s:%d: %w", file, line, err)
		}
		if bytes.Equal(got, want) {
			fmt.Fprintf(w, "PCR %d %s: the log replays to the quoted value\n", n, b.Name)
		} else {
			fmt.Fprintf(w, "PCR %d %s: the log replays to %x, the quote has %x\n", n, b.Name, got, want)
			bad++
		}
	}
	return bad, sc.Err()
}
