package uki

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/ukibuild/ukibuild/internal/pe"
	"github.com/ukibuild/ukibuild/pcr"
)

// MaxStubSize bounds the size of a stub read into memory. systemd's stubs are
// a few hundred KiB.
const MaxStubSize = 64 << 20

// Stub is a systemd-stub (or add-on stub) PE image, read into memory and
// fixed up the way ukify 262 does before sections are added
// (src/ukify/ukify.py, pe_add_sections):
//   - a COFF symbol table (and string table) at the very end of the file is
//     removed and PointerToSymbolTable and NumberOfSymbols are zeroed. (ukify
//     also assigns pefile's IMAGE_FILE_LOCAL_SYMS_STRIPPED attribute, but
//     pefile does not write such flag attributes of the file header back,
//     so the Characteristics stay as they were; the PE specification calls
//     that flag deprecated and says it should be zero. We keep them too.)
//   - the raw data of every section is moved to FileAlignment boundaries and
//     its SizeOfRawData rounded up, zero-padded;
//   - SizeOfHeaders is rounded up to FileAlignment, which may free room for
//     more section headers.
//
// A stub that carries a certificate table (it is signed) is refused.
type Stub struct {
	Path string // for messages
	data []byte
	hdr  *pe.File
	sbat [][]byte // raw data of the original stub's .sbat sections
	// version is the systemd-stub version (pcr.StubVersion), or "".
	version string
}

// ReadStub reads and fixes up the stub at path.
func ReadStub(path string) (*Stub, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("stub: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stub: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("stub %s: not a regular file", path)
	}
	if st.Size() > MaxStubSize {
		return nil, fmt.Errorf("stub %s: %d bytes is too large for a stub (limit %d)", path, st.Size(), MaxStubSize)
	}
	data := make([]byte, st.Size())
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, fmt.Errorf("stub %s: %w", path, err)
	}
	s, err := NewStub(data)
	if err != nil {
		return nil, fmt.Errorf("stub %s: %w", path, pe.NameFile(err, path))
	}
	s.Path = path
	return s, nil
}

// MaxSBAT bounds the SBAT data read from the .sbat sections of a stub or a
// kernel, all together (real ones hold a few hundred bytes).
const MaxSBAT = 1 << 20

// MaxStubSections bounds the number of sections of a stub: the Windows
// loader's limit, which the PE format documents. systemd's stubs have
// fewer than ten.
const MaxStubSections = 96

// ErrSignedStub is the refusal of a stub that is already signed (has a
// certificate table): ukify refuses it too ("Stub image is signed,
// refusing"), since the UKI built from it must be signed afresh.
var ErrSignedStub = errors.New("stub is signed (it has a certificate table); use an unsigned stub")

