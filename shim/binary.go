package shim

import (
	"bytes"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"

	"github.com/ukibuild/ukibuild/internal/pe"
	"github.com/ukibuild/ukibuild/secureboot"
)

// Binary is what a shim image holds that decides its measurements: its
// version, its built-in certificates and its SBAT data.
type Binary struct {
	// Version is shim's upstream version, from the "$Version: ... $"
	// line of its .data.ident section (rhboot/shim version.c.in).
	Version string
	// VendorCert is the certificate shim trusts besides db and MokList
	// (the authorized part of .vendor_cert in a build with
	// VENDOR_CERT_FILE, DER); nil in a build with VENDOR_DB_FILE or none.
	VendorCert []byte
	// VendorDB is the authorized part of .vendor_cert in a build with
	// VENDOR_DB_FILE: EFI signature lists shim checks as "vendor_db".
	VendorDB []byte
	// VendorDBX is the deauthorized part of .vendor_cert (VENDOR_DBX_FILE):
	// EFI signature lists shim refuses images by and measures as the
	// start of MokListX.
	VendorDBX []byte
	// SbatLevelAutomatic and SbatLevelLatest are the two SBAT levels of
	// the .sbatlevel section (the "previous" one shim applies by default,
	// and the one SbatPolicy "latest" applies).
	SbatLevelAutomatic, SbatLevelLatest string
	// SBAT is shim's own .sbat section (CSV).
	SBAT string

	// buildCert: the image has ENABLE_SHIM_CERT's messages (Read).
	buildCert bool
}

// FormatError is a shim image that lacks what shim's measurements depend
// on, or holds it malformed.
type FormatError struct {
	Path, Defect string
	// Err is the cause, when another package found the defect (a
	// *uefi.FormatError for a malformed PE image); nil otherwise.
	Err     error
	notShim bool
}

// Unwrap returns the cause (errors.As finds a *uefi.FormatError).
func (e *FormatError) Unwrap() error { return e.Err }

func (e *FormatError) Error() string {
	if e.Path == "" {
		return "shim: " + e.Defect
	}
	return e.Path + ": " + e.Defect
}

// ErrFormat matches every *FormatError (errors.Is).
var ErrFormat = errors.New("not a shim image shim's measurements can be read from")

// ErrNotShim matches the *FormatError of a PE image that is not shim at
// all (no .data.ident section naming "UEFI SHIM"), so that a caller given
// boot loaders can tell shim from others (errors.Is).
var ErrNotShim = errors.New("not a shim image")

// Is makes errors.Is(err, ErrFormat) true, and errors.Is(err, ErrNotShim)
// for an image that is not shim.
func (e *FormatError) Is(target error) bool {
	return target == ErrFormat || (target == ErrNotShim && e.notShim)
}

var versionRE = regexp.MustCompile(`\$Version: ([^ $\x00]+) \$`)

// Open reads the shim image at path (Read); errors name the file.
func Open(path string) (*Binary, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	b, err := Read(f, st.Size())
	var fe *FormatError
	if errors.As(err, &fe) {
		fe.Path = path
	} else if err != nil {
		err = fmt.Errorf("%s: %w", path, err)
	}
	return b, err
}

