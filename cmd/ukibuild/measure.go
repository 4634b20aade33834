package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"

	"golang.org/x/term"

	"github.com/ukibuild/ukibuild/attest"
	"github.com/ukibuild/ukibuild/eventlog"
	"github.com/ukibuild/ukibuild/keys"
	"github.com/ukibuild/ukibuild/pcr"
	"github.com/ukibuild/ukibuild/pcrsig"
	"github.com/ukibuild/ukibuild/uki"
)

// measureCmd mirrors systemd-measure 262: calculate, sign, policy-digest;
// "ukibuild measure FILE.efi" predicts for a built UKI.
type measureCmd struct {
	Calculate    measureCalculateCmd    `cmd:"" help:"Calculate the expected PCR 11 values (systemd-measure calculate)."`
	Sign         measureSignCmd         `cmd:"" help:"Calculate and sign the PCR 11 policies (systemd-measure sign)."`
	PolicyDigest measurePolicyDigestCmd `cmd:"" name:"policy-digest" help:"Calculate the PCR 11 policy digests to sign offline (systemd-measure policy-digest)."`
	File         measureFileCmd         `cmd:"" default:"withargs" hidden:"" help:"Predict PCR 11 for a built UKI: ukibuild measure FILE.efi."`
}

// measureSections are systemd-measure's section options (→ .NAME).
type measureSections struct {
	Linux   string `help:"Kernel image (→ .linux)." placeholder:"PATH"`
	Osrel   string `help:"os-release (→ .osrel)." placeholder:"PATH"`
	Cmdline string `help:"Kernel command line (→ .cmdline)." placeholder:"PATH"`
	Initrd  string `help:"Initrd (→ .initrd)." placeholder:"PATH"`
	Ucode   string `help:"Microcode (→ .ucode)." placeholder:"PATH"`
	Splash  string `help:"Splash image (→ .splash)." placeholder:"PATH"`
	Dtb     string `help:"Devicetree (→ .dtb)." placeholder:"PATH"`
	Dtbauto string `help:"Devicetree for automatic selection (→ .dtbauto)." placeholder:"PATH"`
	Uname   string `help:"'uname -r' text (→ .uname)." placeholder:"PATH"`
	SBAT    string `name:"sbat" help:"SBAT (→ .sbat)." placeholder:"PATH"`
	PCRPKey string `name:"pcrpkey" help:"PCR public key (→ .pcrpkey)." placeholder:"PATH"`
	Profile string `help:"Profile (→ .profile)." placeholder:"PATH"`
	HWIDs   string `name:"hwids" help:"HWIDs (→ .hwids)." placeholder:"PATH"`
	EFIFW   string `name:"efifw" help:"EFI firmware (→ .efifw)." placeholder:"PATH"`
}

// paths maps systemd-measure's section options (pcr.Options) to the files
// given.
func (m *measureSections) paths() map[string]string {
	return map[string]string{"linux": m.Linux, "osrel": m.Osrel, "cmdline": m.Cmdline, "initrd": m.Initrd,
		"ucode": m.Ucode, "splash": m.Splash, "dtb": m.Dtb, "dtbauto": m.Dtbauto, "uname": m.Uname,
		"sbat": m.SBAT, "pcrpkey": m.PCRPKey, "profile": m.Profile, "hwids": m.HWIDs, "efifw": m.EFIFW}
}

// sections reads the section files (uki.SectionFiles).
func (m *measureSections) sections() ([]pcr.Section, error) {
	secs, err := uki.SectionFiles(m.paths())
	var fe *uki.SectionFileError
	if errors.As(err, &fe) {
		return nil, fmt.Errorf("--%s: %w", fe.Option, fe.Err)
	}
	return secs, err
}

// measureCommon are the options every measure verb takes.
type measureCommon struct {
	Bank        []string `sep:"none" help:"PCR bank (sha1, sha256, sha384, sha512); repeatable; default all four." placeholder:"DIGEST"`
	Phase       []string `help:"Boot phase path to predict for; repeatable; default enter-initrd and its successors." sep:"none" placeholder:"PHASE"`
	JSON        string   `name:"json" default:"" help:"JSON output: pretty, short or off."`
	J           bool     `short:"j" help:"JSON: pretty on a terminal, short otherwise."`
	StubVersion string   `name:"stub-version" help:"Measure as this systemd-stub version would (its section order); default 262." placeholder:"VERSION"`
	Stub        string   `help:"Measure as this stub would (its version is read from .sdmagic, or its LoaderInfo string)." placeholder:"FILE"`
}

