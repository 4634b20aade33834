// Package pe reads and patches the headers of PE/COFF images (EFI applications).
//
// It is shared by the UKI composer and inspector (package uki) and the
// Authenticode signer (package sign). It keeps the file offset of every header
// field so that callers can rewrite headers in place, byte for byte, which is
// what reproducing ukify's output requires.
//
// The standard library's debug/pe parses PE files too, but it exposes neither
// the offsets of header fields nor a way to rewrite them, and it accepts
// inconsistent headers silently; both are needed here, hence this small
// hand-written reader. Field layout follows the Microsoft PE/COFF
// specification ("PE Format", sections "COFF File Header", "Optional Header",
// "Section Table").
package pe

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/ukibuild/ukibuild/uefi"
)

// Optional header magics.
const (
	Magic32     = 0x10b // PE32
	Magic32Plus = 0x20b // PE32+
)

// Sizes of fixed structures.
const (
	coffHeaderSize    = 20
	SectionHeaderSize = 40
	dataDirSize       = 8
)

// DLL characteristics bits used by this project.
const (
	DllNXCompat = 0x0100
)

// Section characteristics.
const (
	ScnCntCode        = 0x00000020
	ScnCntInitialized = 0x00000040
	ScnMemRead        = 0x40000000
)

// Data directory indexes.
const (
	DirSecurity = 4 // the Authenticode certificate table
)

// Offsets of fields inside the optional header that PE32 and PE32+ share.
const (
	OptSizeOfInitializedData = 8
	OptSectionAlignment      = 32
	OptFileAlignment         = 36
	OptSizeOfImage           = 56
	OptSizeOfHeaders         = 60
	OptCheckSum              = 64
	OptDllCharacteristics    = 70
)

// Offsets inside the COFF file header.
const (
	CoffNumberOfSections     = 2
	CoffPointerToSymbolTable = 8
	CoffNumberOfSymbols      = 12
	CoffCharacteristics      = 18
)

// DataDir is one entry of the optional header's data directory.
type DataDir struct {
	VirtualAddress uint32
	Size           uint32
}

// Section is one section header.
type Section struct {
	Name                 [8]byte
	VirtualSize          uint32
	VirtualAddress       uint32
	SizeOfRawData        uint32
	PointerToRawData     uint32
	PointerToRelocations uint32
	PointerToLinenumbers uint32
	NumberOfRelocations  uint16
	NumberOfLinenumbers  uint16
	Characteristics      uint32
}

// NameString returns the section name with trailing NUL bytes removed, as
// ukify's pe_strip_section_name does.
func (s *Section) NameString() string {
	n := len(s.Name)
	for n > 0 && s.Name[n-1] == 0 {
		n--
	}
	return string(s.Name[:n])
}

// SetName sets the section name; it must be at most 8 bytes long.
func (s *Section) SetName(name string) error {
	if len(name) > len(s.Name) {
		return fmt.Errorf("section name %q is longer than 8 bytes", name)
	}
	s.Name = [8]byte{}
	copy(s.Name[:], name)
	return nil
}

// Marshal encodes the section header (40 bytes).
func (s *Section) Marshal() []byte {
	b := make([]byte, SectionHeaderSize)
	copy(b[0:8], s.Name[:])
	le := binary.LittleEndian
	le.PutUint32(b[8:], s.VirtualSize)
	le.PutUint32(b[12:], s.VirtualAddress)
	le.PutUint32(b[16:], s.SizeOfRawData)
	le.PutUint32(b[20:], s.PointerToRawData)
	le.PutUint32(b[24:], s.PointerToRelocations)
	le.PutUint32(b[28:], s.PointerToLinenumbers)
	le.PutUint16(b[32:], s.NumberOfRelocations)
	le.PutUint16(b[34:], s.NumberOfLinenumbers)
	le.PutUint32(b[36:], s.Characteristics)
	return b
}

func unmarshalSection(b []byte) Section {
	le := binary.LittleEndian
	var s Section
	copy(s.Name[:], b[0:8])
	s.VirtualSize = le.Uint32(b[8:])
	s.VirtualAddress = le.Uint32(b[12:])
	s.SizeOfRawData = le.Uint32(b[16:])
	s.PointerToRawData = le.Uint32(b[20:])
	s.PointerToRelocations = le.Uint32(b[24:])
	s.PointerToLinenumbers = le.Uint32(b[28:])
	s.NumberOfRelocations = le.Uint16(b[32:])
	s.NumberOfLinenumbers = le.Uint16(b[34:])
	s.Characteristics = le.Uint32(b[36:])
	return s
}

