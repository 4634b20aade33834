package sign

import "fmt"

// Reason says why Verify rejects an image or one of its signatures. The
// error Verify returns, and each SignatureInfo.Err, is (or wraps) a
// *VerifyError carrying one; errors.As finds it.
type Reason int

// The reasons. An image-level reason (ReasonNotSigned,
// ReasonCertificateTable, ReasonNoValidSignature, a dbx reason) is that of
// the error Verify returns; the others are those of SignatureInfo.Err.
const (
	// ReasonOther: a defect not listed below (reading the image failed,
	// a dbx digest of an unknown size).
	ReasonOther Reason = iota
	// ReasonNotSigned: the image has no signature (wraps ErrNotSigned).
	ReasonNotSigned
	// ReasonCertificateTable: the certificate table as a whole is
	// defective (Report.TableErr); firmware rejects the image.
	ReasonCertificateTable
	// ReasonNoValidSignature: no signature verifies (against db, when
	// given); each SignatureInfo.Err says why.
	ReasonNoValidSignature
	// ReasonSkippedType: the entry is of a type firmware skips (not
	// PKCS_SIGNED_DATA, or a UEFI_GUID entry that is not PKCS#7).
	ReasonSkippedType
	// ReasonMalformed: the PKCS#7 SignedData does not parse as EDK2
	// reads it.
	ReasonMalformed
	// ReasonSHA1: SHA-1 digests or a SHA-1 signature.
	ReasonSHA1
	// ReasonDigestAlgorithm: the SpcIndirectDataContent digest algorithm
	// differs from the one SignedData names.
	ReasonDigestAlgorithm
	// ReasonImageDigest: the signature is for another image (modified
	// after signing).
	ReasonImageDigest
	// ReasonMessageDigest: the messageDigest attribute does not match the
	// SpcIndirectDataContent.
	ReasonMessageDigest
	// ReasonSignerMissing: the signer's certificate is not embedded.
	ReasonSignerMissing
	// ReasonUnsupportedAlgorithm: not an RSA PKCS#1 v1.5 signature, or
	// the signer's key is not RSA (wraps ErrUnsupportedKey where the
	// algorithm is one firmware rejects: ECDSA, RSA-PSS).
	ReasonUnsupportedAlgorithm
	// ReasonBadSignature: the RSA signature does not verify.
	ReasonBadSignature
	// ReasonUntrusted: the signer does not chain to any db certificate.
	ReasonUntrusted
	// ReasonDBCertificateRevoked: the db certificate the signer chains to
	// has its digest in dbx.
	ReasonDBCertificateRevoked
	// ReasonImageDigestInDBX: the image's digest is in dbx (wraps
	// ErrImageDigestInDBX).
	ReasonImageDigestInDBX
	// ReasonCertificateInDBX: a signature chains to a dbx certificate
	// (wraps ErrCertificateInDBX).
	ReasonCertificateInDBX
	// ReasonCertificateDigestInDBX: a signer certificate's digest is in
	// dbx (wraps ErrCertificateDigestInDBX).
	ReasonCertificateDigestInDBX
)

var reasonNames = [...]string{
	ReasonOther:                  "other",
	ReasonNotSigned:              "not signed",
	ReasonCertificateTable:       "certificate table",
	ReasonNoValidSignature:       "no valid signature",
	ReasonSkippedType:            "skipped type",
	ReasonMalformed:              "malformed",
	ReasonSHA1:                   "SHA-1",
	ReasonDigestAlgorithm:        "digest algorithm",
	ReasonImageDigest:            "image digest",
	ReasonMessageDigest:          "message digest",
	ReasonSignerMissing:          "signer missing",
	ReasonUnsupportedAlgorithm:   "unsupported algorithm",
	ReasonBadSignature:           "bad signature",
	ReasonUntrusted:              "untrusted",
	ReasonDBCertificateRevoked:   "db certificate revoked",
	ReasonImageDigestInDBX:       "image digest in dbx",
	ReasonCertificateInDBX:       "certificate in dbx",
	ReasonCertificateDigestInDBX: "certificate digest in dbx",
}

// String returns a short name ("image digest", "untrusted", ...).
func (r Reason) String() string {
	if r >= 0 && int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return fmt.Sprintf("Reason(%d)", int(r))
}

// VerifyError is why Verify rejects an image or a signature. Its message is
// that of Err, which holds the details (subjects, digests, offsets).
type VerifyError struct {
	Reason Reason
	Err    error
}

func (e *VerifyError) Error() string {
	if e.Err == nil {
		return "verification failed: " + e.Reason.String()
	}
	return e.Err.Error()
}

// Unwrap returns Err, so errors.Is finds the sentinels it wraps
// (ErrNotSigned, ErrForbidden, ErrUnsupportedKey, ...).
func (e *VerifyError) Unwrap() error { return e.Err }

// because returns err as a *VerifyError of reason r (nil stays nil; an
// error that already is a *VerifyError is kept).
func because(r Reason, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := err.(*VerifyError); ok {
		return err
	}
	return &VerifyError{Reason: r, Err: err}
}