// version is the stub version to predict for: --stub-version, --stub's,
// else 262.
func (c *measureCommon) version() (string, error) {
	version := c.StubVersion
	if c.Stub != "" {
		if version != "" {
			return "", fmt.Errorf("--stub and --stub-version exclude each other")
		}
		stub, err := uki.ReadStub(c.Stub)
		if err != nil {
			return "", err
		}
		if version = stub.Version(); version == "" {
			return "", fmt.Errorf("stub %s: no systemd-stub version (no .sdmagic section and no LoaderInfo string)", c.Stub)
		}
	}
	if version == "" {
		version = "262"
	}
	return version, nil
}

func (c *measureCommon) banks() ([]pcr.Bank, error) {
	var banks []pcr.Bank
	for _, name := range c.Bank {
		b, err := pcr.ResolveBank(name)
		if err != nil {
			return nil, fmt.Errorf("--bank: %w", err)
		}
		banks = append(banks, b)
	}
	return banks, nil
}

// jsonMode resolves --json/-j; def applies when neither is given.
func (c *measureCommon) jsonMode(out io.Writer, def pcr.MeasureJSON) pcr.MeasureJSON {
	switch {
	case c.JSON == "pretty":
		return pcr.MeasureJSONPretty
	case c.JSON == "short":
		return pcr.MeasureJSONShort
	case c.JSON == "off":
		return pcr.MeasureJSONOff
	case c.J:
		return ttyJSON(out)
	}
	return def
}

// ttyJSON is systemd's default JSON style: pretty on a terminal, else short.
func ttyJSON(out io.Writer) pcr.MeasureJSON {
	if f, ok := out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return pcr.MeasureJSONPretty
	}
	return pcr.MeasureJSONShort
}

// measureInputs are the options of the verbs that take section files:
// calculate, sign and policy-digest take the same options, as
// systemd-measure's verbs do (calculate ignores the signing ones and refuses
// --append=).
type measureInputs struct {
	measureSections
	measureCommon
	Current         bool   `help:"Use this machine's current PCR 11 (systemd-measure --current): refused, ukibuild predicts offline."`
	PrivateKey      string `name:"private-key" help:"PCR signing key (RSA) (sign): a PEM file or a pkcs11: URI." placeholder:"PATH|URI"`
	PublicKey       string `name:"public-key" help:"Public key (PEM) whose fingerprint the policies carry (sign, policy-digest)." placeholder:"PATH"`
	Certificate     string `help:"Certificate (PEM) whose key the policies carry (sign, policy-digest)." placeholder:"PATH"`
	PolicyRef       string `name:"policyref" help:"Policy reference to bind the signatures to (sign, policy-digest)." placeholder:"STRING"`
	Append          string `help:"JSON signature file to append the new policies to (sign, policy-digest)." placeholder:"PATH"`
	LegacySHAOfBank bool   `name:"legacy-bank-hash" help:"Sign with the bank's hash as systemd-measure up to 259 did (default: SHA-256, as systemd 260 and later)."`
	// Accepted as systemd-measure accepts them; they change nothing here
	// (no pager is started; the TPM is only read for --current).
	NoPager    bool   `name:"no-pager" hidden:"" help:"Accepted for systemd-measure compatibility; ignored."`
	TPM2Device string `name:"tpm2-device" hidden:"" help:"Accepted for systemd-measure compatibility; ignored." placeholder:"PATH"`
}

// check refuses what systemd-measure 262.1 refuses (pcr.MeasureCommand),
// printing its warnings and its refusal as it does: the bare message on
// stderr, exit code 1.
func (m *measureInputs) check(e *env, verb string) error {
	if m.JSON == "help" { // systemd's parse_json_argument: list the values, exit 0
		fmt.Fprint(e.stdout, "pretty\nshort\noff\n")
		return exitCode(0)
	}
	warnings, err := pcr.MeasureCommand{
		Verb: verb, Sections: m.paths(), Banks: m.Bank, JSON: m.JSON, Current: m.Current,
		Append: m.Append, PrivateKey: m.PrivateKey, PublicKey: m.PublicKey, Certificate: m.Certificate,
	}.Check()
	for _, w := range warnings {
		fmt.Fprintln(e.stderr, w)
	}
	var refusal *pcr.MeasureRefusal
	if errors.As(err, &refusal) {
		fmt.Fprintln(e.stderr, refusal.Message)
		return exitCode(1)
	}
	return err
}

