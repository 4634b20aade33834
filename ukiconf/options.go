package ukiconf

// ukify 262's configuration keys: which command-line option each sets, for
// which commands, how its value is checked, and how it combines with the
// command line (ukify.py, CONFIG_ITEMS and ConfigItem.config_push).

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ukibuild/ukibuild/internal/pystr"
	"github.com/ukibuild/ukibuild/pcr"
	"github.com/ukibuild/ukibuild/uki"
)

// defaultFiles are searched in this order when no file is named (ukify's
// DEFAULT_CONFIG_DIRS and DEFAULT_CONFIG_FILE).
var defaultFiles = []string{
	"/etc/systemd/ukify.conf",
	"/run/systemd/ukify.conf",
	"/usr/local/lib/systemd/ukify.conf",
	"/usr/lib/systemd/ukify.conf",
}

// DefaultFiles returns ukify's configuration files, searched in this order
// when no file is named.
func DefaultFiles() []string { return slices.Clone(defaultFiles) }

// FindDefault returns the first of DefaultFiles that is a regular file,
// each below root ("" or "/" for the real root); "" if none is.
func FindDefault(root string) string {
	for _, p := range defaultFiles {
		if root != "" {
			p = filepath.Join(root, p)
		}
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

// Commands are the ukify verbs that read a configuration file (inspect
// reads it too and uses none of its keys).
func Commands() []string { return []string{"build", "genkey", "inspect"} }

// Push is how a configuration value combines with the command line
// (ukify's ConfigItem.config_push).
type Push int

const (
	SetIfUnset  Push = iota // the command line wins (config_set_if_unset)
	ListPrepend             // prepended to the command line's list (config_list_prepend)
	SetAlways               // the configuration wins (config_set)
	SetGroup                // the value of key group NAME of [PCRSignature:NAME] (config_set_group)
	Ignored                 // accepted and without effect in ukibuild
)

// Kind is how a value is checked and split (ukify's ConfigItem.type).
type Kind int

const (
	TextValue   Kind = iota // as it is
	PathValue               // a file name: not empty
	WordsValue              // whitespace-separated file names (Initrd, DeviceTreeAuto)
	BoolValue               // 1/true/yes/y/t/on or 0/false/no/n/f/off (ParseBool)
	IntValue                // a decimal integer (ParseInt)
	BanksValue              // ukify's parse_banks (ParseBanks)
	PhasesValue             // ukify's parse_phase_paths (ParsePhasePaths)
	ArchValue               // one of uki.EFIArches
)

// Item maps one ukify configuration key to the option it sets.
type Item struct {
	// Key is SECTION/KEY; a section ending in ':' takes a group name
	// ("PCRSignature:/Phases" is Phases= of [PCRSignature:NAME]).
	Key string
	// Option is the long option name (ukify's and ukibuild's).
	Option string
	// Commands are the verbs whose option it sets.
	Commands []string
	Push     Push
	Kind     Kind
	// Note says why an Ignored key has no effect.
	Note string
}

var (
	build       = []string{"build"}
	buildGenkey = []string{"build", "genkey"}
	genkey      = []string{"genkey"}
)

// items are all the keys of ukify 262 (its CONFIG_ITEMS with a config_key).
var items = []Item{
	{Key: "UKI/Linux", Option: "linux", Commands: build, Kind: PathValue},
	{Key: "UKI/OSRelease", Option: "os-release", Commands: build},
	{Key: "UKI/Cmdline", Option: "cmdline", Commands: build},
	{Key: "UKI/Initrd", Option: "initrd", Commands: build, Push: ListPrepend, Kind: WordsValue},
	{Key: "UKI/Firmware", Option: "efifw", Commands: build, Push: ListPrepend, Kind: PathValue},
	{Key: "UKI/Microcode", Option: "microcode", Commands: build, Kind: PathValue},
	{Key: "UKI/Splash", Option: "splash", Commands: build, Kind: PathValue},
	{Key: "UKI/DeviceTree", Option: "devicetree", Commands: build, Kind: PathValue},
	{Key: "UKI/DeviceTreeAuto", Option: "devicetree-auto", Commands: build, Push: ListPrepend, Kind: WordsValue},
	{Key: "UKI/HWIDs", Option: "hwids", Commands: build},
	{Key: "UKI/Uname", Option: "uname", Commands: build},
	{Key: "UKI/SBAT", Option: "sbat", Commands: build, Push: ListPrepend},
	{Key: "UKI/PCRPKey", Option: "pcrpkey", Commands: build, Kind: PathValue},
	{Key: "UKI/Profile", Option: "profile", Commands: build},
	{Key: "UKI/PCRSig", Option: "pcrsig", Commands: build},
	{Key: "UKI/EFIArch", Option: "efi-arch", Commands: build, Kind: ArchValue},
	{Key: "UKI/Stub", Option: "stub", Commands: build, Kind: PathValue},
	{Key: "UKI/PCRBanks", Option: "pcr-banks", Commands: build, Kind: BanksValue},
	{Key: "UKI/SigningEngine", Option: "signing-engine", Commands: build},
	{Key: "UKI/SigningProvider", Option: "signing-provider", Commands: build},
	{Key: "UKI/CertificateProvider", Option: "certificate-provider", Commands: build},
	{Key: "UKI/SecureBootSigningTool", Option: "signtool", Commands: build},
	{Key: "UKI/SecureBootPrivateKey", Option: "secureboot-private-key", Commands: buildGenkey},
	{Key: "UKI/SecureBootCertificate", Option: "secureboot-certificate", Commands: buildGenkey},
	{Key: "UKI/SecureBootCertificateCommonName", Option: "secureboot-certificate-common-name", Commands: genkey},
	{Key: "UKI/SecureBootCertificateDir", Option: "secureboot-certificate-dir", Push: Ignored,
		Note: "pesign's NSS database directory; ukibuild does not run pesign"},
	{Key: "UKI/SecureBootCertificateName", Option: "secureboot-certificate-name", Commands: build},
	{Key: "UKI/SecureBootCertificateValidity", Option: "secureboot-certificate-validity", Commands: genkey, Push: SetAlways, Kind: IntValue},
	{Key: "UKI/SignKernel", Option: "sign-kernel", Commands: build, Kind: BoolValue},
	{Key: "UKI/SignInitrdPCRs", Option: "sign-initrd-pcrs", Commands: build, Kind: BoolValue},
	{Key: "PCRSignature:/PCRPrivateKey", Option: "pcr-private-key", Commands: buildGenkey, Push: SetGroup, Kind: PathValue},
	{Key: "PCRSignature:/PCRPublicKey", Option: "pcr-public-key", Commands: buildGenkey, Push: SetGroup},
	{Key: "PCRSignature:/PCRCertificate", Option: "pcr-certificate", Commands: build, Push: SetGroup},
	{Key: "PCRSignature:/Phases", Option: "phases", Commands: build, Push: SetGroup, Kind: PhasesValue},
	{Key: "PCRSignature:/PolicyRef", Option: "policyref", Commands: build, Push: SetGroup},
}

// Items returns all the configuration keys of ukify 262.
func Items() []Item {
	out := slices.Clone(items)
	for i := range out {
		out[i].Commands = slices.Clone(out[i].Commands)
	}
	return out
}

// LookupItem returns the item of key SECTION/KEY (with "PCRSignature:" as
// the section of any [PCRSignature:NAME]).
func LookupItem(key string) (Item, bool) {
	for _, it := range items {
		if it.Key == key {
			return it, true
		}
	}
	return Item{}, false
}

// Setting is one configuration value for an option of the command.
type Setting struct {
	Item
	Path    string // the file
	Line    int    // the line of the key
	Section string // the section's name ("PCRSignature:initrd")
	Group   string // the key group of a [PCRSignature:NAME] section ("initrd")
	Key     string // the key as written
	// Value is the value as written; Values are its entries (Value split
	// for WordsValue, else Value alone).
	Value  string
	Values []string
}

// SettingError is a value the command cannot use, naming the file, the
// line, the section and the key.
type SettingError struct {
	Path    string
	Line    int
	Section string
	Key     string
	Err     error
}

func (e *SettingError) Error() string {
	return fmt.Sprintf("%s:%d: [%s] %s: %v", e.Path, e.Line, e.Section, e.Key, e.Err)
}

func (e *SettingError) Unwrap() error { return e.Err }

// Errorf returns a *SettingError for s.
func (s Setting) Errorf(format string, args ...any) error {
	return &SettingError{Path: s.Path, Line: s.Line, Section: s.Section, Key: s.Key, Err: fmt.Errorf(format, args...)}
}

// Settings calls set for each value of the file that applies to command,
// in ukify's order (File.Items), after checking it as ukify does; the
// first error (a *SettingError or *Error, or set's) stops it. Unknown and
// Ignored keys are passed to warnf (which may be nil) with the file and
// line; keys of other commands are skipped.
func (f *File) Settings(command string, warnf func(format string, args ...any), set func(Setting) error) error {
	if warnf == nil {
		warnf = func(string, ...any) {}
	}
	for _, s := range f.Items() {
		section, group := s.Name, ""
		if i := strings.IndexByte(s.Name, ':'); i >= 0 {
			section, group = s.Name[:i+1], s.Name[i+1:]
			if group == "" {
				return &Error{Path: f.Path, Line: s.Line, Msg: fmt.Sprintf("[%s]: the section name needs a name after ':'", s.Name)}
			}
			if strings.Contains(group, ":") {
				return &Error{Path: f.Path, Line: s.Line, Msg: fmt.Sprintf("[%s]: a section name may contain only one ':'", s.Name)}
			}
		}
		for _, ent := range s.Entries {
			item, ok := LookupItem(section + "/" + ent.Key)
			if !ok {
				warnf("%s:%d: unknown config setting [%s] %s=", f.Path, ent.Line, section, ent.Key)
				continue
			}
			st := Setting{Item: item, Path: f.Path, Line: ent.Line, Section: s.Name, Group: group, Key: ent.Key, Value: ent.Value}
			values, err := ParseValue(item.Kind, ent.Value)
			if err != nil {
				return st.Errorf("%w", err)
			}
			st.Values = values
			if item.Push == Ignored {
				warnf("%s:%d: [%s] %s= is ignored: %s", f.Path, ent.Line, s.Name, ent.Key, item.Note)
				continue
			}
			if !slices.Contains(item.Commands, command) {
				continue
			}
			if err := set(st); err != nil {
				return err
			}
		}
	}
	return nil
}

// SetsKey reports whether the file sets KEY in section (directly or
// through [DEFAULT]).
func (f *File) SetsKey(section, key string) bool {
	for _, s := range f.Items() {
		if s.Name == section && hasKey(s.Entries, key) {
			return true
		}
	}
	return false
}

// ParseValue checks a value as ukify's option type does and returns it
// (split, for WordsValue).
func ParseValue(kind Kind, v string) ([]string, error) {
	switch kind {
	case PathValue:
		if v == "" {
			return nil, errors.New("empty file name")
		}
	case WordsValue:
		return pystr.Fields(v), nil
	case BoolValue:
		if _, err := ParseBool(v); err != nil {
			return nil, err
		}
	case IntValue:
		if _, err := ParseInt(v); err != nil {
			return nil, err
		}
	case BanksValue:
		banks, err := ParseBanks(v)
		if err != nil {
			return nil, err
		}
		for _, b := range banks {
			if _, err := pcr.ParseBank(b); err != nil {
				return nil, err
			}
		}
	case PhasesValue:
		if _, err := ParsePhasePaths(v); err != nil {
			return nil, err
		}
	case ArchValue:
		if !slices.Contains(uki.EFIArches, v) {
			return nil, fmt.Errorf("unknown architecture %q (want one of %s)", v, strings.Join(uki.EFIArches, ", "))
		}
	}
	return []string{v}, nil
}

// ParseBool is ukify's ConfigItem.parse_boolean.
func ParseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "1", "true", "yes", "y", "t", "on":
		return true, nil
	case "0", "false", "no", "n", "f", "off":
		return false, nil
	}
	return false, fmt.Errorf("invalid boolean %q (want 1, true, yes, y, t, on or 0, false, no, n, f, off)", s)
}