// NewStub parses and fixes up a stub held in memory. data is not modified.
//
// The stub must be a sound image (pe.File.CheckLayout): its raw data and
// virtual ranges follow each other in section table order, so that the
// fix-ups and the sections added after the last one cannot overwrite
// anything. Sections without raw data are left as they are (ukify moves
// their PointerToRawData along and may insert padding at it; systemd's
// stubs have none).
func NewStub(data []byte) (*Stub, error) {
	buf := bytes.Clone(data)
	hdr, err := pe.Parse(bytes.NewReader(buf), int64(len(buf)))
	if err != nil {
		return nil, err
	}
	if len(hdr.Sections) == 0 {
		return nil, &pe.FormatError{Defect: "the image has no sections"}
	}
	if len(hdr.Sections) > MaxStubSections {
		return nil, &pe.FormatError{Defect: fmt.Sprintf("NumberOfSections %d is more than the %d a PE image may have", len(hdr.Sections), MaxStubSections)}
	}
	if err := hdr.CheckLayout(); err != nil {
		return nil, err
	}
	if sec, ok := hdr.Security(); ok && sec.VirtualAddress != 0 {
		// ukify: "Stub image is signed, refusing".
		return nil, ErrSignedStub
	}
	// ukify's merge_sbat reads .sbat from the stub as it is on disk.
	var sbatData [][]byte
	sbatSize := int64(0)
	for i := range hdr.Sections {
		if hdr.Sections[i].NameString() == ".sbat" {
			off, end := hdr.DataRange(i, -1)
			if sbatSize += end - off; sbatSize > MaxSBAT {
				return nil, &pe.FormatError{Defect: fmt.Sprintf(".sbat sections of more than %d bytes", MaxSBAT)}
			}
			sbatData = append(sbatData, bytes.Clone(buf[off:end]))
		}
	}
	le := binary.LittleEndian

	// Strip a symbol table that ends exactly at the end of the file.
	if ptr := uint64(hdr.PointerToSymbolTable); ptr != 0 {
		size := 18 * uint64(hdr.NumberOfSymbols)
		if st := ptr + size; st+4 <= uint64(len(buf)) {
			size += uint64(le.Uint32(buf[st:]))
		}
		if ptr+size == uint64(len(buf)) {
			for i := range hdr.Sections {
				s := &hdr.Sections[i]
				if s.SizeOfRawData != 0 && uint64(s.PointerToRawData)+uint64(s.SizeOfRawData) > ptr {
					return nil, &pe.FormatError{Defect: fmt.Sprintf("the COFF symbol table at %d overlaps the raw data of section %d (%q) at %d+%d",
						ptr, i, s.NameString(), s.PointerToRawData, s.SizeOfRawData)}
				}
			}
			buf = buf[:ptr]
			hdr.PointerToSymbolTable = 0
			hdr.NumberOfSymbols = 0
		}
	}

	// Align raw data in one pass over the file (CheckLayout made sure the
	// sections follow each other): each section moves to the next
	// FileAlignment boundary and is zero-padded to a multiple of it, and
	// everything after it moves along, as in ukify.
	fa := uint64(hdr.FileAlignment)
	nb := make([]byte, 0, uint64(len(buf))+uint64(len(hdr.Sections)+1)*fa)
	pos := uint64(0) // how much of buf is copied
	for i := range hdr.Sections {
		s := &hdr.Sections[i]
		if s.SizeOfRawData == 0 {
			continue
		}
		oldp, oldsz := uint64(s.PointerToRawData), uint64(s.SizeOfRawData)
		nb = append(nb, buf[pos:oldp]...)
		newp, newsz := pe.RoundUp(uint64(len(nb)), fa), pe.RoundUp(oldsz, fa)
		if newp+newsz > math.MaxUint32 {
			return nil, &pe.FormatError{Defect: fmt.Sprintf("section %q cannot be aligned within 32-bit offsets", s.NameString())}
		}
		nb = append(nb, make([]byte, newp-uint64(len(nb)))...)
		nb = append(nb, buf[oldp:oldp+oldsz]...)
		nb = append(nb, make([]byte, newsz-oldsz)...)
		s.PointerToRawData, s.SizeOfRawData = uint32(newp), uint32(newsz)
		pos = oldp + oldsz
	}
	buf = append(nb, buf[pos:]...)
	soh := pe.RoundUp(uint64(hdr.SizeOfHeaders), fa)
	if soh > uint64(len(buf)) {
		return nil, &pe.FormatError{Defect: fmt.Sprintf("SizeOfHeaders %d rounded up to FileAlignment %d lies beyond the end of the file (%d bytes)", hdr.SizeOfHeaders, fa, len(buf))}
	}
	hdr.SizeOfHeaders = uint32(soh)
	hdr.Size = int64(len(buf))
	// The version is read once, from the bytes in memory: .sdmagic, or
	// the LoaderInfo string outside the sections of a gnu-efi build.
	version, _ := pcr.StubVersion(bytes.NewReader(buf), int64(len(buf)))
	return &Stub{data: buf, hdr: hdr, sbat: sbatData, version: version}, nil
}

// Version returns the stub's systemd-stub version as pcr.StubVersion reads
// it ("#### LoaderInfo: systemd-stub 262.1 ####" gives "262.1"), or "" when
// the stub records none.
func (s *Stub) Version() string { return s.version }

// SectionData returns the raw data of the stub's first section called name
// (SizeOfRawData bytes, as pefile's get_data returns it), or nil.
func (s *Stub) SectionData(name string) []byte {
	for i := range s.hdr.Sections {
		sec := &s.hdr.Sections[i]
		if sec.NameString() == name {
			end := min(int64(sec.PointerToRawData)+int64(sec.SizeOfRawData), int64(len(s.data)))
			return s.data[sec.PointerToRawData:end]
		}
	}
	return nil
}

// FreeSlots is the number of section headers that fit after the stub's own.
func (s *Stub) FreeSlots() int {
	free := int64(s.hdr.SizeOfHeaders) - s.hdr.SectionHeaderOffset(len(s.hdr.Sections))
	return int(max(free, 0) / pe.SectionHeaderSize)
}

// Section is a section to add to a stub.
type Section struct {
	Name    string
	Content Content
}

