// Package efi holds the UEFI definitions that ukibuild's public packages
// share, so that a caller names each of them one way:
//
//   - [FormatError], the error for a file that is not a valid PE/COFF
//     image (the UEFI executable format), which uki, sign, pcr and attest
//     return, wrapped, for a malformed stub, kernel, add-on or UKI; a
//     caller finds it with errors.As.
package efi
