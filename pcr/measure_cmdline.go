package pcr

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"

	"github.com/ukibuild/ukibuild/internal/sdjson"
)

// MeasureCommand is a systemd-measure command line for one of the verbs
// calculate, sign and policy-digest, as ukibuild measure takes it. Check
// refuses what systemd-measure 262.1 refuses, with its words
// (src/measure/measure-tool.c, systemd v262.1), so that a script written for
// systemd-measure sees the same stderr and exit code.
type MeasureCommand struct {
	// Verb is "calculate", "sign" or "policy-digest".
	Verb string
	// Sections maps systemd-measure's section options (see Options:
	// "linux", "osrel", ...) to the paths given; "" is "not given", as
	// systemd-measure treats --linux= with an empty value.
	Sections map[string]string
	// Banks are the --bank= values as given.
	Banks []string
	// JSON is the --json= value ("" when not given).
	JSON string
	// Current is --current (-c): take PCR 11 from this machine's TPM.
	Current bool
	// Append, PrivateKey, PublicKey, Certificate are the --append=,
	// --private-key=, --public-key= and --certificate= values ("": not
	// given). A PrivateKey starting with "pkcs11:" is a PKCS #11 URI, a
	// ukibuild extension: Check does not open it.
	Append, PrivateKey, PublicKey, Certificate string
	// Args are positional arguments after the verb (systemd-measure
	// takes none).
	Args []string
}

// MeasureRefusal is systemd-measure's refusal of a command line: Message is
// the line it prints on stderr (without the newline); it exits with 1.
// Err is what was refused, for errors.Is: one of the ErrMeasure values, a
// *BankError, or the error of the file operation that failed.
type MeasureRefusal struct {
	Message string
	Err     error
}

func (r *MeasureRefusal) Error() string { return r.Message }
func (r *MeasureRefusal) Unwrap() error { return r.Err }

// The conditions Check refuses (wrapped in a *MeasureRefusal).
var (
	ErrMeasureNoLinux         = errors.New("neither --linux= nor --current given")
	ErrMeasureAppendCalculate = errors.New("--append= given to calculate")
	ErrMeasureNoPrivateKey    = errors.New("sign without --private-key=")
	ErrMeasureKeyAndCert      = errors.New("both --public-key= and --certificate= given")
	ErrMeasureCurrentSections = errors.New("--current given with section options")
	ErrMeasureJSON            = errors.New("unknown --json= argument")
	ErrMeasureArgs            = errors.New("too many arguments")
	ErrMeasureVerb            = errors.New("unknown verb")
	// ErrMeasureCurrent: --current needs this machine's TPM, which
	// ukibuild does not read. systemd-measure reads
	// /sys/class/tpm/tpm0/pcr-BANK/11; ukibuild predicts offline only, so
	// it refuses with its own message here.
	ErrMeasureCurrent = errors.New("--current is not supported")
	ErrMeasureFile    = errors.New("an input file cannot be used")
)

// BankError is a --bank= name that is not a bank: Known tells whether
// OpenSSL knows it as a digest (systemd-measure would then compute PCR 11
// in it, but it is no TPM 2.0 PCR bank ukibuild predicts).
type BankError struct {
	Name  string
	Known bool
}

func (e *BankError) Error() string {
	if e.Known {
		return fmt.Sprintf("digest %q is not a TPM PCR bank (want sha1, sha256, sha384 or sha512)", e.Name)
	}
	return fmt.Sprintf("unknown PCR bank %q (want sha1, sha256, sha384 or sha512)", e.Name)
}

// bankAliases are the names OpenSSL 3's EVP_get_digestbyname resolves to
// the four TPM banks, compared case-insensitively (the legacy names and
// aliases of crypto/objects/obj_dat.h and crypto/evp/c_alld.c, and the
// provider names of providers/implementations/include/prov/names.h,
// OpenSSL 3.x as Debian sid ships it with systemd 262.1). systemd-measure
// passes --bank= to EVP_get_digestbyname and uses the digest's own name
// (src/measure/measure-tool.c, parse_argv), so "SHA2-256" or "RSA-SHA256"
// is the sha256 bank. The tests check every one against systemd-measure.
var bankAliases = map[string][]string{
	"sha1":   {"sha1", "sha-1", "ssl3-sha1", "1.3.14.3.2.26", "rsa-sha1", "rsa-sha1-2", "sha1withrsaencryption"},
	"sha256": {"sha256", "sha2-256", "sha-256", "2.16.840.1.101.3.4.2.1", "rsa-sha256", "sha256withrsaencryption"},
	"sha384": {"sha384", "sha2-384", "sha-384", "2.16.840.1.101.3.4.2.2", "rsa-sha384", "sha384withrsaencryption"},
	"sha512": {"sha512", "sha2-512", "sha-512", "2.16.840.1.101.3.4.2.3", "rsa-sha512", "sha512withrsaencryption"},
}

