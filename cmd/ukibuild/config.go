package main

// Configuration files with ukify 262's semantics: the keys of [UKI] and
// [PCRSignature:NAME] sections set the options of the same meaning, the
// command line wins, list options are prepended to, and key groups from
// [PCRSignature:NAME] sections follow the command line's groups. The file is
// --config, else the first of ukify's default files that exists.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/alecthomas/kong"

	"github.com/ukibuild/ukibuild/internal/pystr"
	"github.com/ukibuild/ukibuild/internal/ukiconf"
	"github.com/ukibuild/ukibuild/pcr"
	"github.com/ukibuild/ukibuild/uki"
)

// defaultConfigFiles are searched in this order when --config is not given
// (ukify's DEFAULT_CONFIG_DIRS and DEFAULT_CONFIG_FILE).
var defaultConfigFiles = []string{
	"/etc/systemd/ukify.conf",
	"/run/systemd/ukify.conf",
	"/usr/local/lib/systemd/ukify.conf",
	"/usr/lib/systemd/ukify.conf",
}

// configVerbs are the commands that read a configuration file, as ukify's
// verbs do (inspect reads it too, and uses none of its keys).
var configVerbs = []string{"build", "genkey", "inspect"}

// pushRule is how a configuration value combines with the command line
// (ukify's ConfigItem.config_push).
type pushRule int

const (
	setIfUnset  pushRule = iota // the command line wins (config_set_if_unset)
	listPrepend                 // prepended to the command line's list (config_list_prepend)
	setAlways                   // the configuration wins (config_set)
	setGroup                    // the value of key group NAME of [PCRSignature:NAME] (config_set_group)
	ignored                     // accepted and without effect in ukibuild
)

// valueKind is how a value is parsed (ukify's ConfigItem.type).
type valueKind int

const (
	textValue   valueKind = iota // as it is
	pathValue                    // a file name (Path): not empty
	wordsValue                   // whitespace-separated file names (Initrd, DeviceTreeAuto)
	boolValue                    // 1/true/yes/y/t/on or 0/false/no/n/f/off
	intValue                     // a decimal integer
	banksValue                   // ukify's parse_banks
	phasesValue                  // ukify's parse_phase_paths
	archValue                    // one of uki.EFIArches
)

// configItem maps one ukify configuration key to the option it sets.
type configItem struct {
	key   string    // SECTION/KEY; a section ending in ':' takes a group name
	flag  string    // the option's long name (ukify's and ukibuild's)
	verbs string    // the commands whose option it sets (space-separated)
	push  pushRule  //
	kind  valueKind //
	note  string    // why an ignored key has no effect
}

