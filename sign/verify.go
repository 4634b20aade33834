package sign

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	encasn1 "encoding/asn1"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/ukibuild/ukibuild/internal/ctxio"
	"github.com/ukibuild/ukibuild/internal/pe"
	"github.com/ukibuild/ukibuild/uefi"
)

// VerifyOptions say what to verify signatures against.
type VerifyOptions struct {
	// DB lists the trusted certificates (the UEFI db). A signature is
	// trusted when its signer certificate is one of them or chains to one
	// through the embedded certificates; as in firmware, partial chains
	// (an intermediate in db) are fine and validity periods and key usages
	// are not checked. When DB is empty, signatures are checked for
	// integrity only (digest, messageDigest, signature by the embedded
	// signer certificate).
	DB []*x509.Certificate
	// DBX lists what is forbidden (the UEFI dbx).
	DBX DBX
	// ImageDigests are the image's Authenticode digests the caller has
	// already computed (MeasuredImageDigests), by hash: Verify uses them
	// instead of reading the image again. They must be the digests of
	// this image; a wrong one gives a wrong verdict.
	ImageDigests map[crypto.Hash][]byte
}

// DBX lists forbidden images and certificates.
type DBX struct {
	// ImageDigests are Authenticode digests of forbidden images
	// (EFI_CERT_SHA256/384/512; the algorithm follows from the length).
	ImageDigests [][]byte
	// Certificates are forbidden certificates (EFI_CERT_X509): a signature
	// that chains to one of them forbids the image.
	Certificates []*x509.Certificate
	// CertificateDigests are digests of forbidden certificates' TBSCertificate
	// (EFI_CERT_X509_SHA256/384/512, without the revocation time that
	// follows the digest in such an entry; the algorithm follows from the
	// length). A signature whose signer certificate has one of these
	// digests forbids the image; a db certificate that has one does not
	// authorize (EDK2's IsForbiddenByDbx and IsAllowedByDb, which check
	// the signers of PKCS7_get0_signers and the db certificate; EDK2 then
	// lets a timestamp older than the revocation time pass, given a dbt:
	// dbt is not modelled, so such a certificate is always revoked).
	CertificateDigests [][]byte
}

// certificateRevoked reports whether c's TBSCertificate hashes to one of digests.
func (d DBX) certificateRevoked(c *x509.Certificate) bool {
	for _, want := range d.CertificateDigests {
		h := hashForSize(len(want))
		if h == 0 {
			continue
		}
		hh := h.New()
		hh.Write(c.RawTBSCertificate)
		if bytes.Equal(hh.Sum(nil), want) {
			return true
		}
	}
	return false
}

// SignatureInfo describes one entry of an image's certificate table.
type SignatureInfo struct {
	Index    int    // position in the certificate table
	Offset   int64  // file offset of the WIN_CERTIFICATE entry
	Revision uint16 // wRevision
	Type     uint16 // wCertificateType

	Hash         crypto.Hash         // digest algorithm (0 if unknown)
	Signer       *x509.Certificate   // the signer's certificate, if found
	Certificates []*x509.Certificate // the embedded certificates
	SigningTime  time.Time           // the signingTime attribute, if any
	// TrustedBy is the db certificate the signature chains to (nil when
	// VerifyOptions.DB is empty or it chains to none).
	TrustedBy *x509.Certificate
	// Err says why the signature does not verify (nil: it does).
	Err error
}

// OK reports whether the signature verified.
func (s *SignatureInfo) OK() bool { return s.Err == nil }

// Subject returns the signer's subject, or "" when the signer is unknown.
func (s *SignatureInfo) Subject() string {
	if s.Signer == nil {
		return ""
	}
	return s.Signer.Subject.String()
}

// Report is the outcome of verifying an image.
type Report struct {
	Signatures []SignatureInfo
	// TableErr is a defect of the certificate table as a whole (firmware
	// then rejects the image whatever its signatures).
	TableErr error
	// Forbidden says why dbx forbids the image (nil if it does not).
	Forbidden error
}