// ParseInt accepts what Python's int() accepts for a decimal number:
// surrounding whitespace, a sign, and single underscores between digits.
func ParseInt(s string) (int, error) {
	t := pystr.Strip(s)
	digits := strings.TrimLeft(t, "+-")
	if len(t)-len(digits) > 1 || digits == "" || strings.HasPrefix(digits, "_") || strings.HasSuffix(digits, "_") || strings.Contains(digits, "__") {
		return 0, fmt.Errorf("invalid integer %q", s)
	}
	n, err := strconv.Atoi(t[:len(t)-len(digits)] + strings.ReplaceAll(digits, "_", ""))
	if err != nil {
		return 0, fmt.Errorf("invalid integer %q", s)
	}
	return n, nil
}

// splitPyList splits like ukify's re.split(r'\s*,\s*|\s+', s): a comma with
// the whitespace around it, or a run of whitespace, separates two entries.
func splitPyList(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:])
		if r != ',' && !pystr.IsSpace(r) {
			i += w
			continue
		}
		j := skipSpace(s, i)
		if j < len(s) && s[j] == ',' {
			j = skipSpace(s, j+1)
		}
		out = append(out, s[start:i])
		start, i = j, j
	}
	return append(out, s[start:])
}

func skipSpace(s string, i int) int {
	for i < len(s) {
		r, w := utf8.DecodeRuneInString(s[i:])
		if !pystr.IsSpace(r) {
			break
		}
		i += w
	}
	return i
}

// ParseBanks is ukify's parse_banks: the bank names, split at commas and
// whitespace; nil for an empty list.
func ParseBanks(s string) ([]string, error) {
	s = pystr.Strip(s)
	if s == "" {
		return nil, nil
	}
	banks := splitPyList(pystr.RStrip(strings.TrimSuffix(s, ",")))
	if slices.Contains(banks, "") {
		return nil, fmt.Errorf("empty entry in PCR bank list %q", s)
	}
	return banks, nil
}

// ParsePhasePaths is ukify's parse_phase_paths: the phase paths, split at
// commas and whitespace, each checked with uki.CheckPhasePaths.
func ParsePhasePaths(s string) ([]string, error) {
	paths := splitPyList(pystr.RStrip(strings.TrimSuffix(pystr.Strip(s), ",")))
	if err := uki.CheckPhasePaths(paths); err != nil {
		return nil, err
	}
	return paths, nil
}
