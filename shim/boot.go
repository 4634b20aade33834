package shim

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/ukibuild/ukibuild/eventlog"
	"github.com/ukibuild/ukibuild/internal/ctxio"
	"github.com/ukibuild/ukibuild/internal/pe"
	"github.com/ukibuild/ukibuild/pcr"
	"github.com/ukibuild/ukibuild/sbat"
	"github.com/ukibuild/ukibuild/secureboot"
	"github.com/ukibuild/ukibuild/sign"
	"github.com/ukibuild/ukibuild/uefi"
)

// lockGUID is SHIM_LOCK_GUID (rhboot/shim 16.1 include/guid.h).
var lockGUID = uefi.MustParseGUID("605dab50-e046-4300-abb6-3dd810dd8b23")

// LockGUID returns SHIM_LOCK_GUID, the vendor GUID of shim's variables
// (MokList, SbatLevel, ...) and the owner of the signature lists it makes
// (rhboot/shim 16.1 include/guid.h). A function, not a variable, so that
// no caller can change it.
func LockGUID() uefi.GUID { return lockGUID }

// SbatLevelOriginal is SBAT_VAR_ORIGINAL (rhboot/shim 16.1
// include/sbat_var_defs.h): the level shim writes when Secure Boot is off.
const SbatLevelOriginal = "sbat,1,2021030218\n"

// Variables are the machine's shim variables (vendor SHIM_LOCK_GUID) before shim
// runs, as their data; nil or empty means the variable does not exist
// (UEFI has no empty variables). Their attributes are taken to be the ones
// shim wants (non-volatile, boot services, not runtime): shim deletes a
// variable with others, which is not modelled.
type Variables struct {
	// MokList are the enrolled machine owner keys (EFI signature lists,
	// as mokutil --import and MokManager write them).
	MokList []byte
	// MokListX are the keys and hashes the owner deauthorized.
	MokListX []byte
	// MokListTrusted is mokutil --trust-mok's variable; when it exists
	// shim measures nothing for it, when it does not, shim measures the
	// byte 1.
	MokListTrusted []byte
	// MokSBState is mokutil --disable-validation's variable. One
	// non-zero byte under Secure Boot (shim's insecure mode) is refused
	// by NewBoot: not examined.
	MokSBState []byte
	// MokDBState is mokutil --ignore-db's variable: the byte 1 makes
	// shim skip db.
	MokDBState []byte
	// MokPolicy is mokutil's policy variable.
	MokPolicy []byte
	// SbatLevel is the SBAT level in force before shim runs (from an
	// earlier shim); nil: none (a fresh machine).
	SbatLevel []byte
	// SbatPolicy is mokutil --set-sbat-policy's one-byte variable (1
	// latest, 2 automatic, 3 reset); nil: none (automatic).
	SbatPolicy []byte
}

// Machine is what shim finds on the machine: Secure Boot's state and
// variables, and its own.
type Machine struct {
	// SecureBoot: the firmware is in Secure Boot mode (shim verifies what
	// it starts).
	SecureBoot bool
	// DB and DBX are the firmware's db and dbx variables (EFI signature
	// lists).
	DB, DBX []byte
	// Variables are shim's own variables.
	Variables Variables
	// Banks are the PCR banks to predict digests in; empty: all four.
	Banks []pcr.Bank
}

// Boot is one start of shim: what it measures when it starts and when it
// verifies each image it loads. Its methods must be called in the order
// shim does (Startup, then Verify for each image in order): shim measures
// a variable's content only once per boot.
type Boot struct {
	bin        *Binary
	vendorCert *x509.Certificate
	vendorDB   *secureboot.Database
	vendorDBX  *secureboot.Database
	m          Machine
	banks      []pcr.Bank
	db, dbx    *secureboot.Database
	mokListX   *secureboot.Database
	// mokListRT is the MokListRT shim mirrors (the vendor certificate as
	// a signature list, then MokList).
	mokListRT   []byte
	mokListRTDB *secureboot.Database
	sbatLevel   string
	ignoreDB    bool
	measured    []measuredVar
	startupDone bool
}

