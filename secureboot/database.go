package secureboot

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ukibuild/ukibuild/eventlog"
	"github.com/ukibuild/ukibuild/uefi"
)

// Signature types of EFI_SIGNATURE_LIST (UEFI 2.10, 32.4.1 "Signature
// Database"; the values of MdePkg/Include/Guid/ImageAuthentication.h,
// edk2-stable202605).
var (
	CertX509       = uefi.CertX509   // EFI_CERT_X509_GUID: a DER certificate
	CertSHA256     = uefi.CertSHA256 // EFI_CERT_SHA256_GUID: an image's Authenticode SHA-256
	CertSHA384     = uefi.MustParseGUID("ff3e5307-9fd0-48c9-85f1-8ad56c701e01")
	CertSHA512     = uefi.MustParseGUID("093e0fae-a6c4-4f50-9f1b-d41e2b89c19a")
	CertX509SHA256 = uefi.MustParseGUID("3bd2a492-96c0-4079-b420-fcf98ef103ed") // a certificate's TBSCertificate SHA-256 + EFI_TIME
	CertX509SHA384 = uefi.MustParseGUID("7076876e-80c2-4ee6-aad2-28b349a6865b")
	CertX509SHA512 = uefi.MustParseGUID("446dbf63-2502-4cda-bcfa-2465d2b0fe9d")
	// CertTypePKCS7 is EFI_CERT_TYPE_PKCS7_GUID, the CertType of the
	// WIN_CERTIFICATE_UEFI_GUID of an EFI_VARIABLE_AUTHENTICATION_2
	// (MdePkg/Include/Guid/WinCertificate.h).
	CertTypePKCS7 = uefi.CertTypePKCS7
)

// Entry is one EFI_SIGNATURE_DATA of a signature database, with the type of
// the list that holds it.
type Entry struct {
	// Type is the list's SignatureType (CertX509, CertSHA256, ...).
	Type uefi.GUID
	// Owner is the entry's SignatureOwner.
	Owner uefi.GUID
	// Data is the entry's SignatureData as stored: SignatureSize - 16
	// bytes (a certificate's DER, possibly followed by padding; a digest;
	// a digest and an EFI_TIME for CertX509SHA256...).
	Data []byte
	// Certificate is Data parsed, for CertX509 entries whose data starts
	// with a certificate (nil otherwise).
	Certificate *x509.Certificate
	// List is the position of the EFI_SIGNATURE_LIST that holds the
	// entry among the variable's lists, from 0 (shim, for one, tries only
	// the first certificate of each list).
	List int
}

// SignatureData returns the EFI_SIGNATURE_DATA (Owner, then Data): what EDK2
// measures into PCR 7 as the EV_EFI_VARIABLE_AUTHORITY of "db" for the entry
// that authorized an image (SecureBootHook with the list's SignatureSize).
// It is what eventlog.PCR7Events takes as an authority.
func (e Entry) SignatureData() []byte { return eventlog.SignatureData(e.Owner, e.Data) }

// Database is the data of a signature database variable (PK, KEK, db, dbx):
// EFI_SIGNATURE_LISTs, kept as read, and their entries in order.
type Database struct {
	raw     []byte
	entries []Entry
}

// Bytes returns the variable's data: the signature lists in firmware order,
// what PCR 7's EV_EFI_VARIABLE_DRIVER_CONFIG event measures (see
// eventlog.SecureBootVariables). Empty for an empty Database (the variable does
// not exist).
func (d *Database) Bytes() []byte {
	if d == nil {
		return nil
	}
	return bytes.Clone(d.raw)
}

// Entries returns the entries in order.
func (d *Database) Entries() []Entry {
	if d == nil {
		return nil
	}
	return append([]Entry(nil), d.entries...)
}

// Len returns the number of entries.
func (d *Database) Len() int {
	if d == nil {
		return 0
	}
	return len(d.entries)
}

// Append adds other's lists after d's, as an append write of the variable
// (or enrolling several files one after the other) does.
func (d *Database) Append(other *Database) {
	if other == nil {
		return
	}
	d.raw = append(d.raw, other.raw...)
	d.entries = append(d.entries, other.entries...)
}