// configItems are all the keys of ukify 262 (its CONFIG_ITEMS with a
// config_key). A key whose option the selected command lacks is an error
// (ukibuild would silently build something else than ukify), unless the
// key is not meant for that command.
var configItems = []configItem{
	{key: "UKI/Linux", flag: "linux", verbs: "build", kind: pathValue},
	{key: "UKI/OSRelease", flag: "os-release", verbs: "build"},
	{key: "UKI/Cmdline", flag: "cmdline", verbs: "build"},
	{key: "UKI/Initrd", flag: "initrd", verbs: "build", push: listPrepend, kind: wordsValue},
	{key: "UKI/Firmware", flag: "efifw", verbs: "build", push: listPrepend, kind: pathValue},
	{key: "UKI/Microcode", flag: "microcode", verbs: "build", kind: pathValue},
	{key: "UKI/Splash", flag: "splash", verbs: "build", kind: pathValue},
	{key: "UKI/DeviceTree", flag: "devicetree", verbs: "build", kind: pathValue},
	{key: "UKI/DeviceTreeAuto", flag: "devicetree-auto", verbs: "build", push: listPrepend, kind: wordsValue},
	{key: "UKI/HWIDs", flag: "hwids", verbs: "build"},
	{key: "UKI/Uname", flag: "uname", verbs: "build"},
	{key: "UKI/SBAT", flag: "sbat", verbs: "build", push: listPrepend},
	{key: "UKI/PCRPKey", flag: "pcrpkey", verbs: "build", kind: pathValue},
	{key: "UKI/Profile", flag: "profile", verbs: "build"},
	{key: "UKI/PCRSig", flag: "pcrsig", verbs: "build"},
	{key: "UKI/EFIArch", flag: "efi-arch", verbs: "build", kind: archValue},
	{key: "UKI/Stub", flag: "stub", verbs: "build", kind: pathValue},
	{key: "UKI/PCRBanks", flag: "pcr-banks", verbs: "build", kind: banksValue},
	{key: "UKI/SigningEngine", flag: "signing-engine", verbs: "build"},
	{key: "UKI/SigningProvider", flag: "signing-provider", verbs: "build"},
	{key: "UKI/CertificateProvider", flag: "certificate-provider", verbs: "build"},
	{key: "UKI/SecureBootSigningTool", flag: "signtool", verbs: "build"},
	{key: "UKI/SecureBootPrivateKey", flag: "secureboot-private-key", verbs: "build genkey"},
	{key: "UKI/SecureBootCertificate", flag: "secureboot-certificate", verbs: "build genkey"},
	{key: "UKI/SecureBootCertificateCommonName", flag: "secureboot-certificate-common-name", verbs: "genkey"},
	{key: "UKI/SecureBootCertificateDir", flag: "secureboot-certificate-dir", push: ignored,
		note: "pesign's NSS database directory; ukibuild does not run pesign"},
	{key: "UKI/SecureBootCertificateName", flag: "secureboot-certificate-name", verbs: "build"},
	{key: "UKI/SecureBootCertificateValidity", flag: "secureboot-certificate-validity", verbs: "genkey", push: setAlways, kind: intValue},
	{key: "UKI/SignKernel", flag: "sign-kernel", verbs: "build", kind: boolValue},
	{key: "UKI/SignInitrdPCRs", flag: "sign-initrd-pcrs", verbs: "build", kind: boolValue},
	{key: "PCRSignature:/PCRPrivateKey", flag: "pcr-private-key", verbs: "build genkey", push: setGroup, kind: pathValue},
	{key: "PCRSignature:/PCRPublicKey", flag: "pcr-public-key", verbs: "build genkey", push: setGroup},
	{key: "PCRSignature:/PCRCertificate", flag: "pcr-certificate", verbs: "build", push: setGroup},
	{key: "PCRSignature:/Phases", flag: "phases", verbs: "build", push: setGroup, kind: phasesValue},
	{key: "PCRSignature:/PolicyRef", flag: "policyref", verbs: "build", push: setGroup},
}

// configError names the file, the line and the key.
func configError(path string, line int, section, key, format string, args ...any) error {
	return fmt.Errorf("%s:%d: [%s] %s: %s", path, line, section, key, fmt.Sprintf(format, args...))
}

// findConfig returns the configuration file to read: explicit, or the first
// default file that is a regular file (below root, for tests); "" if none.
func findConfig(e *env, explicit string) string {
	if explicit != "" {
		fmt.Fprintf(e.stderr, "Using config file: %s\n", explicit)
		return explicit
	}
	for _, p := range defaultConfigFiles {
		if st, err := os.Stat(e.path(p)); err == nil && st.Mode().IsRegular() {
			fmt.Fprintf(e.stderr, "Using found config file: %s\n", e.path(p))
			return e.path(p)
		}
	}
	return ""
}

// applyConfig reads the configuration file for the selected command and sets
// its options; a no-op for commands that read none.
func applyConfig(ctx *kong.Context, e *env, explicit string) error {
	verb := ""
	if n := ctx.Selected(); n != nil {
		verb = n.Name
	}
	if !slices.Contains(configVerbs, verb) {
		if explicit != "" {
			return fmt.Errorf("--config: only %s read a configuration file", strings.Join(configVerbs, ", "))
		}
		return nil
	}
	path := findConfig(e, explicit)
	if path == "" {
		return nil
	}
	f, err := ukiconf.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading configuration: %w", err)
	}
	opts := newOptionSet(ctx)
	return opts.apply(e, f, verb)
}

