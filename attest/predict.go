package attest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/ukibuild/ukibuild/eventlog"
	"github.com/ukibuild/ukibuild/pcr"
	"github.com/ukibuild/ukibuild/shim"
	"github.com/ukibuild/ukibuild/uki"
)

// predictor holds one prediction's inputs.
type predictor struct {
	path        string // the UKI
	extraDir    string
	m           *Machine
	banks       []pcr.Bank
	notes       []string
	stubVersion string
	// shim is the boot of shim when it is among the loaders (at
	// shimIndex), and shimStartup what it measures when it starts.
	shim        *shim.Boot
	shimIndex   int
	shimStartup []eventlog.Event
	// entryExtras are the Type #1 entry's extra files (entryFiles).
	entryExtras []eventlog.EntryExtra
}

// openShim recognises shim among the loaders (package shim) and prepares
// its boot: the machine's Secure Boot state and db, dbx, and the shim
// variables (a fresh install when Machine.Shim is nil). shim verifies
// and measures every image after it (the next loader through its own
// loader, the ones after through its LoadImage hook, which shim 16.1
// installs under Secure Boot when it has a vendor certificate, db or dbx:
// shim.c, shim_init, hook_system_services); the add-ons the stub would
// load through that hook are not predicted yet, nor a second shim.
//
// Only PCR 7 and 14 depend on shim: without them shim is not read (and any
// version of it passes: the images it starts are measured into PCR 4 as
// the firmware would).
func (p *predictor) openShim(addons int, needed bool) error {
	if !needed {
		if p.m.Shim != nil {
			p.note("shim's variables (Machine.Shim) are given but neither PCR 7 nor PCR 14 is predicted: they change nothing")
		}
		return nil
	}
	for i, l := range p.m.Loaders {
		bin, err := shim.Open(l)
		if errors.Is(err, shim.ErrNotShim) {
			continue
		}
		if err != nil {
			return err
		}
		if p.shim != nil {
			return fmt.Errorf("%s: a second shim in the chain: not predicted", l)
		}
		if addons > 0 {
			return fmt.Errorf("%s: shim %s verifies and measures the add-ons the stub loads (through its LoadImage hook): not predicted yet", l, bin.Version)
		}
		sm := shim.Machine{SecureBoot: p.m.SecureBoot == nil || !p.m.SecureBoot.Disabled, Banks: p.banks}
		if sb := p.m.SecureBoot; sb != nil {
			sm.DB, sm.DBX = sb.DB, sb.DBX
		}
		if p.m.Shim != nil {
			sm.Variables = *p.m.Shim
		} else {
			p.note("PCR 7, 14: shim's variables not given: predicted for a fresh install (no MOK enrolled, no SbatLevel set before)")
		}
		if p.shim, err = shim.NewBoot(bin, sm); err != nil {
			var ve *shim.VariableError
			if errors.As(err, &ve) {
				// The variable's data is at fault, not the image.
				return fmt.Errorf("Machine.Shim: %w", err)
			}
			return fmt.Errorf("%s: %w", l, err)
		}
		p.shimIndex = i
		p.shimStartup = p.shim.Startup()
	}
	if p.shim == nil && p.m.Shim != nil {
		return errors.New("shim's variables (Machine.Shim) are given but no loader is shim: nothing would read them")
	}
	return nil
}

func (p *predictor) note(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.notes = append(p.notes, msg)
	if p.m.Warn != nil {
		p.m.Warn(msg)
	}
}