// File holds the parsed headers of a PE image together with the file offsets
// of the structures, so that they can be patched in place.
type File struct {
	Size int64 // size of the file the headers were read from

	PEOffset       int64 // e_lfanew: offset of the "PE\0\0" signature
	CoffOffset     int64 // offset of the COFF file header
	OptionalOffset int64 // offset of the optional header
	DataDirOffset  int64 // offset of the first data directory entry
	SectionOffset  int64 // offset of the section table

	Machine              uint16
	NumberOfSections     uint16
	PointerToSymbolTable uint32
	NumberOfSymbols      uint32
	SizeOfOptionalHeader uint16
	Characteristics      uint16

	Magic                 uint16
	SizeOfInitializedData uint32
	SectionAlignment      uint32
	FileAlignment         uint32
	SizeOfImage           uint32
	SizeOfHeaders         uint32
	CheckSum              uint32
	DllCharacteristics    uint16
	NumberOfRvaAndSizes   uint32
	DataDirs              []DataDir

	Sections []Section
}

// FormatError reports a structurally invalid PE image. It is the public
// uefi.FormatError, so that callers of the public packages match it.
type FormatError = uefi.FormatError

// NameFile records path as the File of the *FormatError that err is or
// wraps, if it has none yet, and returns err unchanged (its message too:
// the context that wraps it names the file).
func NameFile(err error, path string) error {
	var fe *FormatError
	if errors.As(err, &fe) && fe.File == "" {
		fe.File = path
	}
	return err
}

func formatErr(format string, args ...any) error {
	return &FormatError{Defect: fmt.Sprintf(format, args...)}
}

// IsFormatError reports whether err is (or wraps) a *FormatError.
func IsFormatError(err error) bool {
	var fe *FormatError
	return errors.As(err, &fe)
}

// Parse reads the headers of the PE image r of the given size. It checks that
// every header structure lies inside the file and is self-consistent; it does
// not check where section data lies (see CheckSections).
func Parse(r io.ReaderAt, size int64) (*File, error) {
	le := binary.LittleEndian
	read := func(off int64, n int, what string) ([]byte, error) {
		if off < 0 || off+int64(n) > size {
			return nil, formatErr("%s (%d bytes at offset %d) lies beyond the end of the file (%d bytes)", what, n, off, size)
		}
		b := make([]byte, n)
		if _, err := r.ReadAt(b, off); err != nil {
			return nil, fmt.Errorf("reading %s at offset %d: %w", what, off, err)
		}
		return b, nil
	}

	dos, err := read(0, 64, "the DOS header")
	if err != nil {
		return nil, err
	}
	if dos[0] != 'M' || dos[1] != 'Z' {
		return nil, formatErr("no MZ signature at offset 0 (file starts with % x)", dos[:4])
	}
	f := &File{Size: size}
	f.PEOffset = int64(le.Uint32(dos[0x3c:]))
	sig, err := read(f.PEOffset, 4+coffHeaderSize, "the PE signature and COFF header (e_lfanew)")
	if err != nil {
		return nil, err
	}
	if string(sig[:4]) != "PE\x00\x00" {
		return nil, formatErr("no PE signature at e_lfanew offset %d", f.PEOffset)
	}
	coff := sig[4:]
	f.CoffOffset = f.PEOffset + 4
	f.Machine = le.Uint16(coff[0:])
	f.NumberOfSections = le.Uint16(coff[CoffNumberOfSections:])
	f.PointerToSymbolTable = le.Uint32(coff[CoffPointerToSymbolTable:])
	f.NumberOfSymbols = le.Uint32(coff[CoffNumberOfSymbols:])
	f.SizeOfOptionalHeader = le.Uint16(coff[16:])
	f.Characteristics = le.Uint16(coff[CoffCharacteristics:])
	f.OptionalOffset = f.CoffOffset + coffHeaderSize

	if f.SizeOfOptionalHeader < 2 {
		return nil, formatErr("SizeOfOptionalHeader is %d, too small for an image", f.SizeOfOptionalHeader)
	}
	opt, err := read(f.OptionalOffset, int(f.SizeOfOptionalHeader), "the optional header (SizeOfOptionalHeader)")
	if err != nil {
		return nil, err
	}
	f.Magic = le.Uint16(opt)
	var fixed int // size of the optional header before the data directories
	switch f.Magic {
	case Magic32:
		fixed = 96
	case Magic32Plus:
		fixed = 112
	default:
		return nil, formatErr("unknown optional header magic %#x", f.Magic)
	}
	if len(opt) < fixed {
		return nil, formatErr("SizeOfOptionalHeader is %d, smaller than the %d bytes of a %s optional header", len(opt), fixed, f.MagicName())
	}
	f.SizeOfInitializedData = le.Uint32(opt[OptSizeOfInitializedData:])
	f.SectionAlignment = le.Uint32(opt[OptSectionAlignment:])
	f.FileAlignment = le.Uint32(opt[OptFileAlignment:])
	f.SizeOfImage = le.Uint32(opt[OptSizeOfImage:])
	f.SizeOfHeaders = le.Uint32(opt[OptSizeOfHeaders:])
	f.CheckSum = le.Uint32(opt[OptCheckSum:])
	f.DllCharacteristics = le.Uint16(opt[OptDllCharacteristics:])
	f.NumberOfRvaAndSizes = le.Uint32(opt[fixed-4:])
	f.DataDirOffset = f.OptionalOffset + int64(fixed)
	if f.NumberOfRvaAndSizes > 16 {
		return nil, formatErr("NumberOfRvaAndSizes is %d, more than 16", f.NumberOfRvaAndSizes)
	}
	if fixed+int(f.NumberOfRvaAndSizes)*dataDirSize > len(opt) {
		return nil, formatErr("SizeOfOptionalHeader is %d, too small for %d data directories", len(opt), f.NumberOfRvaAndSizes)
	}
	for i := 0; i < int(f.NumberOfRvaAndSizes); i++ {
		d := opt[fixed+i*dataDirSize:]
		f.DataDirs = append(f.DataDirs, DataDir{VirtualAddress: le.Uint32(d), Size: le.Uint32(d[4:])})
	}

	f.SectionOffset = f.OptionalOffset + int64(f.SizeOfOptionalHeader)
	table, err := read(f.SectionOffset, int(f.NumberOfSections)*SectionHeaderSize,
		fmt.Sprintf("the section table (NumberOfSections %d)", f.NumberOfSections))
	if err != nil {
		return nil, err
	}
	f.Sections = make([]Section, f.NumberOfSections)
	for i := range f.Sections {
		f.Sections[i] = unmarshalSection(table[i*SectionHeaderSize:])
	}
	return f, nil
}

