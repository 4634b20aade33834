package pe

import "sort"

// Machine types (PE format, "Machine Types") whose optional header format
// is fixed: 32-bit machines use PE32, 64-bit ones PE32+.
var machineMagic = map[uint16]struct {
	name  string
	magic uint16
}{
	0x014c: {"i386", Magic32},
	0x01c0: {"ARM", Magic32},
	0x01c2: {"ARM Thumb", Magic32},
	0x01c4: {"ARMv7 Thumb-2", Magic32},
	0x5032: {"RISC-V 32", Magic32},
	0x6232: {"LoongArch 32", Magic32},
	0x0200: {"IA-64", Magic32Plus},
	0x8664: {"x86-64", Magic32Plus},
	0xaa64: {"ARM64", Magic32Plus},
	0x5064: {"RISC-V 64", Magic32Plus},
	0x6264: {"LoongArch 64", Magic32Plus},
}

// MaxFileAlignment is the largest FileAlignment the PE format allows (64
// KiB). A larger one would make every section's padding that large.
const MaxFileAlignment = 64 << 10

// CheckLayout verifies, beyond CheckSections (which it calls), what a
// loader and the UKI composer rely on and what Parse leaves unchecked
// because inspecting an odd image is still useful:
//   - the optional header format (PE32 or PE32+) is the one the machine
//     type needs (a PE32 magic on an x86-64 image misreads every field
//     after ImageBase);
//   - SizeOfHeaders lies inside the file, FileAlignment is at most 64 KiB
//     and SectionAlignment is at least FileAlignment;
//   - the raw data of the sections that have any starts at or after
//     SizeOfHeaders and ascends in section table order without overlapping;
//   - the sections' virtual ranges ascend in section table order without
//     overlapping.
func (f *File) CheckLayout() error {
	if err := f.CheckSections(); err != nil {
		return err
	}
	if m, ok := machineMagic[f.Machine]; ok && m.magic != f.Magic {
		want := "PE32"
		if m.magic == Magic32Plus {
			want = "PE32+"
		}
		return formatErr("the optional header is %s (magic %#x) but machine type %#x (%s) needs %s", f.MagicName(), f.Magic, f.Machine, m.name, want)
	}
	if int64(f.SizeOfHeaders) > f.Size {
		return formatErr("SizeOfHeaders %d lies beyond the end of the file (%d bytes)", f.SizeOfHeaders, f.Size)
	}
	if f.FileAlignment > MaxFileAlignment {
		return formatErr("FileAlignment %d is larger than the 64 KiB the PE format allows", f.FileAlignment)
	}
	if f.SectionAlignment < f.FileAlignment {
		return formatErr("SectionAlignment %d is smaller than FileAlignment %d", f.SectionAlignment, f.FileAlignment)
	}
	rawEnd, rawPrev := int64(f.SizeOfHeaders), -1
	var vaEnd uint64
	for i := range f.Sections {
		s := &f.Sections[i]
		if s.SizeOfRawData != 0 {
			if int64(s.PointerToRawData) < rawEnd {
				if rawPrev < 0 {
					return formatErr("section %d (%q): raw data at %d starts inside the headers (SizeOfHeaders %d)", i, s.NameString(), s.PointerToRawData, f.SizeOfHeaders)
				}
				p := &f.Sections[rawPrev]
				return formatErr("section %d (%q): raw data at %d+%d overlaps or precedes that of section %d (%q) at %d+%d; sections must follow each other in the file",
					i, s.NameString(), s.PointerToRawData, s.SizeOfRawData, rawPrev, p.NameString(), p.PointerToRawData, p.SizeOfRawData)
			}
			rawEnd, rawPrev = int64(s.PointerToRawData)+int64(s.SizeOfRawData), i
		}
		if i > 0 && uint64(s.VirtualAddress) < vaEnd {
			p := &f.Sections[i-1]
			return formatErr("section %d (%q): virtual address %#x overlaps or precedes section %d (%q) at %#x+%#x; sections must follow each other in memory",
				i, s.NameString(), s.VirtualAddress, i-1, p.NameString(), p.VirtualAddress, p.VirtualSize)
		}
		vaEnd = uint64(s.VirtualAddress) + uint64(s.VirtualSize)
	}
	return nil
}

// CheckOverlap verifies, beyond CheckSections (which it calls), that no two
// sections' raw data overlap and that none overlaps the headers: firmware
// refuses to hash such an image for Secure Boot. Unlike CheckLayout it
// accepts sections in any order in the file and overlapping virtual ranges
// (ukify makes one when the stub's .sbat grows into the address of the next
// section, which the loader tolerates).
func (f *File) CheckOverlap() error {
	if err := f.CheckSections(); err != nil {
		return err
	}
	idx := make([]int, 0, len(f.Sections))
	for i := range f.Sections {
		if f.Sections[i].SizeOfRawData != 0 {
			idx = append(idx, i)
		}
	}
	sort.SliceStable(idx, func(a, b int) bool {
		return f.Sections[idx[a]].PointerToRawData < f.Sections[idx[b]].PointerToRawData
	})
	end, prev := int64(f.SizeOfHeaders), -1
	for _, i := range idx {
		s := &f.Sections[i]
		if int64(s.PointerToRawData) < end {
			if prev < 0 {
				return formatErr("section %d (%q): raw data at %d starts inside the headers (SizeOfHeaders %d)", i, s.NameString(), s.PointerToRawData, f.SizeOfHeaders)
			}
			p := &f.Sections[prev]
			return formatErr("section %d (%q): raw data at %d+%d overlaps that of section %d (%q) at %d+%d",
				i, s.NameString(), s.PointerToRawData, s.SizeOfRawData, prev, p.NameString(), p.PointerToRawData, p.SizeOfRawData)
		}
		end, prev = int64(s.PointerToRawData)+int64(s.SizeOfRawData), i
	}
	return nil
}
