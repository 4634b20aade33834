package uki

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/ukibuild/ukibuild/internal/pe"
	"github.com/ukibuild/ukibuild/pcr"
	"github.com/ukibuild/ukibuild/pcrsig"
	"github.com/ukibuild/ukibuild/sbat"
)

// PCRVariant is one set of sections systemd-stub may measure into PCR 11
// when it boots the UKI: one per profile signed, per .dtbauto the stub may
// pick and, with a stub that selects firmware (pcr.SelectsEFIFW), per
// .efifw it may pick or none. The .pcrsig section of a profile holds the
// policies of all its variants, in this order (for each .dtbauto: no
// .efifw, then each .efifw). ukify 262.1 runs systemd-measure once per
// .dtbauto and never passes it a .efifw, so its .pcrsig has the variants
// without .efifw only.
type PCRVariant struct {
	// Profile is the profile (0 is the default one, and the only one of a
	// UKI without .profile sections).
	Profile int
	// DTBAuto is the index of the measured .dtbauto among the profile's
	// candidates (see pcr.Located), or -1 when there is none.
	DTBAuto int
	// EFIFW is the index of the measured .efifw among the profile's
	// candidates (see pcr.Located), or -1 when there is none.
	EFIFW int
	// Sections are the sections measured (pcr.Measure ignores those the
	// stub does not measure).
	Sections []pcr.Section
}

// checkLinux refuses to predict PCR 11 without a kernel, as ukify's
// systemd-measure does: PCR policies belong to a bootable UKI (the stub
// does not use an add-on's .pcrsig).
func (v PCRVariant) checkLinux() error {
	for _, s := range v.Sections {
		if s.Name == ".linux" {
			return nil
		}
	}
	return errors.New("PCR 11 predictions and signatures need a kernel (.linux); an add-on or profile PE has none")
}

// profileImports are the sections ukify 262 copies from a --join-profile PE
// (src/ukify/ukify.py, make_uki, "to_import"); .osrel only when the base
// has one.
var profileImports = []string{".linux", ".osrel", ".cmdline", ".initrd", ".efifw", ".ucode", ".splash", ".dtb", ".uname", ".sbat", ".profile"}

// assembler adds the sections of a plan in ukify's order and signs PCR
// policies along the way.
type assembler struct {
	ctx   context.Context // Prepare's
	cfg   *Config
	plan  *Plan
	warnf func(string, ...any)
	// measured says, per plan section, whether ukify passes it to
	// systemd-measure (its Section.measure).
	measured []bool
	// digests are the unsigned .pcrsig texts made for
	// Config.PolicyDigestKey, base first; profiles says which are a
	// joined profile's.
	digests  [][]byte
	profiles []bool
}

// add appends s, refusing a second section of a name after the last
// .profile (ukify's UKI.add_section; .dtbauto and .efifw may repeat).
func (a *assembler) add(s Section, measure bool) error {
	start := 0
	for i, have := range a.plan.Sections {
		if have.Name == ".profile" {
			start = i + 1
		}
	}
	if !multiInstanceSections[s.Name] {
		for _, have := range a.plan.Sections[start:] {
			if have.Name == s.Name {
				return fmt.Errorf("duplicate section %s", s.Name)
			}
		}
	}
	a.plan.Sections = append(a.plan.Sections, s)
	a.measured = append(a.measured, measure)
	return nil
}

