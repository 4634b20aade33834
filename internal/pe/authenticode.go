package pe

// Authenticode support: the byte ranges of an image that its Authenticode
// digest covers, the certificate table, and the PE checksum.
//
// The digest follows "Windows Authenticode Portable Executable Signature
// Format" ("Calculating the PE Image Hash") as UEFI firmware implements it
// (EDK2's DxeImageVerificationLib HashPeImage): the headers up to
// SizeOfHeaders without the CheckSum field and the certificate table
// directory entry; then the sections with a non-zero SizeOfRawData in
// ascending PointerToRawData order; then, when the file is longer than the
// number of bytes hashed so far (SUM_OF_BYTES_HASHED, used as a file offset),
// the bytes from that offset up to the start of the certificate table.

import (
	"encoding/binary"
	"fmt"
	"io"
	"sort"
)

// Certificate table constants (PE format, "The Attribute Certificate Table").
const (
	WinCertHeaderSize       = 8      // dwLength, wRevision, wCertificateType
	WinCertRevision2        = 0x0200 // WIN_CERT_REVISION_2_0
	WinCertTypePKCSSigned   = 0x0002 // WIN_CERT_TYPE_PKCS_SIGNED_DATA
	WinCertTypeEFIGUID      = 0x0EF1 // WIN_CERT_TYPE_EFI_GUID (UEFI)
	CertTableAlignment      = 8      // entries start on quadword boundaries
	dataDirSecurityEntryLen = 8
)

// Range is the half-open file range [Off, End).
type Range struct {
	Off, End int64
}

// Len is the length of the range.
func (r Range) Len() int64 { return r.End - r.Off }

// ChecksumOffset is the file offset of the optional header's CheckSum field.
func (f *File) ChecksumOffset() int64 { return f.OptionalOffset + OptCheckSum }

// SecurityDirOffset is the file offset of the certificate table directory
// entry; ok is false when NumberOfRvaAndSizes leaves it out.
func (f *File) SecurityDirOffset() (off int64, ok bool) {
	if f.NumberOfRvaAndSizes <= DirSecurity {
		return 0, false
	}
	return f.DataDirOffset + DirSecurity*dataDirSecurityEntryLen, true
}

// AuthenticodeRanges returns the file ranges the Authenticode digest covers,
// in hashing order, for an image whose content (everything but the
// certificate table) is the first contentEnd bytes. Bytes at or past
// fileSize read as zeros: a signer passes the 8-aligned content end of the
// file it is about to write, which may exceed the input by up to 7 bytes of
// padding. Headers must lie inside fileSize and sections inside contentEnd.
func (f *File) AuthenticodeRanges(contentEnd int64) ([]Range, error) {
	hdrEnd := int64(f.SizeOfHeaders)
	ck := f.ChecksumOffset()
	if hdrEnd < ck+4 {
		return nil, formatErr("SizeOfHeaders %d ends before the CheckSum field at %d", hdrEnd, ck)
	}
	if hdrEnd > contentEnd {
		return nil, formatErr("SizeOfHeaders %d lies beyond the end of the image content at %d", hdrEnd, contentEnd)
	}
	var rs []Range
	add := func(off, end int64) {
		if end > off {
			rs = append(rs, Range{off, end})
		}
	}
	add(0, ck)
	if sd, ok := f.SecurityDirOffset(); ok {
		if hdrEnd < sd+dataDirSecurityEntryLen {
			return nil, formatErr("SizeOfHeaders %d ends before the certificate table directory entry at %d", hdrEnd, sd)
		}
		add(ck+4, sd)
		add(sd+dataDirSecurityEntryLen, hdrEnd)
	} else {
		add(ck+4, hdrEnd)
	}

	// Sections with raw data, sorted by PointerToRawData; sort.SliceStable
	// keeps the header order of equal keys as EDK2's insertion sort does.
	idx := make([]int, 0, len(f.Sections))
	for i := range f.Sections {
		if f.Sections[i].SizeOfRawData != 0 {
			idx = append(idx, i)
		}
	}
	sort.SliceStable(idx, func(a, b int) bool {
		return f.Sections[idx[a]].PointerToRawData < f.Sections[idx[b]].PointerToRawData
	})
	sum := hdrEnd
	for _, i := range idx {
		s := &f.Sections[i]
		off, end := int64(s.PointerToRawData), int64(s.PointerToRawData)+int64(s.SizeOfRawData)
		if end > contentEnd {
			return nil, formatErr("section %d (%q): raw data at %d+%d lies beyond the end of the image content at %d",
				i, s.NameString(), s.PointerToRawData, s.SizeOfRawData, contentEnd)
		}
		rs = append(rs, Range{off, end})
		sum += int64(s.SizeOfRawData)
	}
	if sum > contentEnd {
		return nil, formatErr("the headers and sections add up to %d bytes, more than the %d bytes of image content (overlapping sections); firmware rejects such an image", sum, contentEnd)
	}
	add(sum, contentEnd)
	return rs, nil
}