// predictions reads the section files and predicts PCR 11 for them.
func (m *measureInputs) predictions() ([]pcr.Prediction, error) {
	secs, err := m.sections()
	if err != nil {
		return nil, err
	}
	return m.predict(secs)
}

func (c *measureCommon) predict(sections []pcr.Section) ([]pcr.Prediction, error) {
	version, err := c.version()
	if err != nil {
		return nil, err
	}
	return c.predictAs(version, sections)
}

// predictAs is predict for a stub version already known (--stub read once).
func (c *measureCommon) predictAs(version string, sections []pcr.Section) ([]pcr.Prediction, error) {
	order, err := pcr.OrderFor(version)
	if err != nil {
		return nil, err
	}
	banks, err := c.banks()
	if err != nil {
		return nil, err
	}
	return pcr.Predict(order, sections, banks, c.Phase)
}

type measureCalculateCmd struct{ measureInputs }

func (m *measureCalculateCmd) Run(e *env) error {
	if err := m.check(e, "calculate"); err != nil {
		return err
	}
	preds, err := m.predictions()
	if err != nil {
		return err
	}
	return pcr.FormatCalculate(e.stdout, e.stderr, preds, m.jsonMode(e.stdout, pcr.MeasureJSONOff))
}

type measureSignOpts struct {
	measureInputs
}

type measureSignCmd struct{ measureSignOpts }

func (m *measureSignCmd) Run(e *env) error { return m.run(e, false) }

type measurePolicyDigestCmd struct{ measureSignOpts }

func (m *measurePolicyDigestCmd) Run(e *env) error { return m.run(e, true) }

func (m *measureSignOpts) run(e *env, policyDigest bool) error {
	verb := "sign"
	if policyDigest {
		verb = "policy-digest"
	}
	if err := m.check(e, verb); err != nil {
		return err
	}
	opts := pcrsig.SignOptions{PolicyRef: m.PolicyRef, PolicyDigest: policyDigest, Legacy: m.LegacySHAOfBank}
	var err error
	if m.PrivateKey != "" {
		var closeKey func()
		if opts.Signer, closeKey, err = openKey(m.PrivateKey, ""); err != nil {
			return err
		}
		defer closeKey()
	} else if !policyDigest {
		return fmt.Errorf("sign needs --private-key")
	}
	if m.PublicKey != "" && m.Certificate != "" {
		return fmt.Errorf("--public-key and --certificate exclude each other")
	}
	if m.PublicKey != "" {
		if opts.PublicKey, err = keys.PublicKey(m.PublicKey); err != nil {
			return err
		}
	}
	if m.Certificate != "" {
		cert, err := keys.Certificate(m.Certificate)
		if err != nil {
			return err
		}
		opts.PublicKey = cert.PublicKey
	}
	if m.Append != "" {
		data, err := os.ReadFile(m.Append)
		if err != nil {
			return fmt.Errorf("--append: %w", err)
		}
		if opts.Append, err = pcrsig.ParsePolicyDocument(data); err != nil {
			return fmt.Errorf("--append %s: %w", m.Append, err)
		}
	}
	preds, err := m.predictions()
	if err != nil {
		return err
	}
	doc, err := pcrsig.Sign(pcrsig.PolicyInputs(preds), opts)
	if err != nil {
		return err
	}
	_, err = e.stdout.Write(doc.JSON(m.jsonMode(e.stdout, ttyJSON(e.stdout))))
	return err
}

