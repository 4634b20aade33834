package kernel

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/ukibuild/ukibuild/internal/reftools"
)

// testKernelPath locates the reference kernel fetched by
// internal/reftools/fetch.sh; it fails (never skips) when it is missing.
func testKernelPath(t testing.TB) string {
	t.Helper()
	return reftools.Locate(t).Path(t, "UKIBUILD_KERNEL")
}

// testNote is one ELF note for buildELF.
type testNote struct {
	name string // written with a terminating NUL unless rawName is set
	typ  uint32
	desc []byte
	// rawName, if non-nil, is written as the name bytes verbatim.
	rawName []byte
}

// elfSpec describes a synthetic ELF file.
type elfSpec struct {
	class32   bool
	bigEndian bool
	etype     uint16 // default ET_EXEC (2)
	align     uint64 // note alignment; default 4
	noSects   bool   // no section headers: notes only via PT_NOTE
	regions   [][]testNote
}

// encodeNotes serialises notes with the given alignment.
func encodeNotes(bo binary.ByteOrder, align uint64, notes []testNote) []byte {
	var b bytes.Buffer
	pad := func() {
		for uint64(b.Len())%align != 0 {
			b.WriteByte(0)
		}
	}
	for _, n := range notes {
		name := n.rawName
		if name == nil {
			name = append([]byte(n.name), 0)
		}
		var h [12]byte
		bo.PutUint32(h[0:], uint32(len(name)))
		bo.PutUint32(h[4:], uint32(len(n.desc)))
		bo.PutUint32(h[8:], n.typ)
		b.Write(h[:])
		b.Write(name)
		pad()
		b.Write(n.desc)
		pad()
	}
	return b.Bytes()
}

// buildELF builds a minimal ELF file: header, one PT_NOTE program header per
// note region, the note data and (unless noSects) a section table with one
// SHT_NOTE section per region plus .shstrtab.
func buildELF(s elfSpec) []byte {
	var bo binary.ByteOrder = binary.LittleEndian
	if s.bigEndian {
		bo = binary.BigEndian
	}
	align := s.align
	if align == 0 {
		align = 4
	}
	etype := s.etype
	if etype == 0 {
		etype = 2
	}
	ehsize, phentsize, shentsize := 64, 56, 64
	if s.class32 {
		ehsize, phentsize, shentsize = 52, 32, 40
	}
	nreg := len(s.regions)
	phoff := ehsize
	dataOff := phoff + nreg*phentsize
	var data []byte
	offs := make([]int, nreg)
	sizes := make([]int, nreg)
	for i, reg := range s.regions {
		for (dataOff+len(data))%8 != 0 {
			data = append(data, 0)
		}
		offs[i] = dataOff + len(data)
		nb := encodeNotes(bo, align, reg)
		sizes[i] = len(nb)
		data = append(data, nb...)
	}
	// .shstrtab
	shstr := []byte("\x00.shstrtab\x00.note.test\x00")
	shstrOff := dataOff + len(data)
	data = append(data, shstr...)
	for (dataOff+len(data))%8 != 0 {
		data = append(data, 0)
	}
	shoff := dataOff + len(data)
	nsect := 0
	if !s.noSects {
		nsect = 2 + nreg
	}
	out := make([]byte, shoff+nsect*shentsize)
	copy(out[dataOff:], data)
	copy(out, "\x7fELF")
	out[4] = 2
	if s.class32 {
		out[4] = 1
	}
	out[5] = 1
	if s.bigEndian {
		out[5] = 2
	}
	out[6] = 1
	bo.PutUint16(out[16:], etype)
	bo.PutUint16(out[18:], 62) // EM_X86_64 (any machine works)
	bo.PutUint32(out[20:], 1)
	put := func(off int, v uint64, size32 bool) int {
		if size32 {
			bo.PutUint32(out[off:], uint32(v))
			return off + 4
		}
		bo.PutUint64(out[off:], v)
		return off + 8
	}
	c32 := s.class32
	o := 24
	o = put(o, 0, c32)             // e_entry
	o = put(o, uint64(phoff), c32) // e_phoff
	shoffField := o                //
	o = put(o, uint64(shoff), c32) // e_shoff
	bo.PutUint32(out[o:], 0)       // e_flags
	bo.PutUint16(out[o+4:], uint16(ehsize))
	bo.PutUint16(out[o+6:], uint16(phentsize))
	bo.PutUint16(out[o+8:], uint16(nreg))
	if nsect > 0 {
		bo.PutUint16(out[o+10:], uint16(shentsize))
		bo.PutUint16(out[o+12:], uint16(nsect))
		bo.PutUint16(out[o+14:], 1) // .shstrtab index
	} else {
		put(shoffField, 0, c32)
	}
	for i := range s.regions {
		p := phoff + i*phentsize
		bo.PutUint32(out[p:], 4) // PT_NOTE
		if c32 {
			bo.PutUint32(out[p+4:], uint32(offs[i]))
			bo.PutUint32(out[p+16:], uint32(sizes[i]))
			bo.PutUint32(out[p+20:], uint32(sizes[i]))
			bo.PutUint32(out[p+24:], 4)
			bo.PutUint32(out[p+28:], uint32(align))
		} else {
			bo.PutUint32(out[p+4:], 4)
			bo.PutUint64(out[p+8:], uint64(offs[i]))
			bo.PutUint64(out[p+32:], uint64(sizes[i]))
			bo.PutUint64(out[p+40:], uint64(sizes[i]))
			bo.PutUint64(out[p+48:], align)
		}
	}
	sect := func(idx int, name, typ uint32, off, size int, align uint64) {
		p := shoff + idx*shentsize
		bo.PutUint32(out[p:], name)
		bo.PutUint32(out[p+4:], typ)
		if c32 {
			bo.PutUint32(out[p+16:], uint32(off))
			bo.PutUint32(out[p+20:], uint32(size))
			bo.PutUint32(out[p+32:], uint32(align))
		} else {
			bo.PutUint64(out[p+24:], uint64(off))
			bo.PutUint64(out[p+32:], uint64(size))
			bo.PutUint64(out[p+48:], align)
		}
	}
	if nsect > 0 {
		sect(1, 1, 3, shstrOff, len(shstr), 1) // .shstrtab, SHT_STRTAB
		for i := range s.regions {
			sect(2+i, 11, 7, offs[i], sizes[i], align) // .note.test, SHT_NOTE
		}
	}
	return out
}
