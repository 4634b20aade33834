package kernel

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Sentinel errors. Errors returned by this package wrap one of these where
// applicable and carry a message naming the defect.
var (
	// ErrUnknownFormat: the magic number matches no known kernel format.
	ErrUnknownFormat = errors.New("unknown kernel file format")
	// ErrUnsupported: the format is recognised but cannot be decompressed
	// (LZO, xz filters other than LZMA2, unknown zboot compression type).
	ErrUnsupported = errors.New("unsupported kernel compression")
	// ErrLimit: the decompressed data exceeds Options.Limit.
	ErrLimit = errors.New("decompressed kernel exceeds size limit")
	// ErrCorrupt: the compressed data or a header is truncated or invalid.
	ErrCorrupt = errors.New("corrupt kernel image")
)

// Format identifies the container or compression format of a kernel file.
type Format int

// Known formats. The magic numbers are those checked by ukify's
// maybe_decompress, in the same order, with xz added at the end.
const (
	FormatUnknown   Format = iota
	FormatELF              // "\x7fELF": uncompressed ELF (vmlinux)
	FormatPE               // "MZ": uncompressed PE/EFI image (not zboot)
	FormatZboot            // "MZ" with "zimg" at offset 4: EFI zboot image
	FormatGzip             // 1f 8b
	FormatZstd             // 28 b5 2f fd
	FormatLZ4Legacy        // 02 21 4c 18: lz4 legacy format (what Linux uses)
	FormatLZ4Frame         // 04 22 4d 18: lz4 frame format
	FormatLZO              // "\x89LZO": recognised but unsupported
	FormatBzip2            // "BZh"
	FormatLZMA             // 5d 00 00: lzma-alone (.lzma)
	FormatXZ               // fd 37 7a 58 5a 00: xz (not handled by ukify)
)

var formatNames = [...]string{
	FormatUnknown:   "unknown",
	FormatELF:       "ELF",
	FormatPE:        "PE",
	FormatZboot:     "EFI zboot",
	FormatGzip:      "gzip",
	FormatZstd:      "zstd",
	FormatLZ4Legacy: "lz4 (legacy)",
	FormatLZ4Frame:  "lz4 (frame)",
	FormatLZO:       "lzo",
	FormatBzip2:     "bzip2",
	FormatLZMA:      "lzma",
	FormatXZ:        "xz",
}