// ErrNotSigned is returned (wrapped) when an image has no signature.
var ErrNotSigned = errors.New("the image is not signed")

// Verify checks the signatures of the PE image r (size bytes) by the rules
// UEFI firmware applies (EDK2's DxeImageVerificationLib and
// AuthenticodeVerify): the certificate table walk must add up to the
// directory Size; each signature must have the DER layout EDK2 parses (30 82
// lengths, the digest algorithm OID at offset 32, SpcIndirectDataContent
// content), an image digest equal to the image's, a messageDigest over the
// SpcIndirectDataContent content, an RSA PKCS#1 v1.5 signature of the
// authenticated attributes by the embedded signer certificate, and a chain to
// a db certificate (when opts.DB is given); dbx entries forbid the image.
//
// The report lists every certificate table entry with its defect; the error
// is nil when firmware with this db and dbx would run the image: at least one
// signature verifies and nothing is forbidden. Otherwise it is a *VerifyError
// whose Reason says why (as is each SignatureInfo.Err), or, when r is not a
// valid PE image, an *uefi.FormatError (errors.As finds either). The image
// is read through ctx: once it is cancelled, Verify stops with its error.
func Verify(ctx context.Context, r io.ReaderAt, size int64, opts VerifyOptions) (*Report, error) {
	im, err := openImage(ctxio.ReaderAt(ctx, r), size)
	if err != nil {
		return nil, err
	}
	rep := &Report{TableErr: im.tableErr}
	digests := map[crypto.Hash][]byte{}
	for h, d := range opts.ImageDigests {
		digests[h] = d
	}
	digest := func(h crypto.Hash) ([]byte, error) {
		if d, ok := digests[h]; ok {
			return d, nil
		}
		d, err := im.firmwareDigest(h)
		if err != nil {
			return nil, err
		}
		digests[h] = d
		return d, nil
	}
	for _, d := range opts.DBX.ImageDigests {
		h := hashForSize(len(d))
		if h == 0 {
			return nil, because(ReasonOther, fmt.Errorf("a dbx image digest of %d bytes is not SHA-256/384/512", len(d)))
		}
		id, err := digest(h)
		if err != nil {
			return nil, because(ReasonOther, err)
		}
		if bytes.Equal(id, d) {
			rep.Forbidden = because(ReasonImageDigestInDBX, fmt.Errorf("%w: %v %x", ErrImageDigestInDBX, h, d))
		}
	}
	if !im.signed() {
		if rep.Forbidden != nil {
			return rep, rep.Forbidden
		}
		return rep, because(ReasonNotSigned, ErrNotSigned)
	}

	for i, e := range im.entries {
		info := SignatureInfo{Index: i, Offset: e.Offset, Revision: e.Revision, Type: e.Type}
		info.Err = verifyEntry(&info, im, e, digest, opts)
		if errors.Is(info.Err, errForbidden) && rep.Forbidden == nil {
			rep.Forbidden = info.Err
		}
		rep.Signatures = append(rep.Signatures, info)
	}
	return rep, rep.verdict(len(opts.DB) > 0)
}

// ErrForbidden is returned (wrapped) when dbx forbids an image; the
// errors below, which wrap it, say why.
var ErrForbidden = errors.New("forbidden by dbx")

// Why dbx forbids an image (each wraps ErrForbidden).
var (
	// ErrImageDigestInDBX: the image's Authenticode digest is in dbx.
	ErrImageDigestInDBX = fmt.Errorf("%w: the image's digest is in dbx", ErrForbidden)
	// ErrCertificateInDBX: a signature chains to a dbx certificate
	// (EFI_CERT_X509 entry): its signer or a certificate of its chain.
	ErrCertificateInDBX = fmt.Errorf("%w: a signature chains to a dbx certificate", ErrForbidden)
	// ErrCertificateDigestInDBX: a signer certificate's TBSCertificate
	// digest is in dbx (DBX.CertificateDigests).
	ErrCertificateDigestInDBX = fmt.Errorf("%w: a signer certificate's digest is in dbx", ErrForbidden)
)