// Concat returns a Database with the lists of dbs in order.
func Concat(dbs ...*Database) *Database {
	out := &Database{}
	for _, d := range dbs {
		out.Append(d)
	}
	return out
}

// FormatError is a malformed signature list or authenticated variable:
// Offset is where in the data the defect is.
type FormatError struct {
	Offset int
	What   string
}

func (e *FormatError) Error() string { return fmt.Sprintf("at offset %d: %s", e.Offset, e.What) }

// ErrFormat is what every FormatError is (errors.Is).
var ErrFormat = errors.New("malformed signature database")

func (e *FormatError) Is(target error) bool { return target == ErrFormat }

// eslHeader is sizeof(EFI_SIGNATURE_LIST): SignatureType, SignatureListSize,
// SignatureHeaderSize, SignatureSize.
const eslHeader = 16 + 4 + 4 + 4

// ParseSignatureLists parses a sequence of EFI_SIGNATURE_LISTs: an .esl
// file (efitools' cert-to-efi-sig-list, hash-to-efi-sig-list), or a
// variable's data (virt-fw-vars --output-json, efivarfs without its four
// attribute bytes). Each list must be whole: SignatureListSize at least the
// header, SignatureHeaderSize and one entry; SignatureSize at least the
// owner GUID; the entries filling the list exactly (the checks EDK2's
// variable service makes before it stores a db write,
// SecurityPkg/Library/AuthVariableLib/AuthService.c, CheckSignatureListFormat).
// No data at all is an empty Database. The signature header, which no
// defined type has, is kept in Bytes but not in Entries.
func ParseSignatureLists(data []byte) (*Database, error) {
	// Written by hand rather than with go-uefi's efi/signature
	// (v0.0.0-20251010190908-d29549a44f29): its readers call log.Fatal on
	// some malformed input (ReadEFIVariableAuthencation2,
	// ReadWinCertificateUEFIGUID), underflow on a SignatureListSize shorter
	// than the header, and read nothing for list types their switch does
	// not handle (EFI_CERT_X509_SHA256, EFI_CERT_SHA384, ...), which
	// desynchronizes the lists that follow; dbx holds such lists.
	d := &Database{raw: bytes.Clone(data)}
	for off, list := 0, 0; off < len(data); list++ {
		rest := data[off:]
		if len(rest) < eslHeader {
			return nil, &FormatError{off, fmt.Sprintf("%d bytes left, fewer than an EFI_SIGNATURE_LIST header (%d)", len(rest), eslHeader)}
		}
		var typ uefi.GUID
		copy(typ[:], rest[:16])
		listSize := binary.LittleEndian.Uint32(rest[16:])
		headerSize := binary.LittleEndian.Uint32(rest[20:])
		sigSize := binary.LittleEndian.Uint32(rest[24:])
		switch {
		case uint64(listSize) > uint64(len(rest)):
			return nil, &FormatError{off, fmt.Sprintf("SignatureListSize %d exceeds the %d bytes left", listSize, len(rest))}
		case sigSize < 16:
			return nil, &FormatError{off, fmt.Sprintf("SignatureSize %d is smaller than the owner GUID", sigSize)}
		case uint64(listSize) < uint64(eslHeader)+uint64(headerSize)+uint64(sigSize):
			return nil, &FormatError{off, fmt.Sprintf("SignatureListSize %d holds no entry (header %d, SignatureHeaderSize %d, SignatureSize %d)", listSize, eslHeader, headerSize, sigSize)}
		case (listSize-eslHeader-headerSize)%sigSize != 0:
			return nil, &FormatError{off, fmt.Sprintf("SignatureListSize %d is not the header and a whole number of %d-byte entries", listSize, sigSize)}
		}
		if want := fixedSize(typ); want != 0 && sigSize != want {
			return nil, &FormatError{off, fmt.Sprintf("a %s list has SignatureSize %d, want %d", TypeName(typ), sigSize, want)}
		}
		for p := eslHeader + int(headerSize); p < int(listSize); p += int(sigSize) {
			e := Entry{Type: typ, Data: bytes.Clone(rest[p+16 : p+int(sigSize)]), List: list}
			copy(e.Owner[:], rest[p:p+16])
			if typ == CertX509 {
				c, err := parseCertificatePrefix(e.Data)
				if err != nil {
					return nil, &FormatError{off + p + 16, fmt.Sprintf("EFI_CERT_X509 entry: %v", err)}
				}
				e.Certificate = c
			}
			d.entries = append(d.entries, e)
		}
		off += int(listSize)
	}
	return d, nil
}