type measuredVar struct {
	name string
	guid uefi.GUID
	data []byte
}

// VariableNames are the names of the Variables fields, in their order:
// the names of shim's variables as it reads them (MokList ... SbatPolicy).
func VariableNames() []string {
	return []string{"MokList", "MokListX", "MokListTrusted", "MokSBState", "MokDBState", "MokPolicy", "SbatLevel", "SbatPolicy"}
}

// Set sets the variable called name (one of VariableNames) to data, as
// stored (nil: the variable does not exist). Another name is a
// *VariableError matching ErrUnknownVariable.
func (v *Variables) Set(name string, data []byte) error {
	dst := map[string]*[]byte{"MokList": &v.MokList, "MokListX": &v.MokListX, "MokListTrusted": &v.MokListTrusted,
		"MokSBState": &v.MokSBState, "MokDBState": &v.MokDBState, "MokPolicy": &v.MokPolicy, "SbatLevel": &v.SbatLevel, "SbatPolicy": &v.SbatPolicy}[name]
	if dst == nil {
		return &VariableError{Name: name, Err: ErrUnknownVariable}
	}
	*dst = data
	return nil
}

// ErrUnknownVariable is a name that is none of VariableNames (Set).
var ErrUnknownVariable = errors.New("not one of shim's variables")

// VariableError is a shim variable of Machine.Variables that NewBoot
// refuses: malformed, or a state whose measurements were not examined.
type VariableError struct {
	// Name is the variable's name (the field of Variables).
	Name string
	Err  error
}

func (e *VariableError) Error() string { return "the " + e.Name + " variable: " + e.Err.Error() }

func (e *VariableError) Unwrap() error { return e.Err }

// NewBoot prepares the prediction of a start of shim bin on machine m. It
// refuses a shim version whose measurements were not examined
// (*VersionError) and malformed shim variables (*VariableError).
func NewBoot(bin *Binary, m Machine) (*Boot, error) {
	if err := bin.check(); err != nil {
		return nil, err
	}
	b := &Boot{bin: bin, m: m, banks: pcr.NormalizeBanks(m.Banks)}
	var err error
	if bin.VendorCert != nil && bin.VendorDB != nil {
		return nil, errors.New("shim: a vendor certificate and a vendor db (shim is built with one or the other)")
	}
	if bin.VendorCert != nil {
		if b.vendorCert, err = x509.ParseCertificate(bin.VendorCert); err != nil {
			return nil, fmt.Errorf("shim's vendor certificate: %w", err)
		}
	}
	if b.vendorDB, err = secureboot.ParseSignatureLists(bin.VendorDB); err != nil {
		return nil, fmt.Errorf("shim's vendor db: %w", err)
	}
	if b.vendorDBX, err = secureboot.ParseSignatureLists(bin.VendorDBX); err != nil {
		return nil, fmt.Errorf("shim's built-in dbx: %w", err)
	}
	if _, err := parseSbatLevel(bin.SbatLevelAutomatic); err != nil {
		return nil, fmt.Errorf("shim's automatic SBAT level: %w", err)
	}
	if _, err := parseSbatLevel(bin.SbatLevelLatest); err != nil {
		return nil, fmt.Errorf("shim's latest SBAT level: %w", err)
	}
	if b.db, err = secureboot.ParseSignatureLists(m.DB); err != nil {
		return nil, fmt.Errorf("the Secure Boot db variable: %w", err)
	}
	if b.dbx, err = secureboot.ParseSignatureLists(m.DBX); err != nil {
		return nil, fmt.Errorf("the Secure Boot dbx variable: %w", err)
	}
	v := m.Variables
	if _, err := secureboot.ParseSignatureLists(v.MokList); err != nil {
		return nil, &VariableError{Name: "MokList", Err: err}
	}
	if b.mokListX, err = secureboot.ParseSignatureLists(v.MokListX); err != nil {
		return nil, &VariableError{Name: "MokListX", Err: err}
	}
	if len(v.SbatPolicy) > 1 {
		return nil, &VariableError{Name: "SbatPolicy", Err: fmt.Errorf("%d bytes, not one", len(v.SbatPolicy))}
	}
	// import_one_mok_state sets user_insecure_mode from a one-byte
	// MokSBState (mok.c): secure_mode() (shim.c) is then false, so shim
	// verifies nothing and installs no LoadImage hook. Without Secure Boot secure_mode() is false
	// anyway, so only the Secure Boot case is refused.
	if m.SecureBoot && len(v.MokSBState) == 1 && v.MokSBState[0] != 0 {
		return nil, &VariableError{Name: "MokSBState", Err: fmt.Errorf("%#02x puts shim %s in insecure mode (mokutil --disable-validation): its measurements in that mode were not examined; not predicted", v.MokSBState[0], bin.Version)}
	}
	// import_one_mok_state sets ignore_db from a one-byte MokDBState.
	b.ignoreDB = len(v.MokDBState) == 1 && v.MokDBState[0] != 0
	b.sbatLevel = b.sbatLevelInForce()
	if _, err := parseSbatLevel(b.sbatLevel); err != nil {
		// Only the variable can be malformed here: the built-in levels
		// were checked above.
		return nil, &VariableError{Name: "SbatLevel", Err: err}
	}
	b.mokListRT = append(b.vendorAddend(), v.MokList...)
	if len(b.mokListRT) == 0 {
		b.mokListRT = nullSHA256List()
	}
	if b.mokListRTDB, err = secureboot.ParseSignatureLists(b.mokListRT); err != nil {
		return nil, fmt.Errorf("MokListRT: %w", err)
	}
	return b, nil
}