// errForbidden is the name the tests use.
var errForbidden = ErrForbidden

// joinedError is the message of a ReasonNoValidSignature error, which
// wraps each signature's error (so errors.Is and errors.As look at them
// too).
type joinedError struct {
	msg  string
	errs []error
}

func (e *joinedError) Error() string   { return e.msg }
func (e *joinedError) Unwrap() []error { return e.errs }

// verdict summarises the report as firmware decides.
func (rep *Report) verdict(haveDB bool) error {
	if rep.TableErr != nil {
		return because(ReasonCertificateTable, fmt.Errorf("firmware rejects the certificate table: %w", rep.TableErr))
	}
	if rep.Forbidden != nil {
		return rep.Forbidden
	}
	var reasons []string
	var errs []error
	for i := range rep.Signatures {
		s := &rep.Signatures[i]
		if s.OK() {
			return nil
		}
		reasons = append(reasons, fmt.Sprintf("signature %d: %v", s.Index, s.Err))
		errs = append(errs, s.Err)
	}
	what := "no signature verifies"
	if haveDB {
		what = "no signature verifies against db"
	}
	if len(reasons) == 0 {
		return because(ReasonNoValidSignature, fmt.Errorf("%s: the certificate table is empty", what))
	}
	return &VerifyError{ReasonNoValidSignature, &joinedError{fmt.Sprintf("%s (%s)", what, strings.Join(reasons, "; ")), errs}}
}

func hashForSize(n int) crypto.Hash {
	switch n {
	case 32:
		return crypto.SHA256
	case 48:
		return crypto.SHA384
	case 64:
		return crypto.SHA512
	}
	return 0
}