// HashRanges writes the ranges of r to w in order, reading bytes at or past
// size as zeros. buf is the copy buffer (a 64 KiB one is made when nil).
func HashRanges(w io.Writer, r io.ReaderAt, size int64, ranges []Range, buf []byte) error {
	if len(buf) == 0 {
		buf = make([]byte, 64<<10)
	}
	for _, rg := range ranges {
		off := rg.Off
		for off < rg.End {
			n := int64(len(buf))
			if rg.End-off < n {
				n = rg.End - off
			}
			b := buf[:n]
			have := int64(0)
			if off < size {
				have = min(n, size-off)
				if err := ReadFullAt(r, b[:have], off); err != nil {
					return fmt.Errorf("reading %d bytes at offset %d: %w", have, off, err)
				}
			}
			clear(b[have:])
			if _, err := w.Write(b); err != nil {
				return err
			}
			off += n
		}
	}
	return nil
}

// ReadFullAt reads len(b) bytes at off, accepting the io.EOF that an
// io.ReaderAt may return along with a full read at the end of its input.
func ReadFullAt(r io.ReaderAt, b []byte, off int64) error {
	n, err := r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// CertEntry is one WIN_CERTIFICATE entry of a certificate table.
type CertEntry struct {
	Offset   int64  // file offset of the entry header
	Length   uint32 // dwLength: header plus certificate, without padding
	Revision uint16
	Type     uint16
}

// DataOffset is the file offset of the entry's certificate data.
func (e CertEntry) DataOffset() int64 { return e.Offset + WinCertHeaderSize }

// DataLen is the length of the entry's certificate data.
func (e CertEntry) DataLen() int64 { return int64(e.Length) - WinCertHeaderSize }

// AlignedLen is dwLength rounded up to the 8-byte entry alignment.
func (e CertEntry) AlignedLen() int64 { return int64(RoundUp(uint64(e.Length), CertTableAlignment)) }

// CertTable walks the certificate table at dir as UEFI firmware does (EDK2's
// DxeImageVerificationHandler): entries follow each other at dwLength rounded
// up to 8 bytes, each must fit in what is left of the table together with its
// padding and be long enough for its type, and the walk must end exactly at
// VirtualAddress + Size. It returns the entries up to the first defect and
// the defect as a *FormatError.
func CertTable(r io.ReaderAt, size int64, dir DataDir) ([]CertEntry, error) {
	start, end := int64(dir.VirtualAddress), int64(dir.VirtualAddress)+int64(dir.Size)
	if end > size {
		return nil, formatErr("the certificate table at %d+%d lies beyond the end of the file (%d bytes)", dir.VirtualAddress, dir.Size, size)
	}
	var entries []CertEntry
	var hdr [WinCertHeaderSize]byte
	off := start
	for off < end {
		left := end - off
		if left <= WinCertHeaderSize {
			return entries, formatErr("certificate table entry %d at offset %d: only %d bytes left before the end of the table at %d, no room for an entry", len(entries), off, left, end)
		}
		if err := ReadFullAt(r, hdr[:], off); err != nil {
			return entries, fmt.Errorf("reading certificate table entry %d at offset %d: %w", len(entries), off, err)
		}
		e := CertEntry{
			Offset:   off,
			Length:   binary.LittleEndian.Uint32(hdr[0:]),
			Revision: binary.LittleEndian.Uint16(hdr[4:]),
			Type:     binary.LittleEndian.Uint16(hdr[6:]),
		}
		if int64(e.Length) > left || e.AlignedLen() > left {
			return entries, formatErr("certificate table entry %d at offset %d: dwLength %d (padded to %d) runs past the end of the table at %d (truncated table or wrong directory Size)", len(entries), off, e.Length, e.AlignedLen(), end)
		}
		// The smallest entry of each type: a header (EDK2 stops at a
		// shorter one), plus data for PKCS#7, plus a GUID and data for
		// WIN_CERTIFICATE_UEFI_GUID.
		minLen := uint32(WinCertHeaderSize)
		switch e.Type {
		case WinCertTypePKCSSigned:
			minLen = WinCertHeaderSize + 1
		case WinCertTypeEFIGUID:
			minLen = WinCertHeaderSize + 16 + 1
		}
		if e.Length < minLen {
			return entries, formatErr("certificate table entry %d at offset %d: dwLength %d is too short for a type %#04x entry", len(entries), off, e.Length, e.Type)
		}
		entries = append(entries, e)
		off += e.AlignedLen()
	}
	return entries, nil
}

// Checksum computes the PE image checksum (the algorithm of Windows'
// CheckSumMappedFile: 16-bit little-endian words added with end-around carry,
// the CheckSum field counted as zero, plus the file length) over the bytes
// written to it. Writes must start at file offset 0 and be sequential.
type Checksum struct {
	field   int64 // offset of the CheckSum field
	off     int64
	sum     uint32
	pending int // a byte waiting for its partner (odd offset), or -1
}

// NewChecksum returns a Checksum for a file whose CheckSum field is at
// fieldOffset (see File.ChecksumOffset).
func NewChecksum(fieldOffset int64) *Checksum {
	return &Checksum{field: fieldOffset, pending: -1}
}

func (c *Checksum) add(w uint32) {
	c.sum += w
	c.sum = (c.sum & 0xffff) + (c.sum >> 16)
}

// Write adds p to the checksum; it never fails.
func (c *Checksum) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		b := p[0]
		if c.off >= c.field && c.off < c.field+4 {
			b = 0
		}
		if c.pending >= 0 {
			c.add(uint32(c.pending) | uint32(b)<<8)
			c.pending = -1
			p = p[1:]
			c.off++
			continue
		}
		// Fast path: whole words outside the CheckSum field.
		if len(p) >= 2 && (c.off+1 < c.field || c.off >= c.field+4) {
			lim := len(p) &^ 1
			if c.off < c.field {
				lim = min(lim, int(c.field-c.off)&^1)
			}
			if lim >= 2 {
				var s uint64
				for i := 0; i < lim; i += 2 {
					s += uint64(binary.LittleEndian.Uint16(p[i:]))
				}
				for s > 0xffffffff {
					s = (s & 0xffffffff) + (s >> 32)
				}
				c.add(uint32(s & 0xffff))
				c.add(uint32(s >> 16))
				p = p[lim:]
				c.off += int64(lim)
				continue
			}
		}
		c.pending = int(b)
		p = p[1:]
		c.off++
	}
	return n, nil
}