type measureFileCmd struct {
	File    string `arg:"" help:"The UKI." type:"existingfile"`
	Profile int    `help:"Profile to predict for: the base sections overridden by those of the N-th .profile (0, the default, is what the stub boots unless told otherwise)." default:"0" placeholder:"N"`
	DTBAuto string `name:"dtbauto" help:"With .dtbauto sections: the index of the one the stub picks for the machine (0 is the profile's first), or 'none'." placeholder:"INDEX|none"`
	EFIFW   string `name:"efifw" help:"With .efifw sections and a stub from 261.1 on: the index of the one the stub picks for the machine (the first whose firmware ID the .hwids firmware entry matching the machine names; 0 is the profile's first), or 'none'." placeholder:"INDEX|none"`
	Explain bool   `help:"List the events that make up each PCR (--pcrs), with descriptions, and their replay."`
	PCRs    string `name:"pcrs" default:"11" help:"With --explain, --pcrlock or --keylime-policy: the PCRs to predict (4, 7, 9, 11, 12, 13, 14: shim's, with --loader shimx64.efi); --profile N adds PCR 12's profile event (no PCR 9 then)." placeholder:"LIST"`
	PCRLock string `name:"pcrlock" help:"Write a systemd-pcrlock component for the UKI's boot: the records of its events in --pcrs (its image and add-ons in PCR 4, the stub's PCR 11, 12 and 13, Linux's PCR 9; the firmware's and boot loaders' events are other components), in the order the TPM sees them. Like 'systemd-pcrlock lock-uki --pcrlock=FILE' with --pcrs 4,11, for the stub's own version." placeholder:"FILE.pcrlock"`
	Keylime string `name:"keylime-policy" help:"Write Keylime's tpm_policy (JSON: each PCR of --pcrs with its predicted value in sha256, or the one --bank gives, and the mask)." placeholder:"FILE"`
	// SystemdVersion, with --explain and one --phase, predicts the PCRs
	// after systemd's measurements up to that phase (systemdPhase).
	SystemdVersion string `name:"systemd-version" help:"With --explain and one --phase: the version of systemd in the initrd and system (253 to 262); each PCR of --pcrs systemd extends is also given after systemd's measurements up to the end of that phase (its phase words in PCR 11; from enter-initrd on, its os-separator and NvPCR separator)." placeholder:"VERSION"`
	measureCommon
	eventPrediction
}

func (m *measureFileCmd) Run(e *env) error {
	if err := m.checkModeFlags(); err != nil {
		return err
	}
	if m.Explain || m.PCRLock != "" || m.Keylime != "" {
		pcrs, err := eventlog.ParsePCRList(m.PCRs)
		if err != nil {
			return fmt.Errorf("--pcrs: %w", err)
		}
		banks, err := m.banks()
		if err != nil {
			return err
		}
		banks = pcr.NormalizeBanks(banks)
		if m.Stub != "" {
			return fmt.Errorf("--explain, --pcrlock and --keylime-policy take --stub-version, not --stub")
		}
		if err := m.pick(m.DTBAuto, m.EFIFW); err != nil {
			return err
		}
		ref, err := m.reference(e, m.File, m.StubVersion, m.Profile, pcrs, banks)
		if err != nil {
			return err
		}
		// Everything that can fail (--phase, --systemd-version, the
		// explanation) is done before the files are written.
		asJSON := m.Explain && m.jsonMode(e.stdout, pcr.MeasureJSONOff) != pcr.MeasureJSONOff
		var text []byte
		switch {
		case m.Explain && (len(m.Phase) > 0 || m.SystemdVersion != ""):
			if text, err = m.systemdPhase(ref, asJSON); err != nil {
				return err
			}
		case m.Explain && asJSON: // attest.Reference's JSON form: events and values
			if text, err = json.MarshalIndent(ref, "", "  "); err != nil {
				return err
			}
			text = append(text, '\n')
		case m.Explain:
			var b bytes.Buffer
			if err := ref.WriteText(&b); err != nil {
				return err
			}
			text = b.Bytes()
		}
		if err := m.writeReferenceFiles(ref); err != nil {
			return err
		}
		_, err = e.stdout.Write(text)
		return err
	}
	img, err := uki.OpenImage(m.File)
	if err != nil {
		return err
	}
	defer img.Close()
	if m.StubVersion == "" && m.Stub == "" {
		if m.StubVersion = img.StubVersion(); m.StubVersion == "" {
			return fmt.Errorf("%s: no systemd-stub version (no .sdmagic section and no LoaderInfo string); give --stub-version", m.File)
		}
	}
	version, err := m.version()
	if err != nil {
		return err
	}
	dtb, err := candidatePick("--dtbauto", m.DTBAuto)
	if err != nil {
		return err
	}
	fw, err := candidatePick("--efifw", m.EFIFW)
	if err != nil {
		return err
	}
	secs, err := img.ProfileSections(version, m.Profile, dtb, fw)
	var pe *uki.ProfileError
	var ce *uki.CandidateError
	var ve *uki.StubVersionError
	switch {
	case errors.As(err, &pe):
		return fmt.Errorf("%s: --profile: %w", m.File, pe.Err)
	case errors.As(err, &ce) && ce.NeverSelects:
		return fmt.Errorf("--efifw=%d: systemd-stub %s never selects a .efifw section (stubs from 261.1 on do); give --efifw=none or leave it out", ce.Pick, version)
	case errors.As(err, &ce) && ce.Section == ".efifw":
		return fmt.Errorf("%s: profile %d has %d .efifw sections, of which systemd-stub %s measures the one whose firmware ID the .hwids entry matching the machine names: give --efifw=INDEX (0 to %d) or --efifw=none", m.File, m.Profile, ce.Count, version, ce.Count-1)
	case errors.As(err, &ce):
		return fmt.Errorf("%s: profile %d has %d .dtbauto sections, of which the stub measures the one matching the machine: give --dtbauto=INDEX (0 to %d) or --dtbauto=none", m.File, m.Profile, ce.Count, ce.Count-1)
	case errors.As(err, &ve):
		return err
	case err != nil:
		return fmt.Errorf("%s: %w", m.File, err)
	}
	preds, err := m.predictAs(version, secs)
	if err != nil {
		return err
	}
	return pcr.FormatCalculate(e.stdout, e.stderr, preds, m.jsonMode(e.stdout, pcr.MeasureJSONOff))
}