// opensslOtherDigests are names OpenSSL 3 knows as digests (same sources as
// bankAliases; `openssl list -digest-algorithms`) that are not TPM PCR
// banks. systemd-measure accepts them as --bank= (and fails later for some);
// ukibuild refuses them with its own message. Compared case-insensitively.
var opensslOtherDigests = []string{
	"md5", "ssl3-md5", "rsa-md5", "md5withrsaencryption", "1.2.840.113549.2.5", "md5-sha1", "md4", "rsa-md4", "md4withrsaencryption",
	"sha224", "sha2-224", "sha-224", "rsa-sha224", "sha224withrsaencryption", "2.16.840.1.101.3.4.2.4",
	"sha512-224", "sha2-512/224", "sha-512/224", "rsa-sha512/224", "sha512-224withrsaencryption", "2.16.840.1.101.3.4.2.5",
	"sha512-256", "sha2-512/256", "sha-512/256", "rsa-sha512/256", "sha512-256withrsaencryption", "2.16.840.1.101.3.4.2.6",
	"sha3-224", "sha3-256", "sha3-384", "sha3-512", "rsa-sha3-224", "rsa-sha3-256", "rsa-sha3-384", "rsa-sha3-512",
	"shake128", "shake-128", "shake256", "shake-256",
	"ripemd160", "ripemd", "ripemd-160", "rmd160", "rsa-ripemd160", "ripemd160withrsa",
	"sm3", "rsa-sm3", "sm3withrsaencryption", "blake2b512", "blake2b-512", "blake2s256", "blake2s-256", "whirlpool",
}

// ResolveBank returns the bank a systemd-measure --bank= name selects: any
// name OpenSSL 3 gives for SHA-1, SHA-256, SHA-384 or SHA-512, in any case
// ("sha256", "SHA2-256", "RSA-SHA256", the OID). Other names give a
// *BankError.
//
// OpenSSL looks the name up among its legacy names first, then among its
// providers' names, ignoring trailing spaces there: "sha256 " is sha256,
// while "RSA-SHA256 ", a legacy alias only, is unknown.
func ResolveBank(name string) (Bank, error) {
	l := strings.ToLower(name)
	trimmed := strings.TrimRight(l, " ")
	match := func(a string) bool {
		return l == a || (trimmed == a && !legacyOnly(a))
	}
	for _, b := range AllBanks() {
		for _, a := range bankAliases[b.Name] {
			if match(a) {
				return b, nil
			}
		}
	}
	for _, d := range opensslOtherDigests {
		if match(d) {
			return Bank{}, &BankError{Name: name, Known: true}
		}
	}
	return Bank{}, &BankError{Name: name}
}

// legacyOnly tells the names that OpenSSL 3 knows only as legacy aliases
// (the signature algorithm names) from its providers' digest names.
func legacyOnly(a string) bool {
	return strings.HasPrefix(a, "rsa-") || strings.Contains(a, "withrsa")
}