// verifyEntry checks one certificate table entry and fills info.
func verifyEntry(info *SignatureInfo, im *image, e pe.CertEntry, digest func(crypto.Hash) ([]byte, error), opts VerifyOptions) error {
	data := make([]byte, e.DataLen())
	if err := pe.ReadFullAt(im.r, data, e.DataOffset()); err != nil {
		return because(ReasonOther, fmt.Errorf("reading the entry at offset %d: %w", e.Offset, err))
	}
	switch e.Type {
	case pe.WinCertTypePKCSSigned:
	case pe.WinCertTypeEFIGUID:
		if len(data) < 16 || !bytes.Equal(data[:16], uefi.CertTypePKCS7[:]) {
			return because(ReasonSkippedType, errors.New("a WIN_CERTIFICATE_UEFI_GUID entry whose type is not EFI_CERT_TYPE_PKCS7_GUID; firmware skips it"))
		}
		data = data[16:]
	default:
		return because(ReasonSkippedType, fmt.Errorf("certificate type %#04x is not PKCS_SIGNED_DATA; firmware skips it", e.Type))
	}
	sig, err := parseSignature(data)
	if err != nil {
		return because(ReasonMalformed, err)
	}
	info.Hash = sig.edk2Hash
	info.Certificates = sig.certs
	info.SigningTime = sig.signingTime
	info.Signer = sig.signer()

	if sig.edk2Hash == crypto.SHA1 || sig.signerHash == crypto.SHA1 {
		return because(ReasonSHA1, errors.New("SHA-1 digests are not accepted"))
	}
	// EDK2's IsForbiddenByDbx looks the signer certificates up in dbx
	// before any signature check (Pkcs7GetSigners does not verify).
	if info.Signer != nil && opts.DBX.certificateRevoked(info.Signer) {
		return because(ReasonCertificateDigestInDBX, fmt.Errorf("%w: the signer %q", ErrCertificateDigestInDBX, info.Signer.Subject))
	}
	if sig.idcDigestHash != sig.edk2Hash {
		return because(ReasonDigestAlgorithm, fmt.Errorf("the SpcIndirectDataContent digest is %v but SignedData names %v", sig.idcDigestHash, sig.edk2Hash))
	}
	d, err := digest(sig.edk2Hash)
	if err != nil {
		return because(ReasonOther, err)
	}
	// EDK2 compares the last digest-size bytes of the content.
	if len(sig.idcContent) < len(d) {
		return because(ReasonMalformed, errors.New("the SpcIndirectDataContent is shorter than the image digest"))
	}
	tail := sig.idcContent[len(sig.idcContent)-len(d):]
	if !bytes.Equal(tail, d) {
		return because(ReasonImageDigest, fmt.Errorf("image digest mismatch: the signature is for %v %x, the image hashes to %x (modified after signing)", sig.edk2Hash, tail, d))
	}
	hh := sig.signerHash.New()
	hh.Write(sig.idcContent)
	if !bytes.Equal(hh.Sum(nil), sig.messageDigest) {
		return because(ReasonMessageDigest, errors.New("the messageDigest attribute does not match the SpcIndirectDataContent"))
	}
	if info.Signer == nil {
		return because(ReasonSignerMissing, errors.New("the signer's certificate (issuerAndSerialNumber) is not embedded"))
	}
	if err := checkSignatureAlgorithm(sig.sigAlg); err != nil {
		return err
	}
	pub, ok := info.Signer.PublicKey.(*rsa.PublicKey)
	if !ok {
		return because(ReasonUnsupportedAlgorithm, fmt.Errorf("the signer certificate %q has a %v key; firmware accepts RSA only", info.Signer.Subject, info.Signer.PublicKeyAlgorithm))
	}
	hh = sig.signerHash.New()
	if sig.hasAttrs {
		hh.Write(setOf(sig.attrs))
	} else {
		hh.Write(sig.idcContent)
	}
	if err := rsa.VerifyPKCS1v15(pub, sig.signerHash, hh.Sum(nil), sig.sig); err != nil {
		return because(ReasonBadSignature, fmt.Errorf("bad signature by %q: %w", info.Signer.Subject, err))
	}
	for _, c := range opts.DBX.Certificates {
		if chainTo(info.Signer, sig.certs, []*x509.Certificate{c}) != nil {
			return because(ReasonCertificateInDBX, fmt.Errorf("%w: %q", ErrCertificateInDBX, c.Subject))
		}
	}
	if len(opts.DB) > 0 {
		// EDK2's IsAllowedByDb tries the db certificates in db order, each
		// as the only trusted root, and takes the first the signature
		// verifies against; if that one's digest is in dbx, the signature
		// does not authorize (it tries no further db certificate).
		for _, c := range opts.DB {
			if chainTo(info.Signer, sig.certs, []*x509.Certificate{c}) != nil {
				info.TrustedBy = c
				break
			}
		}
		if info.TrustedBy == nil {
			return because(ReasonUntrusted, fmt.Errorf("the signer %q does not chain to any db certificate", info.Signer.Subject))
		}
		if opts.DBX.certificateRevoked(info.TrustedBy) {
			c := info.TrustedBy
			info.TrustedBy = nil
			return because(ReasonDBCertificateRevoked, fmt.Errorf("the db certificate %q the signer chains to is revoked: its digest is in dbx", c.Subject))
		}
	}
	return nil
}

// setOf returns the DER of the authenticated attributes with the SET OF tag
// (0x31) instead of [0] IMPLICIT, the bytes the signature covers.
func setOf(content []byte) []byte {
	var hdr []byte
	n := len(content)
	switch {
	case n < 0x80:
		hdr = []byte{0x31, byte(n)}
	case n < 0x100:
		hdr = []byte{0x31, 0x81, byte(n)}
	case n < 0x10000:
		hdr = []byte{0x31, 0x82, byte(n >> 8), byte(n)}
	default:
		hdr = []byte{0x31, 0x83, byte(n >> 16), byte(n >> 8), byte(n)}
	}
	return append(hdr, content...)
}

