// Package uefi holds the UEFI definitions that ukibuild's public packages
// share, so that a caller names each of them one way:
//
//   - [GUID], an EFI_GUID in the byte order firmware stores it, with its
//     text form; the signature lists, variables and event-log data of
//     packages pcr, secureboot and attest use it.
//   - [FormatError], the error for a file that is not a valid PE/COFF
//     image (the UEFI executable format), which uki, sign, pcr and attest
//     return, wrapped, for a malformed stub, kernel, add-on or UKI; a
//     caller finds it with errors.As.
package uefi