// Check returns the refusal systemd-measure 262.1 gives for the command line,
// as a *MeasureRefusal, or nil when it would go ahead. It checks in
// systemd-measure's order: the options (banks, --json=), the combinations
// of options, the verb's requirements, then the files it reads in the order
// it reads them (--append=, --certificate=, --private-key=, --public-key=,
// the section files in measurement order), opening each and reading what it
// needs to decide. Paths in messages are made absolute as systemd-measure
// makes them (the working directory prepended, "." and repeated slashes
// dropped, ".." kept). warnings are what systemd-measure prints on stderr
// before going on: a private key file that all users may access.
//
// Where ukibuild cannot do what systemd-measure would (--current, digests
// that are not TPM banks), the refusal has ukibuild's own message.
func (c MeasureCommand) Check() (warnings []string, err error) {
	refuse := func(err error, format string, args ...any) error {
		return &MeasureRefusal{Message: fmt.Sprintf(format, args...), Err: err}
	}
	for _, name := range c.Banks {
		if _, err := ResolveBank(name); err != nil {
			var be *BankError
			if errors.As(err, &be) && be.Known {
				return nil, refuse(err, "Bank '%s' is not a TPM PCR bank: ukibuild predicts sha1, sha256, sha384 and sha512 only, refusing.", name)
			}
			return nil, refuse(err, "Unknown bank '%s', refusing.", name)
		}
	}
	switch c.JSON {
	case "", "pretty", "short", "off":
	default:
		return nil, refuse(ErrMeasureJSON, "Unknown argument to --json= switch: %s", c.JSON)
	}
	if c.PublicKey != "" && c.Certificate != "" {
		return nil, refuse(ErrMeasureKeyAndCert, "Both --public-key= and --certificate= specified, refusing.")
	}
	anySection := false
	for _, p := range c.Sections {
		anySection = anySection || p != ""
	}
	if c.Current && anySection {
		return nil, refuse(ErrMeasureCurrentSections, "The --current switch cannot be used in combination with --linux= and related switches.")
	}
	switch c.Verb {
	case "calculate", "sign", "policy-digest":
	default:
		return nil, refuse(ErrMeasureVerb, "Unknown command verb '%s'.", c.Verb)
	}
	if len(c.Args) > 0 {
		return nil, refuse(ErrMeasureArgs, "Too many arguments.")
	}
	if c.Sections["linux"] == "" && !c.Current {
		return nil, refuse(ErrMeasureNoLinux, "Either --linux= or --current must be specified, refusing.")
	}
	if c.Verb == "calculate" && c.Append != "" {
		return nil, refuse(ErrMeasureAppendCalculate, "The --append= switch is only supported for 'sign', not 'calculate'.")
	}
	if c.Verb != "calculate" {
		if c.Verb == "sign" && c.PrivateKey == "" {
			return nil, refuse(ErrMeasureNoPrivateKey, "No private key specified, use --private-key=.")
		}
		if c.Append != "" {
			p := absPath(c.Append)
			if err := checkJSONObject(p); err != nil {
				return nil, refuse(err, "Failed to parse JSON object '%s': %s", p, strerror(err))
			}
		}
		if c.Certificate != "" {
			p := absPath(c.Certificate)
			if err := checkPEM(p, isCertificate); err != nil {
				return nil, refuse(err, "Failed to load X.509 certificate from %s: %s", p, strerror(err))
			}
		}
		if c.PrivateKey != "" && !strings.HasPrefix(strings.ToLower(c.PrivateKey), "pkcs11:") {
			p := absPath(c.PrivateKey)
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o007 != 0 {
				// fileio.c, warn_file_is_world_accessible, called for
				// a regular file once opened: any permission for
				// others; the mode with its special bits.
				warnings = append(warnings, fmt.Sprintf("%s has %04o mode that is too permissive, please adjust the ownership and access mode.", p, unixMode(st.Mode())))
			}
			if err := checkPEM(p, isPrivateKey); err != nil {
				if errors.Is(err, errNoPEM) {
					err = fmt.Errorf("%w: %w", errNoPEM, syscall.EOPNOTSUPP)
				}
				return warnings, refuse(err, "Failed to load private key from %s: %s", p, strerror(err))
			}
		}
		if c.PublicKey != "" {
			p := absPath(c.PublicKey)
			err := checkPEM(p, isPublicKey)
			switch {
			case errors.Is(err, errNoPEM) || errors.Is(err, syscall.EISDIR):
				return warnings, refuse(err, "Failed to parse public key '%s'.", p)
			case err != nil:
				return warnings, refuse(err, "Failed to open public key file '%s': %s", p, strerror(err))
			}
		}
	}
	if c.Current {
		return warnings, refuse(ErrMeasureCurrent, "The --current switch reads this machine's TPM, which ukibuild does not do (it predicts offline), refusing.")
	}
	for _, opt := range Options() {
		path := c.Sections[opt]
		if path == "" {
			continue
		}
		p := absPath(path)
		f, err := os.Open(p)
		if err != nil {
			return warnings, refuse(fmt.Errorf("%w: %w", ErrMeasureFile, err), "Failed to open '%s': %s", p, strerror(err))
		}
		_, err = f.Read(make([]byte, 1))
		f.Close()
		if err != nil && err != io.EOF {
			return warnings, refuse(fmt.Errorf("%w: %w", ErrMeasureFile, err), "Failed to read '%s': %s", p, strerror(err))
		}
	}
	return warnings, nil
}