// Read reads a shim image (size bytes; signed or not): the version from
// .data.ident, the certificate table of .vendor_cert (shim's cert.S:
// vendor_authorized_size, vendor_deauthorized_size and their offsets from
// the table's start, then the data), the two levels of .sbatlevel (shim's
// sbat_var.S: a format version 0, then the payload header: the offsets of
// the automatic and latest NUL-terminated levels from the header's start) and .sbat. A build with
// its own build certificate (ENABLE_SHIM_CERT, recognised by its
// "shim_cert" messages) holds a certificate that cannot be found in the
// image and is refused by NewBoot.
func Read(r io.ReaderAt, size int64) (*Binary, error) {
	f, err := pe.Parse(r, size)
	if err != nil {
		return nil, &FormatError{Defect: err.Error(), Err: err}
	}
	secs := map[string][]byte{}
	for i := range f.Sections {
		s := &f.Sections[i]
		name, err := sectionName(r, size, f, s)
		if err != nil {
			return nil, err
		}
		switch name {
		case ".data.ident", ".vendor_cert", ".sbatlevel", ".sbat", ".data":
		default:
			continue
		}
		if _, dup := secs[name]; dup {
			return nil, &FormatError{Defect: "two " + name + " sections"}
		}
		n := int64(min(s.VirtualSize, s.SizeOfRawData))
		if s.VirtualSize == 0 {
			n = int64(s.SizeOfRawData)
		}
		if int64(s.PointerToRawData)+n > size {
			return nil, &FormatError{Defect: fmt.Sprintf("section %s reaches past the end of the file", name)}
		}
		d := make([]byte, n)
		if err := readFullAt(r, d, int64(s.PointerToRawData)); err != nil {
			return nil, fmt.Errorf("reading section %s: %w", name, err)
		}
		secs[name] = d
	}
	b := &Binary{}
	ident, ok := secs[".data.ident"]
	if !ok || !bytes.HasPrefix(ident, []byte("UEFI SHIM\n")) {
		return nil, &FormatError{Defect: `not a shim image: no .data.ident section starting "UEFI SHIM"`, notShim: true}
	}
	m := versionRE.FindSubmatch(ident)
	if m == nil {
		return nil, &FormatError{Defect: `no "$Version: ... $" in .data.ident`}
	}
	b.Version = string(m[1])
	if err := b.readVendorCert(secs[".vendor_cert"]); err != nil {
		return nil, err
	}
	if err := b.readSbatLevel(secs[".sbatlevel"]); err != nil {
		return nil, err
	}
	sbatSec, ok := secs[".sbat"]
	if !ok {
		return nil, &FormatError{Defect: "no .sbat section"}
	}
	if i := bytes.IndexByte(sbatSec, 0); i >= 0 {
		sbatSec = sbatSec[:i]
	}
	b.SBAT = string(sbatSec)
	b.buildCert = bytes.Contains(secs[".data"], utf16z("AuthenticodeVerify(shim_cert)"))
	return b, nil
}

// sectionName is the section's name, looked up in the COFF string table
// when the header holds "/N" (a name longer than 8 bytes at offset N of the
// table that follows the symbol table, as GNU ld writes ".vendor_cert",
// ".sbatlevel" and ".data.ident"; PE/COFF specification, "Section Table").
// Written by hand: internal/pe reads the headers only, and debug/pe reads
// the whole symbol table.
func sectionName(r io.ReaderAt, size int64, f *pe.File, s *pe.Section) (string, error) {
	name := s.NameString()
	num, ok := strings.CutPrefix(name, "/")
	if !ok {
		return name, nil
	}
	off, err := strconv.ParseUint(num, 10, 32)
	if err != nil || f.PointerToSymbolTable == 0 {
		return name, nil
	}
	at := int64(f.PointerToSymbolTable) + 18*int64(f.NumberOfSymbols) + int64(off)
	if at >= size {
		return "", &FormatError{Defect: fmt.Sprintf("section name %s points past the end of the file", name)}
	}
	buf := make([]byte, min(256, size-at))
	if err := readFullAt(r, buf, at); err != nil {
		return "", err
	}
	i := bytes.IndexByte(buf, 0)
	if i < 0 {
		return "", &FormatError{Defect: fmt.Sprintf("section name %s: no NUL within 256 bytes of the string table", name)}
	}
	return string(buf[:i]), nil
}

// utf16z is s in UTF-16LE without a terminator (how shim's L"" strings are
// stored).
func utf16z(s string) []byte {
	var out []byte
	for _, u := range utf16.Encode([]rune(s)) {
		out = binary.LittleEndian.AppendUint16(out, u)
	}
	return out
}