// Image is the layout of a UKI: the stub's bytes with patched headers, and the
// sections appended after them, whose data is streamed when the image is
// written.
type Image struct {
	head     []byte // fixed-up stub with final headers and in-place sections
	appended []placed
	size     int64
	// data holds, per section given to Compose, where its data lies in
	// the file (appended or in place in the stub).
	data []fileSpan
}

// fileSpan is a byte range of the image file.
type fileSpan struct{ off, n int64 }

type placed struct {
	name    string
	offset  int64 // PointerToRawData
	rawSize int64 // SizeOfRawData
	content Content
}

// Size is the size of the image in bytes.
func (img *Image) Size() int64 { return img.size }

// Compose lays out sections after the stub exactly as ukify 262's
// pe_add_sections does:
//   - each section gets the next free header slot; an error names how many
//     slots the stub has when SizeOfHeaders runs out;
//   - VirtualAddress is the end of the previous section rounded up to
//     SectionAlignment; PointerToRawData is the end of the file rounded up to
//     FileAlignment; VirtualSize is the exact length and SizeOfRawData is
//     rounded up to FileAlignment, zero-padded;
//   - characteristics are MEM_READ|CNT_CODE for .linux and
//     MEM_READ|CNT_INITIALIZED_DATA otherwise; SizeOfInitializedData grows by
//     each VirtualSize;
//   - a section whose name the stub already has (.sbat) replaces that
//     section's data in place and must fit its SizeOfRawData;
//   - IMAGE_DLLCHARACTERISTICS_NX_COMPAT is cleared when the .linux section
//     holds a PE image without it; SizeOfImage is recomputed and CheckSum
//     set to 0.
//
// Content is not read here except for the first kilobytes of .linux (to look
// at its PE header) and in-place sections (which are small).
func Compose(stub *Stub, sections []Section) (*Image, error) {
	hdr := *stub.hdr
	hdr.Sections = append([]pe.Section(nil), stub.hdr.Sections...)
	head := bytes.Clone(stub.data)
	nOrig := len(hdr.Sections)
	fileLen := uint64(len(head))
	fa, sa := uint64(hdr.FileAlignment), uint64(hdr.SectionAlignment)
	img := &Image{}
	initData := uint64(hdr.SizeOfInitializedData)

	for _, sec := range sections {
		size := uint64(sec.Content.Size())
		slot := hdr.SectionHeaderOffset(len(hdr.Sections))
		if slot+pe.SectionHeaderSize > int64(hdr.SizeOfHeaders) {
			return nil, fmt.Errorf("not enough header space to add section %s: the stub has room for %d more section headers after its own %d (SizeOfHeaders %d)",
				sec.Name, stub.FreeSlots(), nOrig, hdr.SizeOfHeaders)
		}
		var ns pe.Section
		if err := ns.SetName(sec.Name); err != nil {
			return nil, err
		}
		last := &hdr.Sections[len(hdr.Sections)-1]
		va := pe.RoundUp(uint64(last.VirtualAddress)+uint64(last.VirtualSize), sa)
		ptr := pe.RoundUp(fileLen, fa)
		raw := pe.RoundUp(size, fa)
		if size > math.MaxUint32 || raw > math.MaxUint32 || va > math.MaxUint32 || ptr+raw > math.MaxUint32 ||
			pe.RoundUp(va+size, sa) > math.MaxUint32 {
			return nil, fmt.Errorf("section %s (%s, %d bytes) does not fit: PE offsets and sizes are 32-bit, the image would exceed 4 GiB", sec.Name, sec.Content, size)
		}
		ns.VirtualSize, ns.VirtualAddress = uint32(size), uint32(va)
		ns.PointerToRawData, ns.SizeOfRawData = uint32(ptr), uint32(raw)
		ns.Characteristics = pe.ScnMemRead | pe.ScnCntInitialized
		if sec.Name == ".linux" {
			ns.Characteristics = pe.ScnMemRead | pe.ScnCntCode
			if nx, isPE := contentNXCompat(sec.Content); isPE && !nx {
				hdr.DllCharacteristics &^= pe.DllNXCompat
			}
		}

		inPlace := false
		for i := 0; i < nOrig; i++ {
			s := &hdr.Sections[i]
			if s.NameString() != sec.Name || sec.Name == ".dtbauto" {
				continue
			}
			if size > uint64(s.SizeOfRawData) {
				return nil, fmt.Errorf("not enough space in the stub's existing section %s for the new data (need %d bytes, have %d)", sec.Name, size, s.SizeOfRawData)
			}
			// ukify splices the data in and continues with the next
			// section's data, which drops any bytes between the two (a
			// symbol table left in place, say) and shifts everything after
			// them, breaking the image. Overwriting in place gives the same
			// bytes when nothing lies between, and a correct image otherwise.
			end := uint64(s.PointerToRawData) + uint64(s.SizeOfRawData)
			var b bytes.Buffer
			if err := copyExactly(&b, sec.Content, nil); err != nil {
				return nil, err
			}
			copy(head[s.PointerToRawData:end], b.Bytes())
			clear(head[uint64(s.PointerToRawData)+size : end])
			s.VirtualSize = uint32(size)
			img.data = append(img.data, fileSpan{int64(s.PointerToRawData), int64(size)})
			inPlace = true
			break
		}
		if inPlace {
			continue
		}
		initData += size
		if initData > math.MaxUint32 {
			return nil, fmt.Errorf("section %s: SizeOfInitializedData would exceed 32 bits", sec.Name)
		}
		hdr.Sections = append(hdr.Sections, ns)
		img.appended = append(img.appended, placed{name: sec.Name, offset: int64(ptr), rawSize: int64(raw), content: sec.Content})
		img.data = append(img.data, fileSpan{int64(ptr), int64(size)})
		fileLen = ptr + raw
	}

	last := &hdr.Sections[len(hdr.Sections)-1]
	hdr.SizeOfImage = uint32(pe.RoundUp(uint64(last.VirtualAddress)+uint64(last.VirtualSize), sa))
	hdr.SizeOfInitializedData = uint32(initData)
	hdr.CheckSum = 0
	hdr.NumberOfSections = uint16(len(hdr.Sections))

	// Write the headers back, field by field, at their offsets.
	le := binary.LittleEndian
	le.PutUint16(head[hdr.CoffOffset+pe.CoffNumberOfSections:], hdr.NumberOfSections)
	le.PutUint32(head[hdr.CoffOffset+pe.CoffPointerToSymbolTable:], hdr.PointerToSymbolTable)
	le.PutUint32(head[hdr.CoffOffset+pe.CoffNumberOfSymbols:], hdr.NumberOfSymbols)
	le.PutUint16(head[hdr.CoffOffset+pe.CoffCharacteristics:], hdr.Characteristics)
	le.PutUint32(head[hdr.OptionalOffset+pe.OptSizeOfInitializedData:], hdr.SizeOfInitializedData)
	le.PutUint32(head[hdr.OptionalOffset+pe.OptSizeOfImage:], hdr.SizeOfImage)
	le.PutUint32(head[hdr.OptionalOffset+pe.OptSizeOfHeaders:], hdr.SizeOfHeaders)
	le.PutUint32(head[hdr.OptionalOffset+pe.OptCheckSum:], hdr.CheckSum)
	le.PutUint16(head[hdr.OptionalOffset+pe.OptDllCharacteristics:], hdr.DllCharacteristics)
	for i := range hdr.Sections {
		copy(head[hdr.SectionHeaderOffset(i):], hdr.Sections[i].Marshal())
	}
	img.head = head
	img.size = int64(fileLen)
	return img, nil
}