// fixedSize is SignatureSize for the types whose entries have one size
// (UEFI 2.10, 32.4.1: the owner GUID and the digest, plus an EFI_TIME for
// the certificate digests); 0 for others.
func fixedSize(t uefi.GUID) uint32 {
	switch t {
	case CertSHA256:
		return 16 + 32
	case CertSHA384:
		return 16 + 48
	case CertSHA512:
		return 16 + 64
	case CertX509SHA256:
		return 16 + 32 + 16
	case CertX509SHA384:
		return 16 + 48 + 16
	case CertX509SHA512:
		return 16 + 64 + 16
	}
	return 0
}

// TypeName returns the UEFI name of a signature type ("EFI_CERT_X509"), or
// the GUID's text for others.
func TypeName(t uefi.GUID) string {
	switch t {
	case CertX509:
		return "EFI_CERT_X509"
	case CertSHA256:
		return "EFI_CERT_SHA256"
	case CertSHA384:
		return "EFI_CERT_SHA384"
	case CertSHA512:
		return "EFI_CERT_SHA512"
	case CertX509SHA256:
		return "EFI_CERT_X509_SHA256"
	case CertX509SHA384:
		return "EFI_CERT_X509_SHA384"
	case CertX509SHA512:
		return "EFI_CERT_X509_SHA512"
	}
	return t.String()
}

// parseCertificatePrefix parses the certificate at the start of data: an
// EFI_CERT_X509 entry's SignatureSize may exceed the certificate, and EDK2
// (OpenSSL's d2i_X509) reads the DER element and ignores what follows.
func parseCertificatePrefix(data []byte) (*x509.Certificate, error) {
	var raw asn1.RawValue
	rest, err := asn1.Unmarshal(data, &raw)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(data[:len(data)-len(rest)])
}

// ParseAuth parses a signed variable update (.auth, as efitools'
// sign-efi-sig-list writes it and sbkeysync and efi-updatevar read it): an
// EFI_VARIABLE_AUTHENTICATION_2 (a 16-byte EFI_TIME, then a
// WIN_CERTIFICATE_UEFI_GUID of revision 0x0200, type WIN_CERT_TYPE_EFI_GUID
// and CertType EFI_CERT_TYPE_PKCS7_GUID, whose dwLength covers its PKCS#7
// signature) followed by the variable data, signature lists
// (ParseSignatureLists). The PKCS#7 signature is NOT checked: firmware
// checks it against PK or KEK when the update is written; here only the
// data it carries is read.
func ParseAuth(data []byte) (*Database, error) {
	const timeSize, winCertHeader = 16, 4 + 2 + 2 + 16
	if len(data) < timeSize+winCertHeader {
		return nil, &FormatError{0, fmt.Sprintf("%d bytes, fewer than an EFI_VARIABLE_AUTHENTICATION_2 header (%d)", len(data), timeSize+winCertHeader)}
	}
	w := data[timeSize:]
	length := binary.LittleEndian.Uint32(w)
	revision := binary.LittleEndian.Uint16(w[4:])
	certType := binary.LittleEndian.Uint16(w[6:])
	var guid uefi.GUID
	copy(guid[:], w[8:24])
	switch {
	case revision != 0x0200:
		return nil, &FormatError{timeSize + 4, fmt.Sprintf("WIN_CERTIFICATE wRevision %#04x, want 0x0200", revision)}
	case certType != 0x0ef1:
		return nil, &FormatError{timeSize + 6, fmt.Sprintf("WIN_CERTIFICATE wCertificateType %#04x, want WIN_CERT_TYPE_EFI_GUID (0x0ef1)", certType)}
	case guid != CertTypePKCS7:
		return nil, &FormatError{timeSize + 8, fmt.Sprintf("CertType %s, want EFI_CERT_TYPE_PKCS7_GUID", guid.String())}
	case length < winCertHeader || uint64(length) > uint64(len(w)):
		return nil, &FormatError{timeSize, fmt.Sprintf("WIN_CERTIFICATE dwLength %d outside %d..%d", length, winCertHeader, len(w))}
	}
	d, err := ParseSignatureLists(w[length:])
	if err != nil {
		var fe *FormatError
		if errors.As(err, &fe) {
			fe.Offset += timeSize + int(length)
		}
		return nil, fmt.Errorf("the variable data after the authentication header: %w", err)
	}
	return d, nil
}