// unixMode returns the permission and special bits of m as st_mode & 07777.
func unixMode(m os.FileMode) uint32 {
	v := uint32(m.Perm())
	if m&os.ModeSetuid != 0 {
		v |= 0o4000
	}
	if m&os.ModeSetgid != 0 {
		v |= 0o2000
	}
	if m&os.ModeSticky != 0 {
		v |= 0o1000
	}
	return v
}

// absPath makes path absolute as systemd's parse_path_argument does
// (path_make_absolute_cwd, then path_simplify): the working directory is
// prepended to a relative path; "." components, repeated and trailing
// slashes are dropped; ".." is kept (it is not resolved lexically).
func absPath(path string) string {
	if !strings.HasPrefix(path, "/") {
		if wd, err := os.Getwd(); err == nil {
			path = wd + "/" + path
		}
	}
	var parts []string
	for _, s := range strings.Split(path, "/") {
		if s == "" || s == "." {
			continue
		}
		parts = append(parts, s)
	}
	return "/" + strings.Join(parts, "/")
}

// strerror returns the C library's text for the errno in err ("No such
// file or directory"): Go's texts for errno values are glibc's with the
// first letter in lower case. Errors without an errno give their own text.
func strerror(err error) string {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return err.Error()
	}
	s := errno.Error()
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

var errNoPEM = errors.New("no usable PEM block")

// checkJSONObject reads path as systemd-measure reads --append=
// (sd_json_parse_file with SD_JSON_PARSE_MUST_BE_OBJECT): an empty file (or
// one of white space only) is ENODATA, anything but one JSON object EINVAL.
func checkJSONObject(path string) error {
	data, err := readFile(path)
	if err != nil {
		return err
	}
	if len(data) == 0 {
		return fmt.Errorf("%s: no JSON: %w", path, syscall.ENODATA)
	}
	v, err := sdjson.Parse(data)
	if err == nil && v.Kind != sdjson.Object {
		err = errors.New("the JSON to append to is not an object")
	}
	if err != nil {
		return fmt.Errorf("%s: %w: %w", path, err, syscall.EINVAL)
	}
	return nil
}

// readFile reads a small input file (a key, a certificate, a JSON
// document), keeping the errno of a failure.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, 64<<20))
}

// checkPEM reads path and looks for a PEM block that ok accepts. A file
// that cannot be read gives the read error; one with no such block
// EBADMSG wrapped with errNoPEM (what OpenSSL's PEM readers give
// systemd-measure for a certificate).
func checkPEM(path string, ok func(*pem.Block) bool) error {
	data, err := readFile(path)
	if err != nil {
		return err
	}
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return fmt.Errorf("%s: %w: %w", path, errNoPEM, syscall.EBADMSG)
		}
		if ok(b) {
			return nil
		}
	}
}

func isCertificate(b *pem.Block) bool {
	if b.Type != "CERTIFICATE" && b.Type != "TRUSTED CERTIFICATE" && b.Type != "X509 CERTIFICATE" {
		return false
	}
	_, err := x509.ParseCertificate(b.Bytes)
	return err == nil
}

func isPrivateKey(b *pem.Block) bool {
	switch b.Type {
	case "PRIVATE KEY":
		_, err := x509.ParsePKCS8PrivateKey(b.Bytes)
		return err == nil
	case "RSA PRIVATE KEY":
		_, err := x509.ParsePKCS1PrivateKey(b.Bytes)
		return err == nil
	case "EC PRIVATE KEY":
		_, err := x509.ParseECPrivateKey(b.Bytes)
		return err == nil
	}
	return false
}

func isPublicKey(b *pem.Block) bool {
	if b.Type != "PUBLIC KEY" {
		return false
	}
	_, err := x509.ParsePKIXPublicKey(b.Bytes)
	return err == nil
}
