package secureboot

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/ukibuild/ukibuild/internal/ctxio"
	"github.com/ukibuild/ukibuild/sign"
	"github.com/ukibuild/ukibuild/uefi"
)

// Why the firmware refuses an image (Authorize wraps them in a *Refusal).
var (
	// ErrHashInDBX: the image's Authenticode digest is in dbx.
	ErrHashInDBX = errors.New("the image's digest is in dbx")
	// ErrCertificateInDBX: a signature verifies against a dbx
	// EFI_CERT_X509 certificate (its signer or a certificate of its chain).
	ErrCertificateInDBX = errors.New("a signature chains to a dbx certificate")
	// ErrCertificateHashInDBX: a signer certificate's TBSCertificate digest
	// is in dbx (EFI_CERT_X509_SHA256/384/512).
	ErrCertificateHashInDBX = errors.New("a signer certificate's digest is in dbx")
	// ErrCertificateTable: the certificate table does not add up to the
	// security directory's size.
	ErrCertificateTable = errors.New("the certificate table is malformed")
	// ErrNotAuthorized: no signature chains to a db certificate and the
	// image's digest is not in db.
	ErrNotAuthorized = errors.New("neither a db certificate nor a db digest authorizes the image")
)

// Refusal is the firmware's refusal of an image: Reason is one of the Err
// values above (errors.Is), Detail says more (which certificate, which
// digest, why each signature failed).
type Refusal struct {
	Reason error
	Detail string
}

func (r *Refusal) Error() string {
	if r.Detail == "" {
		return "refused: " + r.Reason.Error()
	}
	return "refused: " + r.Reason.Error() + ": " + r.Detail
}

func (r *Refusal) Unwrap() error { return r.Reason }

// Result is an authorized image: which db entries authorized it.
type Result struct {
	// Authorities are the db entries EDK2 records in PCR 7 as
	// EV_EFI_VARIABLE_AUTHORITY events of "db" (Entry.SignatureData), in
	// order: the X.509 entry the first authorizing signature verified
	// against, or the digest entry that holds the image's digest. An
	// unsigned image whose digests in several algorithms are all in db
	// has one entry for each, in EDK2's order (SHA-512, SHA-384, SHA-256).
	Authorities []Entry
	// ByHash is true when a db digest entry authorized the image, false
	// when a db certificate did.
	ByHash bool
	// Signature is the signature that chained to the db certificate (nil
	// when ByHash).
	Signature *sign.SignatureInfo
	// Report is the verification of the image's signatures (nil for an
	// unsigned image).
	Report *sign.Report
}