// candidatePick parses --dtbauto or --efifw (attest.ParsePick).
func candidatePick(flag, v string) (*int, error) {
	p, err := attest.ParsePick(v)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	return p, nil
}

// writeReferenceFiles writes --pcrlock and --keylime-policy
// (attest.Reference.WriteFiles: a refusal writes neither).
func (m *measureFileCmd) writeReferenceFiles(ref *attest.Reference) error {
	f := attest.ReferenceFiles{PCRLock: m.PCRLock, Keylime: m.Keylime, KeylimeBank: pcr.SHA256}
	var err error
	if m.Keylime != "" && len(m.Bank) == 1 {
		if f.KeylimeBank, err = pcr.ParseBank(m.Bank[0]); err != nil {
			return fmt.Errorf("--bank: %w", err)
		}
	} else if m.Keylime != "" && len(m.Bank) > 1 {
		return fmt.Errorf("--keylime-policy takes the values of one bank: give one --bank (default sha256)")
	}
	err = ref.WriteFiles(f)
	var fe *attest.ReferenceFileError
	if errors.As(err, &fe) {
		flag := "pcrlock"
		if fe.Field == attest.KeylimeFile {
			flag = "keylime-policy"
		}
		return fmt.Errorf("--%s: %w", flag, fe.Err)
	}
	return err
}

// measureVerbAt returns the index of the systemd-measure verb (calculate,
// sign, policy-digest) in args when args run "ukibuild measure VERB", or -1.
func measureVerbAt(args []string) int {
	for i, a := range args {
		if strings.HasPrefix(a, "-") {
			if a == "--" {
				return -1
			}
			continue
		}
		if a != "measure" || i+1 >= len(args) {
			return -1
		}
		switch args[i+1] {
		case "calculate", "sign", "policy-digest":
			return i + 1
		}
		return -1
	}
	return -1
}

// measureArgs rewrites systemd-measure's short option -c (--current) after
// "measure VERB" to --current: ukibuild's -c is its global --config.
func measureArgs(args []string) []string {
	at := measureVerbAt(args)
	if at < 0 {
		return args
	}
	out := slices.Clone(args)
	for i := at + 1; i < len(out); i++ {
		if out[i] == "--" {
			break
		}
		if out[i] == "-c" {
			out[i] = "--current"
		}
	}
	return out
}

var (
	kongUnknownFlag = regexp.MustCompile(`^unknown flag (-[^ ,=]+)`)
	kongNoValue     = regexp.MustCompile(`^(--[a-z0-9-]+): expected [a-z]+ value but got "EOL"`)
	kongUnexpected  = regexp.MustCompile(`^unexpected argument `)
)

// measureUsageError translates the command-line parser's error for
// "ukibuild measure VERB" into what systemd-measure 262.1 prints for the
// same defect (src/shared/options.c and src/shared/verbs.c, v262.1), with
// "ukibuild" where systemd-measure prints its own name. ok is false for
// errors systemd-measure has no counterpart for; they keep ukibuild's
// usual form.
func measureUsageError(args []string, err error) (msg string, ok bool) {
	if err == nil || measureVerbAt(args) < 0 {
		return "", false
	}
	s := err.Error()
	if m := kongUnknownFlag.FindStringSubmatch(s); m != nil {
		return fmt.Sprintf("ukibuild: unrecognized option '%s'", m[1]), true
	}
	if m := kongNoValue.FindStringSubmatch(s); m != nil {
		return fmt.Sprintf("ukibuild: option '%s' requires an argument", m[1]), true
	}
	if kongUnexpected.MatchString(s) {
		return "Too many arguments.", true
	}
	return "", false
}