// String returns a short human-readable name of the format.
func (f Format) String() string {
	if f >= 0 && int(f) < len(formatNames) {
		return formatNames[f]
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// Compressed reports whether f is a compression format that Decompress
// handles (or, for LZO, recognises). ELF, PE and zboot are containers, not
// compression formats; zboot is nevertheless accepted by Decompress.
func (f Format) Compressed() bool {
	switch f {
	case FormatGzip, FormatZstd, FormatLZ4Legacy, FormatLZ4Frame, FormatLZO,
		FormatBzip2, FormatLZMA, FormatXZ:
		return true
	}
	return false
}

var xzMagic = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}

// readAtMost reads up to n bytes at off, returning fewer at end of input.
// Only real I/O errors are returned.
func readAtMost(r io.ReaderAt, off int64, n int) ([]byte, error) {
	if off < 0 {
		return nil, nil
	}
	buf := make([]byte, n)
	k, err := r.ReadAt(buf, off)
	if err != nil && !errors.Is(err, io.EOF) {
		if k == len(buf) {
			return buf, nil
		}
		return nil, fmt.Errorf("reading %d bytes at offset %#x: %w", n, off, err)
	}
	return buf[:k], nil
}

// Detect identifies the format of a kernel file by its first bytes, in the
// order used by ukify's maybe_decompress (ELF, MZ/zboot, gzip, zstd, lz4
// legacy, lz4 frame, LZO, bzip2, lzma), then xz. A file matching none of
// them yields FormatUnknown and an error wrapping ErrUnknownFormat that
// quotes the first four bytes, as ukify does.
func Detect(r io.ReaderAt) (Format, error) {
	head, err := readAtMost(r, 0, 8)
	if err != nil {
		return FormatUnknown, fmt.Errorf("detecting kernel format: %w", err)
	}
	has := func(magic string) bool { return bytes.HasPrefix(head, []byte(magic)) }
	switch {
	case has("\x7fELF"):
		return FormatELF, nil
	case has("MZ"):
		if len(head) >= 8 && string(head[4:8]) == "zimg" {
			return FormatZboot, nil
		}
		return FormatPE, nil
	case has("\x1f\x8b"):
		return FormatGzip, nil
	case has("\x28\xb5\x2f\xfd"):
		return FormatZstd, nil
	case has("\x02\x21\x4c\x18"):
		return FormatLZ4Legacy, nil
	case has("\x04\x22\x4d\x18"):
		return FormatLZ4Frame, nil
	case has("\x89LZO"):
		return FormatLZO, nil
	case has("BZh"):
		return FormatBzip2, nil
	case has("\x5d\x00\x00"):
		return FormatLZMA, nil
	case bytes.HasPrefix(head, xzMagic):
		return FormatXZ, nil
	}
	start := head
	if len(start) > 4 {
		start = start[:4]
	}
	return FormatUnknown, fmt.Errorf("%w (starts with %s)", ErrUnknownFormat, pyBytesRepr(start))
}

// PE signature values checked by pefile.
const (
	peDOSMagic    = 0x5a4d // "MZ"
	peDOSZMMagic  = 0x4d5a // "ZM"
	peNTSignature = 0x00004550
	peNESig       = 0x454e
	peLESig       = 0x454c
	peLXSig       = 0x584c
	peTESig       = 0x5a56
	pePE32Plus    = 0x20b
)

// IsPE reports whether pefile (2024.8.26, as used by ukify 262.1) would
// accept the file in pefile.PE(path, fast_load=True), i.e. whether ukify
// treats the kernel as a PE image and embeds it unchanged.
//
// It performs exactly the checks with which pefile's parser can raise
// PEFormatError in fast-load mode:
//
//   - the file is not empty and holds a 64-byte DOS header;
//   - e_magic is "MZ" (and not "ZM");
//   - e_lfanew (u32 at 0x3c) is not beyond the end of the file;
//   - a non-zero 4-byte signature at e_lfanew that is not an NE, LE, LX or
//     TE signature and equals "PE\0\0";
//   - the 20-byte COFF file header fits after the signature;
//   - at least 69 bytes (73 if the optional header magic is PE32+, 0x20b)
//     remain at the optional header (pefile zero-pads shorter optional
//     headers beyond that minimum). SizeOfOptionalHeader, the optional
//     header magic value and the section table are not checked: pefile only
//     warns about them.
func IsPE(r io.ReaderAt, size int64) bool {
	if size < 64 {
		return false
	}
	dos, err := readAtMost(r, 0, 64)
	if err != nil || len(dos) != 64 {
		return false
	}
	magic := binary.LittleEndian.Uint16(dos[0:])
	if magic == peDOSZMMagic || magic != peDOSMagic {
		return false
	}
	lfanew := int64(binary.LittleEndian.Uint32(dos[0x3c:]))
	if lfanew > size {
		return false
	}
	nt, err := readAtMost(r, lfanew, 4)
	if err != nil || len(nt) < 4 {
		return false
	}
	sig := binary.LittleEndian.Uint32(nt)
	switch sig & 0xffff {
	case peNESig, peLESig, peLXSig, peTESig:
		return false
	}
	if sig == 0 || sig != peNTSignature {
		return false
	}
	if size-(lfanew+4) < 20 {
		return false
	}
	opt := lfanew + 4 + 20
	remaining := size - opt
	if remaining < 69 {
		return false
	}
	m, err := readAtMost(r, opt, 2)
	if err != nil || len(m) < 2 {
		return false
	}
	if binary.LittleEndian.Uint16(m) == pePE32Plus && remaining < 73 {
		return false
	}
	return true
}
