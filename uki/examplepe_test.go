package uki_test

import "encoding/binary"

// tinyEFI returns a minimal PE32+ EFI application with one .text section
// holding text, laid out by hand from Microsoft's "PE Format" specification
// so that the examples need nothing but the standard library: an MS-DOS
// header whose e_lfanew (offset 0x3c) points at "PE\0\0" at 0x80, the COFF
// file header (x86-64), the 240-byte optional header (PE32+, 16 data
// directories, all empty), one section header, and the section's raw data
// at 0x400 (SizeOfHeaders), padded to FileAlignment (0x200).
func tinyEFI(text []byte) []byte {
	le := binary.LittleEndian
	raw := (uint32(len(text)) + 0x1ff) &^ 0x1ff
	img := make([]byte, 0x400+raw)
	copy(img, "MZ")
	le.PutUint32(img[0x3c:], 0x80)
	copy(img[0x80:], "PE\x00\x00")
	coff := img[0x84:]
	le.PutUint16(coff[0:], 0x8664) // Machine: x86-64
	le.PutUint16(coff[2:], 1)      // NumberOfSections
	le.PutUint16(coff[16:], 240)   // SizeOfOptionalHeader
	le.PutUint16(coff[18:], 0x0206)
	opt := coff[20:]
	le.PutUint16(opt[0:], 0x20b)                                    // PE32+
	le.PutUint32(opt[16:], 0x1000)                                  // AddressOfEntryPoint
	le.PutUint32(opt[32:], 0x1000)                                  // SectionAlignment
	le.PutUint32(opt[36:], 0x200)                                   // FileAlignment
	le.PutUint32(opt[56:], 0x1000+(uint32(len(text))+0xfff)&^0xfff) // SizeOfImage
	le.PutUint32(opt[60:], 0x400)                                   // SizeOfHeaders
	le.PutUint16(opt[68:], 10)                                      // Subsystem: EFI application
	le.PutUint16(opt[70:], 0x0160)                                  // DllCharacteristics
	le.PutUint32(opt[108:], 16)                                     // NumberOfRvaAndSizes
	sec := opt[240:]
	copy(sec, ".text")
	le.PutUint32(sec[8:], uint32(len(text))) // VirtualSize
	le.PutUint32(sec[12:], 0x1000)           // VirtualAddress
	le.PutUint32(sec[16:], raw)              // SizeOfRawData
	le.PutUint32(sec[20:], 0x400)            // PointerToRawData
	le.PutUint32(sec[36:], 0x60000020)       // code, execute, read
	copy(img[0x400:], text)
	return img
}