// vendorAddend is what mirror_one_mok_variable puts before MokList in
// MokListRT: the vendor certificate as one signature list owned by
// SHIM_LOCK_GUID, or the vendor db as it is.
func (b *Boot) vendorAddend() []byte {
	switch {
	case b.bin.VendorCert != nil:
		return eventlog.X509SignatureList(lockGUID, b.bin.VendorCert)
	case b.bin.VendorDB != nil:
		return bytes.Clone(b.bin.VendorDB)
	}
	return nil
}

// nullSHA256List is the placeholder shim mirrors for an empty key
// database: one EFI_CERT_SHA256 entry of 32 zero bytes owned by SHIM_LOCK_GUID
// (mok.c, variable_create_esl_with_one_signature(null_sha256, ...)).
func nullSHA256List() []byte {
	l, _ := eventlog.SignatureList(uefi.CertSHA256, eventlog.SignatureData(lockGUID, make([]byte, 32)))
	return l
}

// sbatLevelInForce is the SbatLevel variable after shim's
// set_sbat_uefi_variable (sbat.c): the candidate by SbatPolicy (none:
// automatic under Secure Boot, the original level without), unless the
// variable in force is at least as new (preserve_sbat_uefi_variable: a
// higher version field, or the same and a date not older).
func (b *Boot) sbatLevelInForce() string {
	v := b.m.Variables
	automatic, latest := b.bin.SbatLevelAutomatic, b.bin.SbatLevelLatest
	candidate, reset := automatic, false
	policy := byte(0)
	if len(v.SbatPolicy) == 1 {
		policy = v.SbatPolicy[0]
	}
	switch {
	case policy == 1: // POLICY_LATEST
		candidate = latest
	case policy == 2: // POLICY_AUTOMATIC
	case !b.m.SecureBoot: // no policy, reset, or an invalid one
		candidate, reset = SbatLevelOriginal, true
	}
	if len(v.SbatLevel) > 0 && !reset && preserveSbatLevel(v.SbatLevel, candidate) {
		return string(v.SbatLevel)
	}
	return candidate
}