// optionSet is the parsed command line of the selected command, with which
// of its flags were given.
type optionSet struct {
	flags map[string]*kong.Flag
	given map[string]bool
	// groups are the PCR key groups: the command line's --pcr-private-key
	// groups (named "") followed by the [PCRSignature:NAME] names in order
	// of appearance (ukify's namespace._groups).
	groups []string
}

func newOptionSet(ctx *kong.Context) *optionSet {
	o := &optionSet{flags: map[string]*kong.Flag{}, given: map[string]bool{}}
	for _, f := range ctx.Flags() {
		o.flags[f.Name] = f
	}
	for _, p := range ctx.Path {
		if p.Flag != nil {
			o.given[p.Flag.Name] = true
		}
	}
	if f := o.flags["pcr-private-key"]; f != nil && f.Target.Kind() == reflect.Slice {
		o.groups = make([]string, f.Target.Len())
	}
	return o
}

func (o *optionSet) apply(e *env, f *ukiconf.File, verb string) error {
	for _, s := range f.Items() {
		section, group := s.Name, ""
		if i := strings.IndexByte(s.Name, ':'); i >= 0 {
			section, group = s.Name[:i+1], s.Name[i+1:]
			if group == "" {
				return fmt.Errorf("%s:%d: [%s]: the section name needs a name after ':'", f.Path, s.Line, s.Name)
			}
			if strings.Contains(group, ":") {
				return fmt.Errorf("%s:%d: [%s]: a section name may contain only one ':'", f.Path, s.Line, s.Name)
			}
		}
		for _, ent := range s.Entries {
			item := lookupConfigItem(section + "/" + ent.Key)
			if item == nil {
				e.warnf("%s:%d: unknown config setting [%s] %s=", f.Path, ent.Line, section, ent.Key)
				continue
			}
			if err := o.set(e, item, f.Path, ent.Line, s.Name, group, ent, verb); err != nil {
				return err
			}
		}
	}
	return nil
}

func lookupConfigItem(key string) *configItem {
	for i := range configItems {
		if configItems[i].key == key {
			return &configItems[i]
		}
	}
	return nil
}

// set parses one value and applies it to the option it names.
func (o *optionSet) set(e *env, item *configItem, path string, line int, section, group string, ent ukiconf.Entry, verb string) error {
	fail := func(format string, args ...any) error {
		return configError(path, line, section, ent.Key, format, args...)
	}
	values, err := parseConfigValue(item.kind, ent.Value)
	if err != nil {
		return fail("%v", err)
	}
	if item.push == ignored {
		e.warnf("%s:%d: [%s] %s= is ignored: %s", path, line, section, ent.Key, item.note)
		return nil
	}
	if !slices.Contains(strings.Fields(item.verbs), verb) {
		return nil
	}
	fl := o.flags[item.flag]
	if fl == nil {
		return fail("ukibuild %s does not support --%s (yet); remove the setting", verb, item.flag)
	}
	if item.kind == phasesValue || item.kind == banksValue {
		// Stored as text: the command splits it (as its option's value).
		values = []string{ent.Value}
	}
	t := fl.Target
	switch item.push {
	case setIfUnset, setAlways:
		if item.push == setIfUnset && o.given[item.flag] {
			return nil
		}
		if err := setScalar(t, values[0], item.kind); err != nil {
			return fail("%v", err)
		}
		o.given[item.flag] = true
	case listPrepend:
		if t.Kind() != reflect.Slice || t.Type().Elem().Kind() != reflect.String {
			return fail("internal error: --%s is not a list", item.flag)
		}
		old := t.Interface().([]string)
		t.Set(reflect.ValueOf(append(slices.Clone(values), old...)))
	case setGroup:
		if t.Kind() != reflect.Slice || t.Type().Elem().Kind() != reflect.String {
			return fail("internal error: --%s is not a list", item.flag)
		}
		idx := slices.Index(o.groups, group)
		if idx < 0 {
			o.groups = append(o.groups, group)
			idx = len(o.groups) - 1
		}
		// ukify's config_set_group: pad the list to the group's index
		// with "not given" (here "", which every consumer treats alike),
		// then append. A list already longer gets the value appended.
		old := slices.Clone(t.Interface().([]string))
		for len(old) < idx {
			old = append(old, "")
		}
		t.Set(reflect.ValueOf(append(old, values[0])))
	}
	return nil
}