// assemble adds the sections as ukify 262's make_uki does, from the
// .profile of a profile PE to the joined profiles and their .pcrsig.
func (a *assembler) assemble(linux, uname, pcrpkey Content) error {
	cfg := a.cfg
	profile := cfg.Profile
	if profile != nil && profile.Size() == 0 {
		profile = nil // ukify leaves an empty profile out
	}
	if profile == nil && len(cfg.JoinProfiles) > 0 {
		profile = Text("implicit base profile", "ID=main")
	}
	profilePE := profile != nil && len(cfg.JoinProfiles) == 0
	if profilePE {
		// A profile PE starts with its .profile.
		if err := a.add(Section{".profile", profile}, true); err != nil {
			return err
		}
	}
	std := []struct {
		s       Section
		measure bool
	}{
		{Section{".osrel", cfg.OSRelease}, true},
		{Section{".cmdline", cfg.Cmdline}, true},
		{Section{".dtb", cfg.Devicetree}, true},
	}
	for _, c := range cfg.DevicetreeAuto {
		std = append(std, struct {
			s       Section
			measure bool
		}{Section{".dtbauto", c}, true})
	}
	std = append(std, []struct {
		s       Section
		measure bool
	}{
		{Section{".hwids", cfg.HWIDs}, true},
		{Section{".uname", uname}, true},
		{Section{".splash", cfg.Splash}, true},
		{Section{".pcrpkey", pcrpkey}, true},
		{Section{".linux", linux}, true},
		{Section{".initrd", JoinInitrds(cfg.Initrds)}, true},
	}...)
	for _, c := range cfg.EFIFW {
		// ukify does not measure .efifw; stubs from 261.1 on measure the
		// one they select (see measureProfile). The flag makes it a
		// candidate for pcr.LocateProfile.
		std = append(std, struct {
			s       Section
			measure bool
		}{Section{".efifw", c}, true})
	}
	std = append(std, struct {
		s       Section
		measure bool
	}{Section{".ucode", cfg.Microcode}, true})
	for _, e := range std {
		if e.s.Content != nil {
			if err := a.add(e.s, e.measure); err != nil {
				return err
			}
		}
	}
	for _, s := range cfg.Sections {
		if err := CheckSectionName(s.Name); err != nil {
			return err
		}
		if s.Content == nil {
			return fmt.Errorf("section %s has no content", s.Name)
		}
		// ukify does not pass these to systemd-measure; the stub measures
		// them all the same when it knows the name, so ukibuild does.
		if err := a.add(s, true); err != nil {
			return err
		}
	}
	if !profilePE {
		merged, err := a.mergeSBAT(linux)
		if err != nil {
			return err
		}
		// The stub does not measure an add-on's .sbat, nor does ukify.
		if err := a.add(Section{".sbat", Text("merged SBAT", merged)}, linux != nil); err != nil {
			return err
		}
	}
	if profile != nil && !profilePE {
		// The base profile's .profile ends the shared sections.
		if err := a.add(Section{".profile", profile}, true); err != nil {
			return err
		}
	}
	if cfg.PolicyDigestKey != nil && len(cfg.PCRKeys) > 0 {
		return errors.New("PCR signing keys and a policy digest key exclude each other")
	}
	if !profilePE {
		sign := len(cfg.SignProfiles) == 0
		if !sign && profile != nil {
			id, ok, err := profileID(profile, a.warnf)
			if err != nil {
				return fmt.Errorf("base profile: %w", err)
			}
			sign = ok && slices.Contains(cfg.SignProfiles, id)
		}
		if sign {
			if err := a.measureProfile(0); err != nil {
				return err
			}
		}
	}
	imports := slices.Clone(profileImports)
	if cfg.OSRelease == nil {
		imports = slices.DeleteFunc(imports, func(n string) bool { return n == ".osrel" })
	}
	for i, path := range cfg.JoinProfiles {
		secs, err := readProfilePE(path, imports)
		if err != nil {
			return err
		}
		for _, s := range secs {
			if err := a.add(s, true); err != nil {
				return fmt.Errorf("profile PE %s: %w", path, err)
			}
		}
		if len(cfg.SignProfiles) > 0 {
			id, _, err := profileID(secs[0].Content, a.warnf)
			if err != nil {
				return fmt.Errorf("profile PE %s: %w", path, err)
			}
			if id == "" || !slices.Contains(cfg.SignProfiles, id) {
				a.warnf("not signing expected PCR measurements for the %q profile of %s", id, path)
				continue
			}
		}
		if err := a.measureProfile(i + 1); err != nil {
			return fmt.Errorf("profile %s: %w", path, err)
		}
	}
	a.finishPolicyDigest()
	return nil
}

// mergeSBAT merges the stub's and the kernel's .sbat records with the
// user's (ukify's merge_sbat). Add-ons merge only the user's.
func (a *assembler) mergeSBAT(linux Content) (string, error) {
	cfg := a.cfg
	var peSBAT []sbat.PESection
	defText := sbat.DefaultAddon
	if linux != nil {
		defText = sbat.DefaultUKI
		for _, d := range a.plan.Stub.sbat {
			peSBAT = append(peSBAT, sbat.PESection{Source: "stub " + cfg.Stub, Data: d})
		}
		ks, err := contentSBAT(linux)
		if err != nil {
			return "", fmt.Errorf("kernel %s: %w", cfg.Linux, err)
		}
		for _, d := range ks {
			peSBAT = append(peSBAT, sbat.PESection{Source: "kernel " + cfg.Linux, Data: d})
		}
	}
	var texts []string
	for _, c := range cfg.SBAT {
		b, err := readSmall(c, 1<<20)
		if err != nil {
			return "", fmt.Errorf("SBAT %s: %w", c, err)
		}
		texts = append(texts, string(b))
	}
	if len(texts) == 0 {
		texts = []string{defText}
	}
	merged, err := sbat.MergeTexts(peSBAT, texts, a.warnf)
	if err != nil {
		var te *sbat.TextError
		if errors.As(err, &te) && te.Index < len(cfg.SBAT) {
			return "", fmt.Errorf("invalid SBAT in %s: %w", cfg.SBAT[te.Index], te.Err)
		}
		return "", fmt.Errorf("SBAT: %w", err)
	}
	return merged, nil
}