// preserveSbatLevel is preserve_sbat_uefi_variable (rhboot/shim 16.1
// sbat.c) for a variable with the right attributes.
func preserveSbatLevel(cur []byte, candidate string) bool {
	if len(cur) < len(SbatLevelOriginal) || !bytes.HasPrefix(cur, []byte("sbat,")) {
		return false
	}
	field := func(s string, n int) string {
		for i := 0; i < len(s) && s[i] != 0; i++ {
			if n == 0 {
				return s[i:]
			}
			if s[i] == ',' {
				n--
			}
		}
		return ""
	}
	c := string(cur)
	curVer, newVer := field(c, 1), field(candidate, 1)
	curDate, newDate := field(c, 2), field(candidate, 2)
	curVerLen := len(curVer) - len(curDate) - 1
	newVerLen := len(newVer) - len(newDate) - 1
	if curVerLen > newVerLen || (curVerLen == newVerLen && curVerLen >= 0 && strings.Compare(curVer[:curVerLen], newVer[:newVerLen]) > 0) {
		return true
	}
	const dateLen = len("2021030218")
	return strncmp(curDate, newDate, dateLen) >= 0
}

func strncmp(a, b string, n int) int {
	for i := 0; i < n; i++ {
		var x, y byte
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y || x == 0 {
			return int(x) - int(y)
		}
	}
	return 0
}

// HooksLoadImage reports whether shim replaces the firmware's LoadImage
// (and so verifies and measures the images loaded after its next one
// itself): shim 16.1's shim_init (shim.c) calls hook_system_services
// only when secure_mode() and it has a vendor certificate or vendor db
// (vendor_authorized_size) or a built-in dbx (vendor_deauthorized_size).
// Otherwise the firmware verifies those images.
func (b *Boot) HooksLoadImage() bool {
	return b.m.SecureBoot && (len(b.bin.VendorCert) > 0 || len(b.bin.VendorDB) > 0 || len(b.bin.VendorDBX) > 0)
}

// SbatLevel is the SbatLevel variable shim leaves in force (and measures).
func (b *Boot) SbatLevel() string { return b.sbatLevel }

// MokListRT is the MokListRT variable shim mirrors: its vendor
// certificate (or vendor db) and MokList, or a placeholder when both are
// empty.
func (b *Boot) MokListRT() []byte { return bytes.Clone(b.mokListRT) }

// measureVariable is tpm_measure_variable (rhboot/shim 16.1 tpm.c): an
// EV_EFI_VARIABLE_AUTHORITY event in PCR 7 whose digest is
// H(UEFI_VARIABLE_DATA of name, guid, data), unless shim measured the same
// name, GUID and data before in this boot.
func (b *Boot) measureVariable(name string, guid uefi.GUID, data []byte, why string) []eventlog.Event {
	for _, m := range b.measured {
		if m.name == name && m.guid == guid && bytes.Equal(m.data, data) {
			return nil
		}
	}
	b.measured = append(b.measured, measuredVar{name, guid, bytes.Clone(data)})
	desc := fmt.Sprintf("variable %s (%d bytes of data): %s (shim %s)", name, len(data), why, b.bin.Version)
	return []eventlog.Event{hashEvent(7, eventlog.EvEFIVariableAuthority, desc, eventlog.VariableData(guid, name, data), b.banks)}
}

// logEvent is tpm_log_event (tpm.c): an EV_IPL event whose data is the
// variable's name, NUL-terminated, and whose digest is H(data).
func (b *Boot) logEvent(index int, name string, data []byte, why string) eventlog.Event {
	desc := fmt.Sprintf("%s (%d bytes: %s; shim %s)", name, len(data), why, b.bin.Version)
	return hashEvent(index, eventlog.EvIPL, desc, data, b.banks)
}

func hashEvent(index int, t eventlog.EventType, desc string, data []byte, banks []pcr.Bank) eventlog.Event {
	ev := eventlog.Event{PCR: index, Type: t, Description: desc}
	for _, bk := range banks {
		h := bk.Hash.New()
		h.Write(data)
		ev.Digests = append(ev.Digests, pcr.Value{Bank: bk, Digest: h.Sum(nil)})
	}
	return ev
}