// Authorize decides whether UEFI firmware with these db and dbx variables
// runs the PE image r (size bytes), as EDK2 decides it
// (SecurityPkg/Library/DxeImageVerificationLib/DxeImageVerificationLib.c,
// DxeImageVerificationHandler, IsForbiddenByDbx, IsAllowedByDb and
// IsSignatureFoundInDatabase, edk2-stable202605):
//
// For a signed image, each certificate table entry in turn, skipping those
// whose digest algorithm is not SHA-256/384/512: a signature that verifies
// against a dbx X.509 entry, or whose signer certificate's TBSCertificate
// digest is a dbx EFI_CERT_X509_SHA* entry, refuses the image
// (ErrCertificateInDBX, ErrCertificateHashInDBX); while none has authorized
// it yet, the first db X.509 entry (in db order) the signature verifies
// against authorizes it, unless that entry's own digest is in dbx; the
// image's digest in the signature's algorithm in dbx refuses it
// (ErrHashInDBX); while not yet authorized, that digest in db authorizes it.
// A certificate table that does not add up refuses it (ErrCertificateTable);
// otherwise it runs if something authorized it (ErrNotAuthorized if not).
//
// For an unsigned image: its SHA-512, SHA-384 and SHA-256 digests, in this
// order, are looked up: one in dbx refuses it, those in db authorize it.
//
// The signatures are verified by package sign (sign.Verify, which applies
// EDK2's rules). Not modelled: dbt (EDK2 lets a signature timestamped
// before a dbx certificate digest's revocation time pass when dbt trusts
// the timestamp: here such a certificate is always revoked), SHA-1 image
// digests (sign refuses SHA-1 signatures; EDK2 builds may too), and the
// case where EDK2 reads dbx as absent or unreadable. When dbx refuses an
// image after a signature authorized it, EDK2 has already logged that
// authority in PCR 7; Authorize only reports the refusal.
//
// A refused image gives a *Refusal; a malformed image or database another
// error. r is read through ctx: once ctx is done, Authorize stops before the
// next read and returns an error matching ctx.Err() (errors.Is).
func Authorize(ctx context.Context, r io.ReaderAt, size int64, db, dbx *Database) (*Result, error) {
	r = ctxio.ReaderAt(ctx, r)
	signed, err := sign.Signed(r, size)
	if err != nil {
		return nil, err
	}
	if !signed {
		return authorizeUnsigned(r, size, db, dbx)
	}
	opts := sign.VerifyOptions{DB: db.X509Certificates()}
	for _, e := range dbx.Entries() {
		switch e.Type {
		case CertX509:
			if e.Certificate != nil {
				opts.DBX.Certificates = append(opts.DBX.Certificates, e.Certificate)
			}
		case CertX509SHA256, CertX509SHA384, CertX509SHA512:
			opts.DBX.CertificateDigests = append(opts.DBX.CertificateDigests, e.Data[:len(e.Data)-16]) // without the EFI_TIME
		}
	}
	rep, verr := sign.Verify(ctx, r, size, opts)
	if rep == nil {
		return nil, verr
	}
	res := &Result{Report: rep}
	authorized := false
	digests := map[crypto.Hash][]byte{}
	for i := range rep.Signatures {
		s := &rep.Signatures[i]
		if s.Hash != crypto.SHA256 && s.Hash != crypto.SHA384 && s.Hash != crypto.SHA512 {
			continue // HashPeImageByType fails: EDK2 skips the entry
		}
		switch {
		case errors.Is(s.Err, sign.ErrCertificateInDBX):
			return nil, &Refusal{ErrCertificateInDBX, fmt.Sprintf("signature %d: %v", s.Index, s.Err)}
		case errors.Is(s.Err, sign.ErrCertificateDigestInDBX):
			return nil, &Refusal{ErrCertificateHashInDBX, fmt.Sprintf("signature %d: %v", s.Index, s.Err)}
		}
		if !authorized && s.OK() && s.TrustedBy != nil {
			for _, e := range db.Entries() {
				if e.Certificate != nil && e.Certificate.Equal(s.TrustedBy) {
					res.Authorities = []Entry{e}
					res.Signature = s
					authorized = true
					break
				}
			}
		}
		d, ok := digests[s.Hash]
		if !ok {
			if d, err = sign.ImageDigest(r, size, s.Hash); err != nil {
				return nil, err
			}
			digests[s.Hash] = d
		}
		if e, ok := findDigest(dbx, d); ok {
			return nil, &Refusal{ErrHashInDBX, fmt.Sprintf("%v %x (dbx entry of owner %s)", s.Hash, d, e.Owner)}
		}
		if !authorized {
			if e, ok := findDigest(db, d); ok {
				res.Authorities = []Entry{e}
				res.ByHash = true
				authorized = true
			}
		}
	}
	if rep.TableErr != nil {
		return nil, &Refusal{ErrCertificateTable, rep.TableErr.Error()}
	}
	if !authorized {
		detail := ""
		if verr != nil {
			detail = verr.Error()
		}
		return nil, &Refusal{ErrNotAuthorized, detail}
	}
	return res, nil
}

func authorizeUnsigned(r io.ReaderAt, size int64, db, dbx *Database) (*Result, error) {
	res := &Result{ByHash: true}
	for _, h := range []crypto.Hash{crypto.SHA512, crypto.SHA384, crypto.SHA256} {
		d, err := sign.ImageDigest(r, size, h)
		if err != nil {
			return nil, err
		}
		if e, ok := findDigest(dbx, d); ok {
			return nil, &Refusal{ErrHashInDBX, fmt.Sprintf("unsigned image, %v %x (dbx entry of owner %s)", h, d, e.Owner)}
		}
		if e, ok := findDigest(db, d); ok {
			res.Authorities = append(res.Authorities, e)
		}
	}
	if len(res.Authorities) == 0 {
		return nil, &Refusal{ErrNotAuthorized, "the image is unsigned and none of its digests is in db"}
	}
	return res, nil
}

// findDigest returns the first entry of d holding the image digest dg: an
// EFI_CERT_SHA256/384/512 entry of dg's length (IsSignatureFoundInDatabase
// compares entries of the list type of the digest's algorithm).
func findDigest(d *Database, dg []byte) (Entry, bool) {
	var typ uefi.GUID
	switch len(dg) {
	case 32:
		typ = CertSHA256
	case 48:
		typ = CertSHA384
	case 64:
		typ = CertSHA512
	default:
		return Entry{}, false
	}
	for _, e := range d.Entries() {
		if e.Type == typ && bytes.Equal(e.Data, dg) {
			return e, true
		}
	}
	return Entry{}, false
}

// AuthorizeFile is Authorize for the PE image at path; errors name the file.
func AuthorizeFile(ctx context.Context, path string, db, dbx *Database) (*Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	res, err := Authorize(ctx, f, st.Size(), db, dbx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return res, nil
}

// Certificates returns the certificates of the authorizing X.509 entries.
func (r *Result) Certificates() []*x509.Certificate {
	var out []*x509.Certificate
	for _, e := range r.Authorities {
		if e.Certificate != nil {
			out = append(out, e.Certificate)
		}
	}
	return out
}