func checkSignatureAlgorithm(oid encasn1.ObjectIdentifier) error {
	switch {
	case oid.Equal(oidRSAEncryption), oid.Equal(oidSHA256WithRSA), oid.Equal(oidSHA384WithRSA), oid.Equal(oidSHA512WithRSA):
		return nil
	case oid.Equal(oidRSASSAPSS):
		return because(ReasonUnsupportedAlgorithm, fmt.Errorf("%w: an RSA-PSS signature; UEFI firmware (EDK2/OVMF) rejects RSA-PSS", ErrUnsupportedKey))
	case len(oid) > 4 && oid[:4].Equal(oidECPublicKey[:4]): // 1.2.840.10045: ecdsa-with-*
		return because(ReasonUnsupportedAlgorithm, fmt.Errorf("%w: an ECDSA signature; UEFI firmware (EDK2/OVMF) rejects ECDSA", ErrUnsupportedKey))
	case oid.Equal(oidSHA1WithRSA):
		return because(ReasonSHA1, errors.New("a SHA-1 RSA signature is not accepted"))
	}
	return because(ReasonUnsupportedAlgorithm, fmt.Errorf("signature algorithm %v is not RSA PKCS#1 v1.5", oid))
}

// maxChainDepth bounds the certificates between a signer and its anchor.
const maxChainDepth = 8

// chainTo returns the anchor that leaf is, or chains to through pool and
// anchors (issuer name match and a valid signature at each step, as OpenSSL
// builds chains with X509_V_FLAG_PARTIAL_CHAIN; no time checks), or nil.
// The search is breadth-first and visits each certificate once, so a
// signature embedding many certificates that all issue each other costs at
// most one signature check per pair of certificates, not one per path.
func chainTo(leaf *x509.Certificate, pool, anchors []*x509.Certificate) *x509.Certificate {
	isAnchor := func(c *x509.Certificate) *x509.Certificate {
		for _, a := range anchors {
			if bytes.Equal(a.Raw, c.Raw) {
				return a
			}
		}
		return nil
	}
	seen := map[string]bool{string(leaf.Raw): true}
	level := []*x509.Certificate{leaf}
	for depth := 0; len(level) > 0; depth++ {
		for _, c := range level {
			if a := isAnchor(c); a != nil {
				return a
			}
		}
		if depth >= maxChainDepth {
			return nil
		}
		var next []*x509.Certificate
		for _, c := range level {
			for _, set := range [][]*x509.Certificate{anchors, pool} {
				for _, p := range set {
					if seen[string(p.Raw)] || !bytes.Equal(p.RawSubject, c.RawIssuer) {
						continue
					}
					if c.CheckSignatureFrom(p) != nil {
						continue
					}
					seen[string(p.Raw)] = true
					next = append(next, p)
				}
			}
		}
		level = next
	}
	return nil
}

// VerifyFile verifies the PE image at path (see Verify); errors name the
// file.
func VerifyFile(ctx context.Context, path string, opts VerifyOptions) (*Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	rep, err := Verify(ctx, f, st.Size(), opts)
	if err != nil {
		return rep, fmt.Errorf("%s: %w", path, pe.NameFile(err, path))
	}
	return rep, nil
}

// ChainsTo reports whether the signature verified (integrity: digest and
// signature by its signer) and its signer is anchor or chains to anchor
// through the certificates embedded in the signature, with anchor as the
// only trusted root: what a verifier that takes one trusted certificate at a
// time (shim's AuthenticodeVerify against each db or MokList entry) checks.
func (s *SignatureInfo) ChainsTo(anchor *x509.Certificate) bool {
	if s.Err != nil || s.Signer == nil || anchor == nil {
		return false
	}
	return chainTo(s.Signer, s.Certificates, []*x509.Certificate{anchor}) != nil
}