// Startup returns what shim measures when it starts, before it loads its
// next image, in order: import_mok_state (rhboot/shim 16.1 mok.c) walks
// mok_state_variables and, for each variable that has data,
//
//	MokList         PCR 14 EV_IPL "MokList": H(vendor certificate as a signature list + MokList)
//	MokListX        PCR 14 EV_IPL "MokListX": H(vendor dbx + MokListX)
//	MokSBState      PCR 7 authority "MokSBState", then PCR 14 EV_IPL "MokSBState"
//	SbatLevel       PCR 7 authority "SbatLevel": the level in force
//	MokListTrusted  PCR 14 EV_IPL "MokListTrusted": H(01) when the variable does not exist
//	MokPolicy       PCR 14 EV_IPL "MokPolicy"
//
// (MokList and MokListX with neither part: the placeholder list of one
// zero SHA-256 entry.) The later calls return nil.
func (b *Boot) Startup() []eventlog.Event {
	if b.startupDone {
		return nil
	}
	b.startupDone = true
	v := b.m.Variables
	var evs []eventlog.Event
	mokList := append(b.vendorAddend(), v.MokList...)
	what := "the vendor certificate as a signature list"
	if b.bin.VendorDB != nil {
		what = "the vendor db"
	}
	if len(mokList) == 0 {
		mokList, what = nullSHA256List(), "the placeholder list (no vendor certificate, no MokList)"
	} else if len(v.MokList) > 0 {
		what += fmt.Sprintf(" and the MokList variable (%d bytes)", len(v.MokList))
	}
	evs = append(evs, b.logEvent(14, "MokList", mokList, what))
	mokListX := append(bytes.Clone(b.bin.VendorDBX), v.MokListX...)
	what = fmt.Sprintf("the built-in dbx (%d bytes)", len(b.bin.VendorDBX))
	if len(mokListX) == 0 {
		mokListX, what = nullSHA256List(), "the placeholder list (no built-in dbx, no MokListX)"
	} else if len(v.MokListX) > 0 {
		what += fmt.Sprintf(" and the MokListX variable (%d bytes)", len(v.MokListX))
	}
	evs = append(evs, b.logEvent(14, "MokListX", mokListX, what))
	if len(v.MokSBState) > 0 {
		evs = append(evs, b.measureVariable("MokSBState", lockGUID, v.MokSBState, "the MokSBState variable")...)
		evs = append(evs, b.logEvent(14, "MokSBState", v.MokSBState, "the MokSBState variable"))
	}
	evs = append(evs, b.measureVariable("SbatLevel", lockGUID, []byte(b.sbatLevel),
		fmt.Sprintf("the SBAT level in force %q", strings.TrimRight(b.sbatLevel, "\n")))...)
	if len(v.MokListTrusted) == 0 {
		evs = append(evs, b.logEvent(14, "MokListTrusted", []byte{1}, "the byte 01: the MokListTrusted variable does not exist"))
	}
	if len(v.MokPolicy) > 0 {
		evs = append(evs, b.logEvent(14, "MokPolicy", v.MokPolicy, "the MokPolicy variable"))
	}
	return evs
}

// Authority is what authorized an image shim verified: the variable whose
// entry shim measured ("db", "vendor_db", "MokListRT", or "Shim" for its
// built-in certificate), and the measured data (an EFI_SIGNATURE_DATA, or
// for "Shim" the certificate's DER).
type Authority struct {
	Variable string
	GUID     uefi.GUID
	Data     []byte
	// Certificate is the authorizing certificate (nil when a digest
	// entry authorized the image).
	Certificate *x509.Certificate
}

// Refusal is shim's refusal of an image: it prints "Verification failed:
// (0x1A) Security Violation" and starts nothing.
type Refusal struct {
	Path   string
	Reason string
}

func (r *Refusal) Error() string {
	return fmt.Sprintf("%s: shim refuses it (Security Violation): %s", r.Path, r.Reason)
}

// ErrRefused matches every *Refusal (errors.Is).
var ErrRefused = errors.New("shim refuses the image")

// Is makes errors.Is(err, ErrRefused) true.
func (r *Refusal) Is(target error) bool { return target == ErrRefused }

// VerifyFile is Verify for the PE image at path.
func (b *Boot) VerifyFile(ctx context.Context, path string) (*Authority, []eventlog.Event, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	a, evs, err := b.Verify(ctx, path, f, st.Size())
	var r *Refusal
	if err != nil && !errors.As(err, &r) {
		err = fmt.Errorf("%s: %w", path, err)
	}
	return a, evs, err
}