// setScalar sets a single-valued option.
func setScalar(t reflect.Value, v string, kind valueKind) error {
	switch p := t.Addr().Interface().(type) {
	case *string:
		*p = v
	case **string:
		*p = &v
	case *optString:
		*p = optString{Set: true, Value: v}
	case *bool, **bool:
		b, err := parseBoolean(v)
		if err != nil {
			return err
		}
		if q, ok := p.(*bool); ok {
			*q = b
		} else {
			*p.(**bool) = &b
		}
	case *int:
		n, err := parseInt(v)
		if err != nil {
			return err
		}
		*p = n
	default:
		return fmt.Errorf("internal error: cannot set an option of type %s", t.Type())
	}
	return nil
}

// parseConfigValue checks a value as ukify's option type does and returns
// it (split, for lists).
func parseConfigValue(kind valueKind, v string) ([]string, error) {
	switch kind {
	case pathValue:
		if v == "" {
			return nil, errors.New("empty file name")
		}
	case wordsValue:
		return pystr.Fields(v), nil
	case boolValue:
		if _, err := parseBoolean(v); err != nil {
			return nil, err
		}
	case intValue:
		if _, err := parseInt(v); err != nil {
			return nil, err
		}
	case banksValue:
		banks, err := parseBanks(v)
		if err != nil {
			return nil, err
		}
		for _, b := range banks {
			if _, err := pcr.ParseBank(b); err != nil {
				return nil, err
			}
		}
	case phasesValue:
		if _, err := parsePhasePaths(v); err != nil {
			return nil, err
		}
	case archValue:
		if !slices.Contains(uki.EFIArches, v) {
			return nil, fmt.Errorf("unknown architecture %q (want one of %s)", v, strings.Join(uki.EFIArches, ", "))
		}
	}
	return []string{v}, nil
}

// parseBoolean is ukify's ConfigItem.parse_boolean.
func parseBoolean(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "1", "true", "yes", "y", "t", "on":
		return true, nil
	case "0", "false", "no", "n", "f", "off":
		return false, nil
	}
	return false, fmt.Errorf("invalid boolean %q (want 1, true, yes, y, t, on or 0, false, no, n, f, off)", s)
}

// parseInt accepts what Python's int() accepts for a decimal number:
// surrounding whitespace, a sign, and single underscores between digits.
func parseInt(s string) (int, error) {
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
		r, w := decodeRune(s[i:])
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
		r, w := decodeRune(s[i:])
		if !pystr.IsSpace(r) {
			break
		}
		i += w
	}
	return i
}

func decodeRune(s string) (rune, int) { return utf8.DecodeRuneInString(s) }

// parseBanks is ukify's parse_banks.
func parseBanks(s string) ([]string, error) {
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

// parsePhasePaths is ukify's parse_phase_paths.
func parsePhasePaths(s string) ([]string, error) {
	paths := splitPyList(pystr.RStrip(strings.TrimSuffix(pystr.Strip(s), ",")))
	for _, p := range paths {
		for _, ph := range strings.Split(p, ":") {
			if !slices.Contains(knownPhases, ph) {
				return nil, fmt.Errorf("unknown boot phase %q in %q (known: %s)", ph, p, strings.Join(knownPhases, ", "))
			}
		}
	}
	return paths, nil
}

// path maps a fixed system path below e.root (tests); unchanged when root
// is not set.
func (e *env) path(p string) string {
	if e.root == "" {
		return p
	}
	return filepath.Join(e.root, p)
}
