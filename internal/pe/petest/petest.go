// Package petest builds small synthetic PE images for tests: stubs with
// (possibly unaligned) sections and COFF symbol tables, shapes that Debian's
// real stubs do not have but that ukify's stub fix-ups handle.
package petest

import "encoding/binary"

// Section describes a section of a synthetic stub.
type Section struct {
	Name     string
	VA, VSz  uint32
	Ptr, Raw uint32
	Data     []byte
}

// Stub builds a small PE32+ image with the given (possibly unaligned)
// sections, SizeOfHeaders, and an optional COFF symbol table at the end, to
// exercise ukify's stub fix-ups that Debian's stubs do not need.
func Stub(sizeOfHeaders uint32, secs []Section, symbols int, trailer []byte) []byte {
	le := binary.LittleEndian
	const lfanew = 0x80
	optSize := 240
	end := uint32(0)
	for _, s := range secs {
		end = max(end, s.Ptr+s.Raw)
	}
	img := make([]byte, end)
	copy(img, "MZ")
	le.PutUint32(img[0x3c:], lfanew)
	copy(img[lfanew:], "PE\x00\x00")
	coff := img[lfanew+4:]
	le.PutUint16(coff[0:], 0x8664)
	le.PutUint16(coff[2:], uint16(len(secs)))
	le.PutUint16(coff[16:], uint16(optSize))
	le.PutUint16(coff[18:], 0x0206)
	opt := coff[20:]
	le.PutUint16(opt[0:], 0x20b)
	le.PutUint32(opt[16:], secs[0].VA) // entry point
	le.PutUint32(opt[32:], 0x1000)     // SectionAlignment
	le.PutUint32(opt[36:], 0x200)      // FileAlignment
	last := secs[len(secs)-1]
	le.PutUint32(opt[56:], (last.VA+last.VSz+0xfff)&^0xfff)
	le.PutUint32(opt[60:], sizeOfHeaders)
	le.PutUint16(opt[68:], 10) // EFI application
	le.PutUint16(opt[70:], 0x0160)
	le.PutUint32(opt[108:], 16)
	tbl := opt[optSize:]
	for i, s := range secs {
		h := tbl[i*40:]
		copy(h, s.Name)
		le.PutUint32(h[8:], s.VSz)
		le.PutUint32(h[12:], s.VA)
		le.PutUint32(h[16:], s.Raw)
		le.PutUint32(h[20:], s.Ptr)
		le.PutUint32(h[36:], 0x40000040)
		copy(img[s.Ptr:s.Ptr+s.Raw], s.Data)
	}
	if symbols > 0 {
		le.PutUint32(coff[8:], uint32(len(img)))
		le.PutUint32(coff[12:], uint32(symbols))
		img = append(img, make([]byte, 18*symbols)...)
		img = append(img, trailer...)
	}
	return img
}

// Fill returns n bytes counting up from b.
func Fill(n int, b byte) []byte {
	d := make([]byte, n)
	for i := range d {
		d[i] = b + byte(i)
	}
	return d
}

// Sec returns a Section.
func Sec(name string, va, vsz, ptr, raw uint32, data []byte) Section {
	return Section{Name: name, VA: va, VSz: vsz, Ptr: ptr, Raw: raw, Data: data}
}