// Predict predicts the events a machine described by m measures into its
// TPM when it boots the UKI at path: the firmware starting it (and the
// boot loaders before it; PCR 4), Secure Boot (PCR 7), Linux's EFI stub
// (PCR 9), systemd-stub (PCR 11, 12 and 13). The UKI, the loaders and the
// files on the ESP are read once; the Reference holds everything a later
// Verify needs.
//
// What a component does depends on its version: a stub version whose
// behaviour for the inputs at hand was not examined is refused with an
// error, never guessed.
func Predict(ctx context.Context, path string, m Machine) (*Reference, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	pcrs := slices.Clone(m.pcrs())
	slices.Sort(pcrs)
	pcrs = slices.Compact(pcrs)
	for _, i := range pcrs {
		if !slices.Contains(predictedPCRs, i) {
			return nil, &UnsupportedPCRError{PCR: i}
		}
	}
	if slices.Contains(pcrs, 7) && m.SecureBoot == nil {
		return nil, fmt.Errorf("PCR 7 needs the Secure Boot variables (Machine.SecureBoot)")
	}
	if e := m.Entry; e != nil {
		if m.Profile != 0 || m.CmdlineOverride != "" {
			return nil, fmt.Errorf("a Type #1 entry sets the profile and the command line: leave Machine.Profile and CmdlineOverride unset")
		}
		if len(m.Loaders) == 0 {
			return nil, fmt.Errorf("a Type #1 entry is started by systemd-boot: name it among the loaders (Machine.Loaders)")
		}
		if err := checkEntryLoader(m.Loaders[len(m.Loaders)-1]); err != nil {
			return nil, err
		}
		m.Profile, m.CmdlineOverride = e.Profile, e.Options
	}
	p := &predictor{path: path, extraDir: m.ExtraDir, m: &m, banks: m.banks()}
	if p.extraDir == "" {
		p.extraDir = path + ".extra.d"
	}
	img, err := uki.OpenImage(path)
	if err != nil {
		return nil, err
	}
	defer img.Close()
	stubVersion := m.StubVersion
	if stubVersion == "" {
		stubVersion = img.StubVersion()
	}
	p.stubVersion = stubVersion
	// Without a version only what every stub does is predicted: PCR 4, 7
	// and the extras' PCR 12 and 13 events as long as there are no
	// configuration or global extensions (eventlog.FindExtras and eventlog.StubBoot
	// ask for a version for the rest).
	major := 0
	if stubVersion != "" {
		if major, err = pcr.MajorVersion(stubVersion); err != nil {
			return nil, err
		}
	} else if slices.Contains(pcrs, 9) || slices.Contains(pcrs, 11) {
		return nil, &StubVersionError{Path: path}
	}
	extras := slices.ContainsFunc(pcrs, func(i int) bool { return i == 9 || i == 12 || i == 13 })
	sb, err := p.stubBoot(img, major, extras)
	if err != nil {
		return nil, err
	}
	loaded, err := sb.Loaded()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := p.openShim(len(loaded), slices.Contains(pcrs, 7) || slices.Contains(pcrs, 14)); err != nil {
		return nil, err
	}
	var auth *authorities
	if m.SecureBoot != nil && !m.SecureBoot.Disabled {
		// Under Secure Boot the firmware refuses an image that db does
		// not authorize: find each image's authority first (PCR 7), and
		// refuse to predict a boot in which a loader or an add-on would
		// be refused. A refused UKI is predicted as far as it goes.
		if auth, err = p.findAuthorities(ctx, loaded); err != nil {
			return nil, err
		}
	}
	ref := &Reference{StubVersion: stubVersion, PCRs: pcrs, Banks: p.banks}
	want := func(i int) bool { return slices.Contains(pcrs, i) }
	add := func(src Source, evs ...eventlog.Event) {
		for _, ev := range evs {
			if want(ev.PCR) {
				ref.events = append(ref.events, ev)
				ref.sources = append(ref.sources, src)
			}
		}
	}
	// The events are added in the order the TPM sees them (checked
	// against the recorded logs of the boot tests): the firmware's
	// Secure Boot configuration, its boot attempts, each image it starts
	// (the db entry that authorized it first, when new), the stub's
	// sections, the add-ons it loads through the firmware, what it packs
	// for the kernel, and last Linux's EFI stub.
	var pcr7 *pcr7Stream
	if want(7) {
		pcr7 = p.newPCR7()
		add(Firmware, pcr7.config...)
	}
	var pcr4 []eventlog.Event
	if want(4) {
		if pcr4, err = p.pcr4(ctx, loaded); err != nil {
			return nil, err
		}
		pre := len(pcr4) - len(m.Loaders) - 1 - len(loaded)
		add(Firmware, pcr4[:pre]...)
		pcr4 = pcr4[pre:]
	}
	image := func(src Source, i int, entries [][]byte) {
		switch {
		case p.shim != nil && i > p.shimIndex:
			// shim measures its variables when it starts, and the
			// authority of each image it verifies (its own events: the
			// firmware does not verify these images).
			if i == p.shimIndex+1 {
				add(Loader, p.shimStartup...)
			}
			add(Loader, auth.shimVerified(i)...)
		case pcr7 != nil:
			add(src, pcr7.authority(entries)...)
		}
		if pcr4 != nil {
			add(src, pcr4[i])
		}
	}
	if auth != nil && auth.shimRefusal != nil {
		return nil, fmt.Errorf("PCR 7: %w; what is measured after the refusal is not predicted", auth.shimRefusal)
	}
	for i := range m.Loaders {
		image(Loader, i, auth.loader(i))
	}
	image(UKI, len(m.Loaders), auth.uki())
	if m.Entry != nil {
		extras, options, err := p.entryEvents()
		if err != nil {
			return nil, err
		}
		add(Loader, extras...)
		add(Loader, options...)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if want(11) {
		evs, err := p.pcr11(img, stubVersion)
		if err != nil {
			return nil, err
		}
		add(UKI, evs...)
	}
	for i := range loaded {
		image(UKI, len(m.Loaders)+1+i, auth.addon(i))
	}
	if want(12) || want(13) {
		evs, err := sb.KernelConfigEvents(p.banks)
		if err != nil {
			return nil, fmt.Errorf("PCR 12: %s: %w", path, err)
		}
		add(UKI, evs...)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if want(9) {
		evs, alts, err := p.pcr9(img, major, sb)
		if err != nil {
			return nil, err
		}
		secret, err := p.bootSecret(evs)
		if err != nil {
			return nil, err
		}
		for i, ev := range evs {
			if i == 0 && len(alts) > 0 {
				ref.alts = map[int][]Alternative{len(ref.events): alts}
			}
			if i == secret {
				ref.machineSpecific = map[int]string{len(ref.events): bootSecretReason}
			}
			add(UKI, ev)
		}
	}
	ref.Notes = p.notes
	return ref, nil
}

// stubBoot gathers what the stub (major version major) takes beyond the
// UKI: the extras (only when asked for: PCR 9, 12 and 13 need them, and
// sorting them may need the version), add-ons (the extra directory and
// the ESP's /loader/addons/), the load options and the profile.
func (p *predictor) stubBoot(img *uki.ImageFile, major int, extras bool) (eventlog.StubBoot, error) {
	sb := !(p.m.SecureBoot != nil && p.m.SecureBoot.Disabled)
	b := eventlog.StubBoot{Major: major, SecureBoot: sb, Profile: uint(p.m.Profile), LoadOptions: p.m.CmdlineOverride, Machine: uint16(img.Machine())}
	var err error
	if extras {
		if b.Extras, err = p.stubExtras(major); err != nil {
			return b, err
		}
	}
	if b.Addons, err = readAddons(p.extraDir, false); err != nil {
		return b, err
	}
	if p.m.ESP != "" {
		global, err := readAddons(filepath.Join(p.m.ESP, "loader", "addons"), true)
		if err != nil {
			return b, err
		}
		b.Addons = append(global, b.Addons...)
	}
	loc, err := p.locate(img)
	if err != nil {
		return b, err
	}
	for _, s := range loc.Sections {
		switch s.Name {
		case ".cmdline", ".uname":
			d, err := readContent(s.Name, s.Content)
			if err != nil {
				return b, fmt.Errorf("%s: %w", p.path, err)
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

// locate returns the sections the stub uses for the profile booted.
func (p *predictor) locate(img *uki.ImageFile) (*pcr.Located, error) {
	var all []pcr.Section
	for _, s := range img.Sections() {
		all = append(all, pcr.Section{Name: s.Name, Content: s.Content})
	}
	loc, err := pcr.LocateProfile(all, p.m.Profile)
	if err != nil {
		return nil, fmt.Errorf("%s: profile %d: %w", p.path, p.m.Profile, err)
	}
	return loc, nil
}

// pcr4 is the firmware's PCR 4: the boot attempts, then each image it
// starts (the loaders, the UKI, the add-ons the stub loads through it).
func (p *predictor) pcr4(ctx context.Context, loaded []eventlog.Addon) ([]eventlog.Event, error) {
	chain := slices.Concat(p.m.Loaders, []string{p.path})
	for _, a := range loaded {
		chain = append(chain, a.Path)
	}
	fb := eventlog.FirmwareBoot{BootAttempts: max(p.m.BootAttempts, 1)}
	for _, f := range chain {
		app, err := imageApplication(ctx, f, p.banks)
		if err != nil {
			return nil, err
		}
		fb.Chain = append(fb.Chain, app)
	}
	return eventlog.PCR4Events(fb, p.banks)
}

// imageApplication is the PE file at path as the firmware measures it
// into PCR 4 when it loads it (its Authenticode digest).
func imageApplication(ctx context.Context, path string, banks []pcr.Bank) (eventlog.BootApplication, error) {
	f, err := os.Open(path)
	if err != nil {
		return eventlog.BootApplication{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return eventlog.BootApplication{}, err
	}
	app, err := eventlog.ImageApplication(ctx, filepath.Base(path), f, st.Size(), banks)
	if err != nil {
		return app, fmt.Errorf("%s: %w", path, err)
	}
	return app, nil
}

// pcr9 predicts what Linux's EFI stub measures into PCR 9: the command
// line and the initrd the stub hands over (eventlog.StubBoot.CommandLine,
// eventlog.StubInitrd and eventlog.StubBoot.LinuxInitrd: .cmdline or the load
// options, add-ons; the console= arguments stub 262 appends,
// eventlog.AppendConsoles). With the machine's consoles unknown, the command
// line event is the one without an appended console, and alts the others
// the stub's rule allows.
func (p *predictor) pcr9(img *uki.ImageFile, major int, sb eventlog.StubBoot) ([]eventlog.Event, []Alternative, error) {
	loc, err := p.locate(img)
	if err != nil {
		return nil, nil, err
	}
	secs := map[string]pcr.Sized{}
	for _, s := range loc.Sections {
		switch s.Name {
		case ".initrd", ".pcrsig", ".pcrpkey", ".osrel", ".cmdline", ".ucode", ".profile":
			c, ok := s.Content.(pcr.Sized)
			if !ok {
				return nil, nil, fmt.Errorf("PCR 9: %s: section %s: its size is not known", p.path, s.Name)
			}
			secs[s.Name] = c
		}
	}
	// systemd-boot's initrd of a Type #1 entry's extra files, which the
	// stub passes on.
	files, err := p.entryFiles()
	if err != nil {
		return nil, nil, err
	}
	previous, err := eventlog.EntryExtrasInitrd(files)
	if err != nil {
		return nil, nil, fmt.Errorf("PCR 9: %w", err)
	}
	initrd, err := eventlog.StubInitrdAfter(major, previous, secs, sb.Extras)
	if err != nil {
		return nil, nil, fmt.Errorf("PCR 9: %w", err)
	}
	if initrd, err = sb.LinuxInitrd(initrd); err != nil {
		return nil, nil, fmt.Errorf("PCR 9: %w", err)
	}
	cmdline, _, err := sb.CommandLine(p.banks)
	if err != nil {
		return nil, nil, fmt.Errorf("PCR 9: %w", err)
	}
	x86 := img.Machine() == uki.MachineAMD64 || img.Machine() == uki.MachineI386
	candidates := eventlog.ConsoleCandidates(x86)
	if p.m.Consoles != nil {
		candidates = []eventlog.Consoles{*p.m.Consoles}
	}
	var cmdlines, whats []string
	for _, c := range candidates {
		full, err := eventlog.AppendConsoles(major, cmdline, c, x86)
		if err != nil {
			return nil, nil, fmt.Errorf("PCR 9: %w", err)
		}
		if !slices.Contains(cmdlines, full) {
			cmdlines = append(cmdlines, full)
			whats = append(whats, c.String())
		}
	}
	evs, err := eventlog.LinuxEvents(cmdlines[0], initrd, p.banks)
	if err != nil {
		return nil, nil, fmt.Errorf("PCR 9: %w", err)
	}
	if len(cmdlines) == 1 {
		if p.m.Consoles != nil && cmdlines[0] != cmdline {
			evs[0].Description += fmt.Sprintf(" (console= appended by the stub for the consoles %s)", whats[0])
		}
		return evs, nil, nil
	}
	p.note("PCR 9: the machine's consoles are not known, and systemd-stub %s appends console= arguments to a command line without one: the command line event is predicted for each of the %d outcomes", p.stubVersion, len(cmdlines))
	var alts []Alternative
	for i, c := range cmdlines[1:] {
		ev := eventlog.LoadOptionsLinuxEvent(c, p.banks)
		alts = append(alts, Alternative{Description: ev.Description + " (consoles: " + whats[i+1] + ")", Digests: ev.Digests})
	}
	evs[0].Description += " (consoles: none, or graphics only)"
	return evs, alts, nil
}

// bootSecretReason is why PCR 9's initrd event is machine-specific with
// Machine.BootSecret.
const bootSecretReason = "the initrd may hold systemd-stub's /.extra/boot-secret, derived from the LoaderBootSecret EFI variable and the ESP's \\loader\\boot-secret-mixin, which only the machine knows; its type and tag are checked, its digest cannot be"

// bootSecret returns the index among PCR 9's events evs of the one a boot
// secret makes machine-specific (Machine.BootSecret): Linux's initrd event,
// or -1 when there is none (no boot secret possible, or not asked for). A
// UKI without any initrd would get one only with the secret: that is not
// modelled, and an error.
func (p *predictor) bootSecret(evs []eventlog.Event) (int, error) {
	if !p.m.BootSecret {
		return -1, nil
	}
	adds, err := eventlog.AddsBootSecret(p.stubVersion)
	if err != nil {
		return -1, fmt.Errorf("PCR 9 with a boot secret (Machine.BootSecret): %w", err)
	}
	if !adds {
		p.note("PCR 9: systemd-stub %s makes no boot secret (stubs from 261 on do): the initrd is predicted as it is", p.stubVersion)
		return -1, nil
	}
	tag := fmt.Sprintf("tag %#x ", eventlog.LinuxInitrdEventTag)
	for i, ev := range evs {
		if ev.Type == eventlog.EvEventTag && strings.HasPrefix(ev.Description, tag) {
			p.note("PCR 9: the machine may have a boot secret (Machine.BootSecret), which systemd-stub %s adds to the initrd: the initrd event is machine-specific, and PCR 9's value cannot be predicted offline", p.stubVersion)
			return i, nil
		}
	}
	return -1, fmt.Errorf("PCR 9: %s has no initrd, so a boot secret would be the only one (an event not modelled); leave out PCR 9", p.path)
}

// pcr11 is the stub's PCR 11: the sections of the profile booted, with the
// .dtbauto and .efifw picked (Machine.DTBAuto, Machine.EFIFW), in the
// stub version's order.
func (p *predictor) pcr11(img *uki.ImageFile, stubVersion string) ([]eventlog.Event, error) {
	order, err := pcr.OrderFor(stubVersion)
	if err != nil {
		return nil, err
	}
	loc, err := p.locate(img)
	if err != nil {
		return nil, err
	}
	dtb, fw := -1, -1
	switch {
	case p.m.DTBAuto != nil:
		dtb = *p.m.DTBAuto
	case len(loc.DTBAuto) > 0:
		return nil, fmt.Errorf("%s: profile %d has .dtbauto sections, of which the stub measures the one matching the machine: PCR 11 needs the one picked (Machine.DTBAuto)", p.path, p.m.Profile)
	}
	selects, err := pcr.SelectsEFIFW(stubVersion)
	if err != nil {
		return nil, err
	}
	switch {
	case p.m.EFIFW != nil && *p.m.EFIFW >= 0 && !selects:
		return nil, fmt.Errorf("%s: systemd-stub %s never selects a .efifw section (stubs from 261.1 on do)", p.path, stubVersion)
	case p.m.EFIFW != nil:
		fw = *p.m.EFIFW
	case len(loc.EFIFW) > 0 && selects:
		return nil, fmt.Errorf("%s: profile %d has .efifw sections, of which systemd-stub %s measures the one its .hwids firmware entry for the machine names: PCR 11 needs the one picked (Machine.EFIFW)", p.path, p.m.Profile, stubVersion)
	}
	secs, err := loc.With(dtb, fw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.path, err)
	}
	evs, err := eventlog.SectionEvents(order, secs, p.banks)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.path, err)
	}
	return evs, nil
}

// UnsupportedPCRError is a PCR Predict does not predict.
type UnsupportedPCRError struct{ PCR int }

func (e *UnsupportedPCRError) Error() string {
	s := make([]string, len(predictedPCRs))
	for i, n := range predictedPCRs {
		s[i] = strconv.Itoa(n)
	}
	return fmt.Sprintf("PCR %d: not predicted (ukibuild predicts PCR %s)", e.PCR, strings.Join(s, ","))
}

// StubVersionError says that the UKI's stub version is unknown and a
// prediction needs it.
type StubVersionError struct{ Path string }

func (e *StubVersionError) Error() string {
	return fmt.Sprintf("%s: no systemd-stub version in its .sdmagic section; give the stub version", e.Path)
}

// entryBootMajor is the systemd-boot whose handling of Type #1 entries
// (boot.c of systemd 262: what it measures, the load options it passes)
// was examined and is predicted.
const entryBootMajor = 262

// checkEntryLoader refuses a last loader that is not systemd-boot 262:
// another boot loader, or another systemd-boot, may read the entry or
// measure its files differently.
func checkEntryLoader(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	v, err := pcr.BootVersion(f, st.Size())
	if err != nil {
		return fmt.Errorf("a Type #1 entry is started by systemd-boot %d, but the last loader %s is not: %w", entryBootMajor, path, err)
	}
	if major, err := pcr.MajorVersion(v); err != nil || major != entryBootMajor {
		return fmt.Errorf("a Type #1 entry is started by the last loader %s, systemd-boot %s: only systemd-boot %d's handling of entries is known", path, v, entryBootMajor)
	}
	return nil
}