// contentNXCompat reports whether c holds a PE image and whether that image
// has IMAGE_DLLCHARACTERISTICS_NX_COMPAT set.
func contentNXCompat(c Content) (nx, isPE bool) {
	rc, err := c.Open()
	if err != nil {
		return false, false
	}
	defer rc.Close()
	ra, ok := rc.(io.ReaderAt)
	if !ok {
		return false, false
	}
	f, err := pe.Parse(ra, c.Size())
	if err != nil {
		return false, false
	}
	return f.DllCharacteristics&pe.DllNXCompat != 0, true
}

// WriteTo writes the image to w, streaming each appended section's content.
func (img *Image) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	if _, err := cw.Write(img.head); err != nil {
		return cw.n, err
	}
	buf := make([]byte, 1<<20)
	for _, p := range img.appended {
		if err := writeZeros(cw, p.offset-cw.n); err != nil {
			return cw.n, err
		}
		start := cw.n
		if err := copyExactly(cw, p.content, buf); err != nil {
			return cw.n, fmt.Errorf("section %s: %w", p.name, err)
		}
		if err := writeZeros(cw, start+p.rawSize-cw.n); err != nil {
			return cw.n, err
		}
	}
	if cw.n != img.size {
		return cw.n, fmt.Errorf("internal error: wrote %d bytes, layout says %d", cw.n, img.size)
	}
	return cw.n, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

var zeros [4096]byte

func writeZeros(w io.Writer, n int64) error {
	for n > 0 {
		k := min(n, int64(len(zeros)))
		if _, err := w.Write(zeros[:k]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}