// oidModuleSigning is shim's OID_EKU_MODSIGN: a certificate with this
// extended key usage (kernel module signing) never authorizes an image
// (verify.c, verify_eku).
var oidModuleSigning = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 2312, 16, 1, 2}

func modSigning(c *x509.Certificate) bool {
	for _, o := range c.UnknownExtKeyUsage {
		if o.Equal(oidModuleSigning) {
			return true
		}
	}
	return false
}

// Verify predicts what shim measures into PCR 7 when it verifies the PE
// image r (size bytes; name names it in messages) before starting it
// under Secure Boot (rhboot/shim 16.1 verify.c, verify_buffer): the image's
// SHA-256 and SHA-1 Authenticode digests are looked up in the deny lists
// (the built-in dbx, dbx, MokListX) and then the allow lists (db, the
// vendor db, MokListRT); then, signature by signature, the signature's
// chain to the first certificate of each X.509 list of the deny lists,
// and to those of db, the vendor db and MokListRT, and last to the
// built-in certificate ("Shim"). The entry that matched is measured
// (once per boot) as an EV_EFI_VARIABLE_AUTHORITY of its variable. An
// image no list authorizes, one a deny list holds, or one whose .sbat the
// SBAT level revokes is refused (*Refusal). Without Secure Boot nothing
// is verified or measured. r is read through ctx: once ctx is done, Verify
// stops before the next read and returns an error matching ctx.Err()
// (errors.Is).
func (b *Boot) Verify(ctx context.Context, name string, r io.ReaderAt, size int64) (*Authority, []eventlog.Event, error) {
	if !b.m.SecureBoot {
		return nil, nil, nil
	}
	r = ctxio.ReaderAt(ctx, r)
	if !b.startupDone {
		b.Startup()
	}
	// One read for both digests, and sign.Verify below reuses SHA-256's.
	ds, err := sign.MeasuredImageDigests(r, size, crypto.SHA256, crypto.SHA1)
	if err != nil {
		return nil, nil, err
	}
	sha256d, sha1d := ds[0], ds[1]
	var evs []eventlog.Event
	type list struct {
		name string
		guid uefi.GUID
		db   *secureboot.Database
	}
	deny := []list{{"dbx", uefi.ImageSecurityDatabase, b.vendorDBX}, {"dbx", uefi.ImageSecurityDatabase, b.dbx}}
	var allow []list
	if !b.ignoreDB {
		allow = append(allow, list{"db", uefi.ImageSecurityDatabase, b.db})
	}
	if len(b.bin.VendorDB) > 0 {
		allow = append(allow, list{"vendor_db", uefi.ImageSecurityDatabase, b.vendorDB})
	}
	allow = append(allow, list{"MokListRT", lockGUID, b.mokListRTDB})
	// findHash is check_db_hash_in_ram: the first entry of a list of the
	// digest's type that holds it, measured with its list's
	// SignatureSize (owner and data).
	findHash := func(l list, d []byte, typ uefi.GUID) (secureboot.Entry, bool) {
		for _, e := range l.db.Entries() {
			if e.Type == typ && bytes.HasPrefix(e.Data, d) && len(e.Data) == len(d) {
				return e, true
			}
		}
		return secureboot.Entry{}, false
	}
	// firstCerts are the certificates check_db_cert_in_ram tries: the
	// first entry of each EFI_CERT_X509 list.
	firstCerts := func(l list) []secureboot.Entry {
		var out []secureboot.Entry
		seenList := map[int]bool{}
		for _, e := range l.db.Entries() {
			if e.Type != secureboot.CertX509 || seenList[e.List] {
				continue
			}
			seenList[e.List] = true
			if e.Certificate != nil && !modSigning(e.Certificate) {
				out = append(out, e)
			}
		}
		return out
	}
	hashes := []struct {
		d   []byte
		typ uefi.GUID
		alg string
	}{{sha256d, uefi.CertSHA256, "SHA-256"}, {sha1d, uefi.CertSHA1, "SHA-1"}}
	// The digests against the deny lists, then against the allow lists
	// (verify_buffer_authenticode's check_denylist(NULL, ...) and
	// check_allowlist(NULL, ...)); MokListX is checked for SHA-256 only.
	for _, l := range append(deny, list{"MokListX", lockGUID, b.mokListX}) {
		for _, h := range hashes {
			if l.name == "MokListX" && h.alg != "SHA-256" {
				continue
			}
			if e, ok := findHash(l, h.d, h.typ); ok {
				evs = append(evs, b.measureVariable(l.name, l.guid, e.SignatureData(), "the entry that forbids the image")...)
				return nil, evs, &Refusal{Path: name, Reason: fmt.Sprintf("its %s digest %x is in %s", h.alg, h.d, l.name)}
			}
		}
	}
	for _, l := range allow {
		for _, h := range hashes {
			if l.name == "MokListRT" && h.alg != "SHA-256" {
				continue
			}
			if l.name == "vendor_db" && h.alg != "SHA-256" {
				continue
			}
			if e, ok := findHash(l, h.d, h.typ); ok {
				evs = append(evs, b.measureVariable(l.name, l.guid, e.SignatureData(), "the entry that authorized an image")...)
				// verify_buffer runs verify_buffer_sbat after
				// verify_buffer_authenticode whatever authorized the
				// image, so the authority is measured even when SBAT
				// then refuses it.
				if err := b.checkSBAT(r, size); err != nil {
					return sbatRefusal(name, evs, err)
				}
				return &Authority{Variable: l.name, GUID: l.guid, Data: e.SignatureData()}, evs, nil
			}
		}
	}
	rep, err := sign.Verify(ctx, r, size, sign.VerifyOptions{ImageDigests: map[crypto.Hash][]byte{crypto.SHA256: sha256d}})
	if rep == nil {
		if errors.Is(err, sign.ErrNotSigned) {
			return nil, evs, &Refusal{Path: name, Reason: "not signed, and its digest is in no allow list"}
		}
		return nil, nil, err
	}
	if len(rep.Signatures) == 0 {
		return nil, evs, &Refusal{Path: name, Reason: "not signed, and its digest is in no allow list"}
	}
	var auth *Authority
	var reasons []string
	for i := range rep.Signatures {
		s := &rep.Signatures[i]
		if s.Type != 0x0002 { // WIN_CERT_TYPE_PKCS_SIGNED_DATA only
			reasons = append(reasons, fmt.Sprintf("signature %d: certificate type %#x", s.Index, s.Type))
			continue
		}
		if s.Hash != crypto.SHA256 {
			// shim hands AuthenticodeVerify the SHA-256 digest only.
			reasons = append(reasons, fmt.Sprintf("signature %d: a %v signature", s.Index, s.Hash))
			continue
		}
		denied := false
		for _, l := range append(deny, list{"MokListX", lockGUID, b.mokListX}) {
			for _, e := range firstCerts(l) {
				if s.ChainsTo(e.Certificate) {
					evs = append(evs, b.measureVariable(l.name, l.guid, e.SignatureData(), "the entry that forbids the image")...)
					reasons = append(reasons, fmt.Sprintf("signature %d: chains to %q in %s", s.Index, e.Certificate.Subject, l.name))
					denied = true
					break
				}
			}
			if denied {
				break
			}
		}
		if denied {
			continue
		}
		var found *Authority
		for _, l := range allow {
			for _, e := range firstCerts(l) {
				if s.ChainsTo(e.Certificate) {
					evs = append(evs, b.measureVariable(l.name, l.guid, e.SignatureData(), "the entry that authorized an image")...)
					found = &Authority{Variable: l.name, GUID: l.guid, Data: e.SignatureData(), Certificate: e.Certificate}
					break
				}
			}
			if found != nil {
				break
			}
		}
		if found == nil && b.vendorCert != nil && s.ChainsTo(b.vendorCert) {
			evs = append(evs, b.measureVariable("Shim", lockGUID, b.bin.VendorCert, "shim's built-in certificate, which authorized an image")...)
			found = &Authority{Variable: "Shim", GUID: lockGUID, Data: bytes.Clone(b.bin.VendorCert), Certificate: b.vendorCert}
		}
		if found == nil {
			why := "chains to no certificate of db, MokListRT or shim's"
			if s.Err != nil {
				why = s.Err.Error()
			}
			reasons = append(reasons, fmt.Sprintf("signature %d: %s", s.Index, why))
		} else if auth == nil {
			auth = found
		}
	}
	if auth == nil {
		return nil, evs, &Refusal{Path: name, Reason: strings.Join(reasons, "; ")}
	}
	// SBAT after Authenticode (verify_buffer): the authority events
	// stand when SBAT refuses the image.
	if err := b.checkSBAT(r, size); err != nil {
		return sbatRefusal(name, evs, err)
	}
	return auth, evs, nil
}

