// Package shim predicts what shim, the first-stage UEFI boot loader of
// rhboot/shim that distributions ship signed by Microsoft's third-party
// CA, measures into the TPM when it starts and when it verifies the image
// it loads next (grubx64.efi, grubaa64.efi on arm64: a UKI, systemd-boot).
// Builds for x86-64 (shimx64.efi) and arm64 (shimaa64.efi) are read alike;
// what differs between them, such as Debian's per-architecture built-in
// dbx, is read from the image.
//
// Read (or Open) takes from the shim image itself what its measurements
// depend on: its version (.data.ident), its built-in certificate and
// deny list (.vendor_cert), its SBAT levels (.sbatlevel) and its own SBAT
// data (.sbat). A Boot combines it with the machine's state (Machine:
// Secure Boot, db, dbx, and shim's variables MokList, MokListX,
// MokListTrusted, MokSBState, MokDBState, MokPolicy, SbatLevel,
// SbatPolicy; by default none: a fresh install with no MOK enrolled) and
// predicts, in shim's order:
//
//   - Startup: PCR 14 EV_IPL events "MokList", "MokListX",
//     "MokListTrusted" (and "MokSBState", "MokPolicy" when set), and PCR
//     7 EV_EFI_VARIABLE_AUTHORITY events "SbatLevel" (and "MokSBState");
//   - Verify: for each image shim verifies, the PCR 7
//     EV_EFI_VARIABLE_AUTHORITY event of the entry that authorized it:
//     "db", "vendor_db", "MokListRT" or "Shim" (its built-in
//     certificate), measured once per boot; or shim's refusal (it prints
//     "Verification failed: (0x1A) Security Violation").
//
// shim also measures the image it starts into PCR 4 as
// EV_EFI_BOOT_SERVICES_APPLICATION with the firmware computing its
// Authenticode digest (eventlog.ImageApplication predicts it), and the firmware
// measures shim itself (PCR 4, and its own PCR 7 db authority event).
//
// What shim measures depends on its version: only the versions in
// SupportedVersions, whose source (rhboot/shim tag 16.1: mok.c, tpm.c,
// verify.c, sbat.c, shim.c) and recorded boots were examined, are
// predicted; others are refused (*VersionError). Not modelled: shim's
// unbundled trust files (revocations.efi, shim_certificate.efi on the
// ESP), variables with attributes shim rejects (it deletes them), MokManager
// and fallback, and TPM 1.2.
package shim