// measureProfile records the PCR variants of profile n of the sections so
// far and, with PCR keys or a policy digest key, adds its .pcrsig.
func (a *assembler) measureProfile(n int) error {
	var secs []pcr.Section
	for i, s := range a.plan.Sections {
		if a.measured[i] {
			secs = append(secs, pcr.Section{Name: s.Name, Content: sectionRef{s.Content, i}})
		}
	}
	loc, err := pcr.LocateProfile(secs, n)
	if err != nil {
		return err
	}
	variants, err := a.variants(loc)
	if err != nil {
		return err
	}
	a.plan.Variants = append(a.plan.Variants, variants...)
	cfg := a.cfg
	if len(cfg.PCRKeys) == 0 && cfg.PolicyDigestKey == nil {
		return nil
	}
	if cfg.PolicyDigestKey == nil {
		// Signed while the image is written (see stream.go).
		for _, v := range variants {
			if err := v.checkLinux(); err != nil {
				return err
			}
		}
		job, err := newPCRSigJob(a.plan, cfg, variants)
		if err != nil {
			return err
		}
		job.index = len(a.plan.Sections)
		return a.add(Section{".pcrsig", job}, false)
	}
	sig, err := signPCRVariants(a.ctx, a.plan, variants, cfg)
	if err != nil {
		return err
	}
	a.digests = append(a.digests, sig)
	a.profiles = append(a.profiles, n > 0)
	return a.add(Section{".pcrsig", Bytes("PCR signatures", sig)}, false)
}

// variants returns the PCR variants of a located profile: for each .dtbauto
// (or none when there is none; ukify signs no "none" variant beside
// devicetrees), no .efifw and, when the stub selects firmware, each .efifw.
func (a *assembler) variants(loc *pcr.Located) ([]PCRVariant, error) {
	dtbs := []int{-1}
	if len(loc.DTBAuto) > 0 {
		dtbs = dtbs[:0]
		for i := range loc.DTBAuto {
			dtbs = append(dtbs, i)
		}
	}
	fws := []int{-1}
	if len(loc.EFIFW) > 0 {
		// A stub without a version fails Plan.Order when signing.
		if selects, err := pcr.SelectsEFIFW(a.plan.Stub.Version()); err == nil && selects {
			for i := range loc.EFIFW {
				fws = append(fws, i)
			}
		}
	}
	var out []PCRVariant
	for _, d := range dtbs {
		for _, f := range fws {
			s, err := loc.With(d, f)
			if err != nil {
				return nil, err
			}
			out = append(out, PCRVariant{Profile: loc.Profile, DTBAuto: d, EFIFW: f, Sections: s})
		}
	}
	return out, nil
}

// finishPolicyDigest sets Plan.PolicyDigest to what ukify prints after a
// --policy-digest build: the base's .pcrsig text as it is, or, once a
// joined profile was measured too, all policies combined (json.dumps,
// without the padding); "{}" when nothing was measured.
func (a *assembler) finishPolicyDigest() {
	if a.cfg.PolicyDigestKey == nil {
		return
	}
	switch {
	case len(a.digests) == 0:
		a.plan.PolicyDigest = []byte("{}")
	case !slices.Contains(a.profiles, true):
		a.plan.PolicyDigest = a.digests[0]
	default:
		if c, err := pcrsig.Combine(a.digests...); err == nil { // our own output: cannot fail
			a.plan.PolicyDigest = c
		}
	}
}

// signPCRVariants returns the .pcrsig content for the variants of one
// profile, as ukify's call_systemd_measure builds it: for each variant
// (each .dtbauto and .efifw), the signed policies of every key group (or, for
// PolicyDigestKey, the unsigned ones, plus the "initrd" ones with
// PolicyDigestInitrd), combined, and padded for a policy digest.
func signPCRVariants(ctx context.Context, plan *Plan, variants []PCRVariant, cfg *Config) ([]byte, error) {
	order, err := plan.Order()
	if err != nil {
		return nil, err
	}
	var docs []*pcrsig.PolicyDocument
	for _, v := range variants {
		if err := v.checkLinux(); err != nil {
			return nil, err
		}
		m, err := pcr.MeasureContext(ctx, order, v.Sections, pcr.NormalizeBanks(cfg.PCRBanks))
		if err != nil {
			return nil, err
		}
		sign := func(phases []string, opts pcrsig.SignOptions) error {
			ps, err := pcr.ParsePhases(phases)
			if err != nil {
				return err
			}
			var preds []pcr.Prediction
			for _, p := range ps {
				preds = append(preds, m.Phase(p))
			}
			doc, err := pcrsig.Sign(pcrsig.PolicyInputs(preds), opts)
			if err != nil {
				return err
			}
			docs = append(docs, doc)
			return nil
		}
		if cfg.PolicyDigestKey != nil {
			opts := pcrsig.SignOptions{PublicKey: cfg.PolicyDigestKey, PolicyDigest: true}
			if err := sign(nil, opts); err != nil {
				return nil, err
			}
			if cfg.PolicyDigestInitrd {
				opts.PolicyRef = "initrd"
				if err := sign([]string{"enter-initrd"}, opts); err != nil {
					return nil, err
				}
			}
			continue
		}
		for i, g := range cfg.PCRKeys {
			if err := sign(g.Phases, pcrsig.SignOptions{Signer: g.Signer, PublicKey: g.PublicKey, PolicyRef: g.PolicyRef}); err != nil {
				return nil, fmt.Errorf("PCR key %d: %w", i+1, err)
			}
		}
	}
	return pcrsig.Section(cfg.PolicyDigestKey != nil, docs...)
}