// sbatRefusal is Verify's result when checkSBAT fails: shim's refusal,
// unless the context stopped the read (then an error, not a refusal, and
// no events).
func sbatRefusal(name string, evs []eventlog.Event, err error) (*Authority, []eventlog.Event, error) {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return nil, nil, err
	}
	return nil, evs, &Refusal{Path: name, Reason: err.Error()}
}

// checkSBAT is verify_buffer_sbat (verify.c) with verify_sbat_section
// (pe.c): with an SBAT level in force, an image without a .sbat section,
// with an unparsable one, or with a component whose generation is below
// the level's for that component is refused.
func (b *Boot) checkSBAT(r io.ReaderAt, size int64) error {
	level, _ := parseSbatLevel(b.sbatLevel)
	if len(level) == 0 {
		return nil
	}
	data, err := sectionData(r, size, ".sbat")
	if err != nil {
		return err
	}
	if data == nil {
		return errors.New("it has no .sbat section (SBAT is mandatory for images shim loads)")
	}
	if i := bytes.IndexByte(data, 0); i >= 0 {
		data = data[:i]
	}
	recs, err := sbat.Parse(data)
	if err != nil {
		return fmt.Errorf("its .sbat section: %w", err)
	}
	for _, rec := range recs {
		for _, l := range level {
			if l.component == rec.Component {
				if rec.Generation < l.generation {
					return fmt.Errorf("its SBAT component %s generation %d is revoked by the SBAT level (%s,%d)", rec.Component, rec.Generation, l.component, l.generation)
				}
				break
			}
		}
	}
	return nil
}