// AddAt adds b to the checksum as if it stood at file offset off, where
// zeros were written (or will be): a signer that learns a header field only
// after the image was streamed patches it in this way. One's complement
// addition is order-independent, so the result is the checksum of the file
// with b in place.
func (c *Checksum) AddAt(off int64, b []byte) {
	for i, v := range b {
		c.add(uint32(v) << (8 * ((off + int64(i)) & 1)))
	}
}

// Sum returns the checksum of what was written so far (a trailing odd byte
// counts as a word with a zero high byte).
func (c *Checksum) Sum() uint32 {
	s := c.sum
	if c.pending >= 0 {
		s += uint32(c.pending)
		s = (s & 0xffff) + (s >> 16)
	}
	s = (s & 0xffff) + (s >> 16)
	return s + uint32(c.off)
}

// ComputeChecksum reads the file r of the given size and returns its PE
// checksum, the CheckSum field at fieldOffset counted as zero.
func ComputeChecksum(r io.ReaderAt, size, fieldOffset int64) (uint32, error) {
	c := NewChecksum(fieldOffset)
	if _, err := io.CopyBuffer(c, io.NewSectionReader(r, 0, size), make([]byte, 64<<10)); err != nil {
		return 0, fmt.Errorf("computing the PE checksum: %w", err)
	}
	return c.Sum(), nil
}
