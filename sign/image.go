package sign

import (
	"crypto"
	_ "crypto/sha256" // SHA-256 for crypto.Hash
	_ "crypto/sha512" // SHA-384 and SHA-512 for crypto.Hash
	"fmt"
	"hash"
	"io"

	"github.com/ukibuild/ukibuild/internal/pe"
)

// copyBufSize is the size of the buffers that stream image data; memory use
// does not depend on the size of the image.
const copyBufSize = 256 << 10

// image is a PE image opened for signing or verification.
type image struct {
	r    io.ReaderAt
	size int64
	f    *pe.File
	dir  pe.DataDir // the certificate table directory entry (zero if none)

	// contentEnd is where the image content ends: the start of the
	// certificate table of a signed image, the file size of an unsigned one.
	contentEnd int64
	// entries is the certificate table walked by firmware's rules, and
	// tableErr its first defect (nil when the table is sound).
	entries  []pe.CertEntry
	tableErr error
}

// signed reports whether the image has a (non-empty) certificate table.
func (im *image) signed() bool { return im.dir.Size != 0 }

// openImage parses the headers of the PE image r and locates its
// certificate table. Defects that make the image unsignable or unverifiable
// are errors; a certificate table that firmware would reject is recorded in
// tableErr.
func openImage(r io.ReaderAt, size int64) (*image, error) {
	f, err := pe.Parse(r, size)
	if err != nil {
		return nil, err
	}
	// A section table outside SizeOfHeaders would not be covered by the
	// signature (and EDK2's loader refuses it); section data past the end
	// of the file cannot be hashed.
	if err := f.CheckSections(); err != nil {
		return nil, err
	}
	im := &image{r: r, size: size, f: f, contentEnd: size}
	if _, ok := f.SecurityDirOffset(); !ok {
		return nil, &pe.FormatError{Defect: fmt.Sprintf("the optional header has %d data directories, no certificate table entry (index 4)", f.NumberOfRvaAndSizes)}
	}
	im.dir, _ = f.Security()
	if im.dir.Size == 0 {
		return im, nil
	}
	start, end := int64(im.dir.VirtualAddress), int64(im.dir.VirtualAddress)+int64(im.dir.Size)
	switch {
	case end > size:
		return nil, &pe.FormatError{Defect: fmt.Sprintf("the certificate table at %d+%d runs past the end of the file (%d bytes): truncated file or table", start, im.dir.Size, size)}
	case end < size:
		return nil, &pe.FormatError{Defect: fmt.Sprintf("%d bytes of data follow the certificate table (which ends at %d, the file at %d); the table must be the last thing in the file", size-end, end, size)}
	case start < int64(f.SizeOfHeaders):
		return nil, &pe.FormatError{Defect: fmt.Sprintf("the certificate table at %d starts inside the headers (SizeOfHeaders %d)", start, f.SizeOfHeaders)}
	}
	im.contentEnd = start
	im.entries, im.tableErr = pe.CertTable(r, size, im.dir)
	return im, nil
}

// firmwareDigest computes the Authenticode digest of the image as it is, as
// UEFI firmware does when it verifies it: the trailing data range ends where
// the certificate table (of directory Size bytes) begins.
func (im *image) firmwareDigest(h crypto.Hash) ([]byte, error) {
	ranges, err := im.f.AuthenticodeRanges(im.contentEnd)
	if err != nil {
		return nil, err
	}
	return hashRanges(h, im.r, im.contentEnd, ranges)
}

// paddedEnd is where the certificate table of the signed output starts: the
// image content zero-padded to 8 bytes.
func (im *image) paddedEnd() int64 {
	return int64(pe.RoundUp(uint64(im.contentEnd), pe.CertTableAlignment))
}

// signingDigest computes the Authenticode digest the signed output will
// have: that of the image content zero-padded to 8 bytes, which is what
// firmware hashes once the certificate table is appended after the padding.
func (im *image) signingDigest(h crypto.Hash) ([]byte, error) {
	end := im.paddedEnd()
	ranges, err := im.f.AuthenticodeRanges(end)
	if err != nil {
		return nil, err
	}
	return hashRanges(h, im.r, im.contentEnd, ranges)
}

func hashRanges(h crypto.Hash, r io.ReaderAt, size int64, ranges []pe.Range) ([]byte, error) {
	if !h.Available() {
		return nil, fmt.Errorf("digest algorithm %v is not available", h)
	}
	hh := h.New()
	if err := pe.HashRanges(hh, r, size, ranges, make([]byte, copyBufSize)); err != nil {
		return nil, err
	}
	return hh.Sum(nil), nil
}

// ImageDigest computes the Authenticode digest of the PE image r (size bytes)
// with h (SHA-256, SHA-384 or SHA-512) exactly as UEFI firmware does when it
// checks the image: the digest a valid signature of it carries, and the
// value to put in db or dbx to allow or forbid it by hash. For an unsigned
// image whose size is not a multiple of 8 this differs from the digest of its
// signed form, which is zero-padded to 8 bytes.
func ImageDigest(r io.ReaderAt, size int64, h crypto.Hash) ([]byte, error) {
	if _, err := hashOID(h); err != nil {
		return nil, err
	}
	im, err := openImage(r, size)
	if err != nil {
		return nil, err
	}
	return im.firmwareDigest(h)
}

// MeasuredImageDigest is ImageDigest for the firmware's measurement of
// the image it starts (EV_EFI_BOOT_SERVICES_APPLICATION in PCR 4): the same
// Authenticode ranges (EDK2, SecurityPkg/Tcg/Tcg2Dxe/MeasureBootPeCoff.c),
// hashed with any available h, SHA-1 included, one per TPM bank.
func MeasuredImageDigest(r io.ReaderAt, size int64, h crypto.Hash) ([]byte, error) {
	im, err := openImage(r, size)
	if err != nil {
		return nil, err
	}
	return im.firmwareDigest(h)
}

// MeasuredImageDigests is MeasuredImageDigest for several hashes in one
// read of the image (one digest per TPM bank, and the one sign.Verify
// needs: VerifyOptions.ImageDigests).
func MeasuredImageDigests(r io.ReaderAt, size int64, hs ...crypto.Hash) ([][]byte, error) {
	im, err := openImage(r, size)
	if err != nil {
		return nil, err
	}
	ranges, err := im.f.AuthenticodeRanges(im.contentEnd)
	if err != nil {
		return nil, err
	}
	hashers := make([]hash.Hash, len(hs))
	ws := make([]io.Writer, len(hs))
	for i, h := range hs {
		if !h.Available() {
			return nil, fmt.Errorf("digest algorithm %v is not available", h)
		}
		hashers[i] = h.New()
		ws[i] = hashers[i]
	}
	if err := pe.HashRanges(io.MultiWriter(ws...), im.r, im.contentEnd, ranges, make([]byte, copyBufSize)); err != nil {
		return nil, err
	}
	out := make([][]byte, len(hs))
	for i, hh := range hashers {
		out[i] = hh.Sum(nil)
	}
	return out, nil
}

// Signed reports whether the PE image r (size bytes) has a certificate
// table, that is a non-zero certificate table directory entry: what
// "sbverify --list" reports as "No signature table present" when it has
// none. It does not check the signatures (see Verify).
func Signed(r io.ReaderAt, size int64) (bool, error) {
	f, err := pe.Parse(r, size)
	if err != nil {
		return false, err
	}
	dir, _ := f.Security()
	return dir.Size != 0, nil
}
