// Package sign signs and verifies PE images (UEFI applications such as
// Unified Kernel Images) with Authenticode signatures for UEFI Secure Boot.
//
// Signing computes the image's Authenticode digest as UEFI firmware does
// (EDK2's DxeImageVerificationLib; "Windows Authenticode Portable Executable
// Signature Format"), wraps it in a PKCS#7 SignedData with an
// SpcIndirectDataContent, signs the authenticated attributes with an RSA key
// (PKCS#1 v1.5; any crypto.Signer, so keys in tokens work), and appends the
// signature as a WIN_CERTIFICATE entry to the image's certificate table,
// fixing up the certificate table directory entry and the PE checksum. The
// image is streamed: memory use does not depend on its size.
//
// By default (ProfileDefault) signatures are reproducible: the same image,
// key and options give the same bytes, since the only authenticated
// attributes are contentType and messageDigest (and signingTime only when
// Options.SigningTime is set; see SourceDateEpoch). ProfileSbsign,
// ProfileOsslsigncode and ProfileSystemdSbsign reproduce sbsign's,
// osslsigncode's and systemd-sbsign's output byte for byte, given their
// signing time.
//
// The encoding meets what EDK2 parses by fixed offsets: ContentInfo, its [0]
// and SignedData with two-byte lengths (30 82 LL LL), hence the digest
// algorithm OID at offset 32; the image digest at the end of
// SpcIndirectDataContent; messageDigest over the content octets of
// SpcIndirectDataContent (without its tag and length).
//
// ECDSA and RSA-PSS are refused: EDK2/OVMF verify Secure Boot signatures with
// RSA PKCS#1 v1.5 only.
//
// For signers that can only sign a hash (offline or remote signing), NewRequest
// prepares everything, Request.SignedAttributes gives the bytes to sign and
// Request.Attach builds the signature from the result;
// Request.AdoptSignedAttributes lets a later session take the bytes an
// earlier one exported (with their signing time). With ProfileSystemdSbsign
// these are the files of systemd-sbsign's --prepare-offline-signing and
// --signed-data.
//
// Verify checks signatures by firmware's rules against a db (trusted
// certificates) and a dbx (forbidden image digests and certificates), and
// lists every entry of the certificate table with its defect.
package sign
