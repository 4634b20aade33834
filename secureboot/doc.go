// Package secureboot reads UEFI Secure Boot signature databases (PK, KEK,
// db, dbx) and decides, as UEFI firmware does, whether an image may run and
// which db entry authorizes it.
//
// A Database holds the EFI_SIGNATURE_LISTs of a variable as the firmware
// stores them (Bytes: what PCR 7's EV_EFI_VARIABLE_DRIVER_CONFIG event
// measures) and their entries in order. It is read from .esl files
// (ParseSignatureLists), from signed variable updates (.auth, ParseAuth; the
// update's signature is not checked) or made from certificates with an
// owner GUID (CertificateList; ReadFile recognizes all of these).
//
// Authorize applies EDK2's image verification (DxeImageVerificationLib) to a
// PE image with a db and a dbx: dbx digests, certificates and certificate
// digests refuse it (a *Refusal matching ErrHashInDBX,
// ErrCertificateInDBX, ...); else the first signature that chains to a db
// certificate, or the image's digest in db, authorizes it, and
// Result.Authorities are the db entries the firmware then logs in PCR 7
// (for eventlog.PCR7Events). The signatures are verified by package sign.
package secureboot