// MagicName names the optional header format.
func (f *File) MagicName() string {
	switch f.Magic {
	case Magic32:
		return "PE32"
	case Magic32Plus:
		return "PE32+"
	}
	return fmt.Sprintf("magic %#x", f.Magic)
}

// SectionHeaderOffset is the file offset of section header i.
func (f *File) SectionHeaderOffset(i int) int64 {
	return f.SectionOffset + int64(i)*SectionHeaderSize
}

// Security returns the certificate table directory entry, if the image has one.
func (f *File) Security() (DataDir, bool) {
	if len(f.DataDirs) <= DirSecurity {
		return DataDir{}, false
	}
	return f.DataDirs[DirSecurity], true
}

// CheckSections verifies that the raw data of every section lies inside the
// file, that the section table fits in SizeOfHeaders, and that the alignments
// are usable.
func (f *File) CheckSections() error {
	if f.FileAlignment == 0 || f.FileAlignment&(f.FileAlignment-1) != 0 {
		return formatErr("FileAlignment %d is not a power of two", f.FileAlignment)
	}
	if f.SectionAlignment == 0 || f.SectionAlignment&(f.SectionAlignment-1) != 0 {
		return formatErr("SectionAlignment %d is not a power of two", f.SectionAlignment)
	}
	end := f.SectionHeaderOffset(len(f.Sections))
	if int64(f.SizeOfHeaders) < end {
		return formatErr("SizeOfHeaders %d is smaller than the end of the section table at %d", f.SizeOfHeaders, end)
	}
	for i := range f.Sections {
		s := &f.Sections[i]
		if s.SizeOfRawData == 0 {
			continue
		}
		if int64(s.PointerToRawData)+int64(s.SizeOfRawData) > f.Size {
			return formatErr("section %d (%q): raw data at %d+%d lies beyond the end of the file (%d bytes)",
				i, s.NameString(), s.PointerToRawData, s.SizeOfRawData, f.Size)
		}
	}
	return nil
}

// RoundUp rounds x up to a multiple of align (align > 0).
func RoundUp(x, align uint64) uint64 {
	return (x + align - 1) / align * align
}

// DataRange returns the file range [off, end) that pefile's
// SectionStructure.get_data(length=n) reads for section i (n < 0: no length,
// i.e. SizeOfRawData bytes). ukify reads sections through pefile, so inspect
// and SBAT extraction use the same rule: the start is PointerToRawData rounded
// down to 512 bytes (unless SectionAlignment < 4096 and PointerToRawData equals
// VirtualAddress), the end is capped at PointerToRawData + SizeOfRawData and
// at the end of the file. For well-formed images this is simply the section's
// raw data.
func (f *File) DataRange(i int, n int64) (off, end int64) {
	s := &f.Sections[i]
	off = int64(s.PointerToRawData) &^ 0x1ff
	if f.SectionAlignment < 0x1000 && s.PointerToRawData == s.VirtualAddress {
		off = int64(s.VirtualAddress)
	}
	if n >= 0 {
		end = off + n
	} else {
		end = off + int64(s.SizeOfRawData)
	}
	end = min(end, int64(s.PointerToRawData)+int64(s.SizeOfRawData), f.Size)
	off = min(off, f.Size)
	if end < off {
		end = off
	}
	return off, end
}