func (b *Binary) readVendorCert(d []byte) error {
	if d == nil {
		return &FormatError{Defect: "no .vendor_cert section"}
	}
	if len(d) < 16 {
		return &FormatError{Defect: fmt.Sprintf(".vendor_cert: %d bytes, shorter than its 16-byte table", len(d))}
	}
	authSize := binary.LittleEndian.Uint32(d[0:])
	deauthSize := binary.LittleEndian.Uint32(d[4:])
	authOff := binary.LittleEndian.Uint32(d[8:])
	deauthOff := binary.LittleEndian.Uint32(d[12:])
	part := func(what string, off, n uint32) ([]byte, error) {
		if uint64(off)+uint64(n) > uint64(len(d)) {
			return nil, &FormatError{Defect: fmt.Sprintf(".vendor_cert: the %s part (%d bytes at %d) reaches past the section's %d bytes", what, n, off, len(d))}
		}
		return bytes.Clone(d[off : off+n]), nil
	}
	auth, err := part("authorized", authOff, authSize)
	if err != nil {
		return err
	}
	deauth, err := part("deauthorized", deauthOff, deauthSize)
	if err != nil {
		return err
	}
	if len(auth) > 0 {
		// cert.S takes either a DER certificate (VENDOR_CERT_FILE) or
		// signature lists (VENDOR_DB_FILE); the section does not say
		// which, the content does.
		if _, err := x509.ParseCertificate(auth); err == nil {
			b.VendorCert = auth
		} else if _, err2 := secureboot.ParseSignatureLists(auth); err2 == nil {
			b.VendorDB = auth
		} else {
			return &FormatError{Defect: fmt.Sprintf(".vendor_cert: the authorized part is neither a DER certificate (%v) nor EFI signature lists (%v)", err, err2)}
		}
	}
	if len(deauth) > 0 {
		if _, err := secureboot.ParseSignatureLists(deauth); err != nil {
			return &FormatError{Defect: fmt.Sprintf(".vendor_cert: the deauthorized part: %v", err), Err: err}
		}
		b.VendorDBX = deauth
	}
	return nil
}

func (b *Binary) readSbatLevel(d []byte) error {
	if d == nil {
		return &FormatError{Defect: "no .sbatlevel section"}
	}
	if len(d) < 12 {
		return &FormatError{Defect: fmt.Sprintf(".sbatlevel: %d bytes, shorter than its 12-byte header", len(d))}
	}
	if v := binary.LittleEndian.Uint32(d); v != 0 {
		return &FormatError{Defect: fmt.Sprintf(".sbatlevel: header version %d (shim 16.1 has 0)", v)}
	}
	// The offsets count from the payload header, after the version.
	str := func(what string, rel uint32) (string, error) {
		off := uint64(rel) + 4
		if off >= uint64(len(d)) {
			return "", &FormatError{Defect: fmt.Sprintf(".sbatlevel: the %s level's offset %d is past the section's %d bytes", what, off, len(d))}
		}
		s := d[off:]
		i := bytes.IndexByte(s, 0)
		if i < 0 {
			return "", &FormatError{Defect: fmt.Sprintf(".sbatlevel: the %s level has no NUL terminator", what)}
		}
		if !bytes.HasPrefix(s, []byte("sbat,")) {
			return "", &FormatError{Defect: fmt.Sprintf(".sbatlevel: the %s level %q does not start with \"sbat,\"", what, s[:i])}
		}
		return string(s[:i]), nil
	}
	var err error
	if b.SbatLevelAutomatic, err = str("automatic", binary.LittleEndian.Uint32(d[4:])); err != nil {
		return err
	}
	b.SbatLevelLatest, err = str("latest", binary.LittleEndian.Uint32(d[8:]))
	return err
}

// SupportedVersions are the shim versions whose measurements were examined
// (source and recorded boots); NewBoot refuses the others.
func SupportedVersions() []string { return []string{"16.1"} }

// VersionError is a shim version whose measurements were not examined.
type VersionError struct{ Version string }

func (e *VersionError) Error() string {
	return fmt.Sprintf("shim %s: its measurements were not examined (ukibuild predicts shim %v); not guessed", e.Version, SupportedVersions())
}

func (b *Binary) check() error {
	if !slices.Contains(SupportedVersions(), b.Version) {
		return &VersionError{Version: b.Version}
	}
	if b.buildCert {
		return &FormatError{Defect: "a shim built with its own build certificate (ENABLE_SHIM_CERT), which shim measures into MokList but which the image does not hold in a readable form: not predicted"}
	}
	return nil
}

// readFullAt fills p from r at off. io.ReaderAt may return io.EOF with a
// full buffer when p ends at the end of the input: that is success; a
// short read is an error.
func readFullAt(r io.ReaderAt, p []byte, off int64) error {
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("reading %d bytes at offset %d: %w", len(p), off, err)
}