// profileID returns the ID= of a profile's text (ukify's read_env_file)
// and whether there is one.
func profileID(c Content, warnf func(string, ...any)) (string, bool, error) {
	b, err := readSmall(c, 1<<20)
	if err != nil {
		return "", false, err
	}
	if !utf8.Valid(b) {
		return "", false, fmt.Errorf("%s: not valid UTF-8", c)
	}
	env, err := readEnvFile(string(b), warnf)
	if err != nil {
		return "", false, fmt.Errorf("%s: %w", c, err)
	}
	id, ok := env["ID"]
	return id, ok, nil
}

// readProfilePE returns the sections of a profile PE that ukify 262 copies
// into a UKI with --join-profile (those named in imports, in PE order, each
// min(VirtualSize, SizeOfRawData) bytes long), with ukify's checks: there
// is at least one, the first is .profile and there is only one .profile.
func readProfilePE(path string, imports []string) ([]Section, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("profile PE: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("profile PE: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("profile PE %s: not a regular file", path)
	}
	hdr, err := pe.Parse(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("profile PE %s: %w", path, pe.NameFile(err, path))
	}
	var secs []Section
	for i := range hdr.Sections {
		s := &hdr.Sections[i]
		name := s.NameString()
		if !utf8.ValidString(name) {
			return nil, fmt.Errorf("profile PE %s: section %d has a name that is not UTF-8 (%q)", path, i, name)
		}
		if !slices.Contains(imports, name) {
			continue
		}
		switch {
		case len(secs) == 0 && name != ".profile":
			return nil, fmt.Errorf("profile PE %s: the first section to copy is %s, not .profile (build it with --profile and without --linux)", path, name)
		case len(secs) > 0 && name == ".profile":
			return nil, fmt.Errorf("profile PE %s: more than one .profile section", path)
		}
		off, end := hdr.DataRange(i, int64(min(s.VirtualSize, s.SizeOfRawData)))
		c := &fileRange{path: path, fileSize: st.Size(), off: off, n: end - off,
			what: fmt.Sprintf("section %s of %s", name, path)}
		secs = append(secs, Section{name, c})
	}
	if len(secs) == 0 {
		return nil, fmt.Errorf("profile PE %s: no sections to copy (want .profile and some of %v)", path, imports[:len(imports)-1])
	}
	return secs, nil
}

// fileRange is n bytes of a file from off; the file's size is checked
// again when it is read.
type fileRange struct {
	path     string
	fileSize int64
	off, n   int64
	what     string
}

func (c *fileRange) Size() int64    { return c.n }
func (c *fileRange) String() string { return c.what }
func (c *fileRange) Open() (io.ReadCloser, error) {
	f, err := openChecked(c.path, c.fileSize)
	if err != nil {
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{io.NewSectionReader(f, c.off, c.n), f}, nil
}

// ProfileTextOrFile interprets ukify's --profile TEXT|@PATH: "@PATH" is the
// file read as text (UTF-8, with "\r\n" and "\r" line ends turned into
// "\n", as Python's read_text does); anything else is the text itself.
// Empty text gives nil (no profile).
func ProfileTextOrFile(arg string) (Content, error) {
	text := arg
	what := "profile"
	if p, ok := strings.CutPrefix(arg, "@"); ok {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("profile: %w", err)
		}
		if !utf8.Valid(b) {
			return nil, fmt.Errorf("profile %s: not valid UTF-8", p)
		}
		text = strings.ReplaceAll(strings.ReplaceAll(string(b), "\r\n", "\n"), "\r", "\n")
		what = p
	}
	if text == "" {
		return nil, nil
	}
	return Text(what, text), nil
}