// CertificateList returns the Database of one EFI_SIGNATURE_LIST holding
// cert with owner: one list per certificate, as virt-fw-vars --add-db,
// efi-updatevar -c and cert-to-efi-sig-list make them
// (eventlog.X509SignatureList).
func CertificateList(owner uefi.GUID, cert *x509.Certificate) *Database {
	d, err := ParseSignatureLists(eventlog.X509SignatureList(owner, cert.Raw))
	if err != nil { // cannot happen: the list is well-formed and cert parsed
		panic(err)
	}
	return d
}

// HashList returns the Database of one EFI_SIGNATURE_LIST holding the
// image digest with owner: EFI_CERT_SHA256, SHA384 or SHA512 by its length,
// as hash-to-efi-sig-list makes them for SHA-256.
func HashList(owner uefi.GUID, digest []byte) (*Database, error) {
	var typ uefi.GUID
	switch len(digest) {
	case 32:
		typ = CertSHA256
	case 48:
		typ = CertSHA384
	case 64:
		typ = CertSHA512
	default:
		return nil, fmt.Errorf("an image digest of %d bytes is not SHA-256/384/512", len(digest))
	}
	l, err := eventlog.SignatureList(typ, eventlog.SignatureData(owner, digest))
	if err != nil {
		return nil, err
	}
	return ParseSignatureLists(l)
}

// ReadFile reads a file of signature database contents, recognized by its
// content: PEM certificates (one list per certificate, owned by owner), a
// DER certificate (the same), a signed variable update (.auth, ParseAuth:
// a name ending in ".auth", or data that is not signature lists but parses
// as one) or EFI signature lists (ParseSignatureLists). A certificate needs owner (nil: an error);
// lists carry their own. Errors name the file.
func ReadFile(path string, owner *uefi.GUID) (*Database, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	d, err := parseFile(data, strings.EqualFold(filepath.Ext(path), ".auth"), owner)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

// ErrNoOwner is returned (wrapped) for a certificate given without an
// owner GUID: an EFI_SIGNATURE_DATA needs one.
var ErrNoOwner = errors.New("a certificate needs an owner GUID")

func parseFile(data []byte, auth bool, owner *uefi.GUID) (*Database, error) {
	var certs []*x509.Certificate
	if bytes.Contains(data, []byte("-----BEGIN")) {
		for rest := data; ; {
			var b *pem.Block
			if b, rest = pem.Decode(rest); b == nil {
				break
			}
			if b.Type != "CERTIFICATE" {
				continue
			}
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("PEM certificate %d: %w", len(certs)+1, err)
			}
			certs = append(certs, c)
		}
		if len(certs) == 0 {
			return nil, errors.New("PEM without a CERTIFICATE block")
		}
	} else if c, err := x509.ParseCertificate(data); err == nil {
		certs = []*x509.Certificate{c}
	}
	if certs != nil {
		if owner == nil {
			return nil, ErrNoOwner
		}
		d := &Database{}
		for _, c := range certs {
			d.Append(CertificateList(*owner, c))
		}
		return d, nil
	}
	if auth {
		return ParseAuth(data)
	}
	d, err := ParseSignatureLists(data)
	if err != nil {
		if a, aerr := ParseAuth(data); aerr == nil {
			return a, nil // a signed update under another name
		}
	}
	return d, err
}

// X509Certificates returns the certificates of the CertX509 entries, in
// order.
func (d *Database) X509Certificates() []*x509.Certificate {
	var out []*x509.Certificate
	for _, e := range d.Entries() {
		if e.Certificate != nil {
			out = append(out, e.Certificate)
		}
	}
	return out
}