type levelEntry struct {
	component  string
	generation int
}

// parseSbatLevel reads an SbatLevel: lines "component,generation[,...]",
// the first the "sbat" header line (parse_sbat_var_data: each line needs
// two non-empty columns).
func parseSbatLevel(s string) ([]levelEntry, error) {
	var out []levelEntry
	for i, line := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		f := strings.Split(line, ",")
		if len(f) < 2 || f[0] == "" || f[1] == "" {
			return nil, fmt.Errorf("line %d %q: not component,generation", i+1, line)
		}
		g, err := strconv.Atoi(f[1])
		if err != nil {
			g = 0 // shim's atoi
		}
		out = append(out, levelEntry{f[0], g})
	}
	return out, nil
}

// sectionData returns the raw data of the image's section name (nil when
// it has none).
func sectionData(r io.ReaderAt, size int64, name string) ([]byte, error) {
	f, err := pe.Parse(r, size)
	if err != nil {
		return nil, err
	}
	for i := range f.Sections {
		s := &f.Sections[i]
		if n, err := sectionName(r, size, f, s); err != nil || n != name {
			continue
		}
		if s.SizeOfRawData == 0 || s.SizeOfRawData < s.VirtualSize {
			return nil, nil // verify_buffer_sbat ignores such a section
		}
		if int64(s.PointerToRawData)+int64(s.SizeOfRawData) > size {
			return nil, fmt.Errorf("section %s reaches past the end of the file", name)
		}
		d := make([]byte, s.SizeOfRawData)
		if err := readFullAt(r, d, int64(s.PointerToRawData)); err != nil {
			return nil, err
		}
		return d, nil
	}
	return nil, nil
}
