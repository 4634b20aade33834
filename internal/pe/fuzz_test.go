package pe_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"os"
	"testing"

	"github.com/ukibuild/ukibuild/internal/pe"
	"github.com/ukibuild/ukibuild/internal/pe/petest"
	"github.com/ukibuild/ukibuild/internal/reftools"
)

// seedImages are synthetic PE images for the fuzz corpus: a plain stub, one
// with unaligned sections and a symbol table, one with a certificate table
// and a PE32 one.
func seedImages() [][]byte {
	secs := []petest.Section{
		petest.Sec(".text", 0x1000, 0x150, 0x400, 0x200, petest.Fill(0x150, 1)),
		petest.Sec(".sbat", 0x2000, 0x40, 0x600, 0x200, []byte("sbat,1,SBAT Version,sbat,1,https://example/\n")),
		petest.Sec(".sdmagic", 0x3000, 0x20, 0x800, 0x200, []byte("#### LoaderInfo: systemd-stub 262 ####")),
	}
	plain := petest.Stub(0x400, secs, 0, nil)
	unaligned := petest.Stub(0x2c0, []petest.Section{
		petest.Sec(".text", 0x1000, 0x150, 0x300, 0x150, petest.Fill(0x150, 1)),
		petest.Sec(".data", 0x2000, 0x80, 0x450, 0x90, petest.Fill(0x80, 2)),
	}, 3, []byte{8, 0, 0, 0, 'a', 'b', 'c', 0})
	signed := bytes.Clone(plain)
	sd := 0x80 + 4 + 20 + 112 + pe.DirSecurity*8
	binary.LittleEndian.PutUint32(signed[sd:], uint32(len(signed)))
	binary.LittleEndian.PutUint32(signed[sd+4:], 24)
	signed = append(signed, 16, 0, 0, 0, 0, 2, 2, 0, 0x30, 0x82, 0, 4, 1, 2, 3, 4, 8, 0, 0, 0, 0, 2, 0xf1, 0x0e)
	pe32 := bytes.Clone(plain)
	binary.LittleEndian.PutUint16(pe32[0x80+4:], 0x14c)
	binary.LittleEndian.PutUint16(pe32[0x80+4+20:], pe.Magic32)
	return [][]byte{plain, unaligned, signed, pe32, []byte("MZ"), make([]byte, 64)}
}

// checksum is the PE checksum computed the simple way, to check the fast
// path of pe.Checksum against.
func checksum(b []byte, field int64) uint32 {
	var sum uint64
	for i := int64(0); i < int64(len(b)); i += 2 {
		var w uint64
		for j := int64(0); j < 2 && i+j < int64(len(b)); j++ {
			if i+j < field || i+j >= field+4 {
				w |= uint64(b[i+j]) << (8 * j)
			}
		}
		sum += w
		sum = (sum & 0xffff) + (sum >> 16)
	}
	sum = (sum & 0xffff) + (sum >> 16)
	return uint32(sum) + uint32(len(b))
}

// FuzzParse feeds arbitrary images to the header reader and everything
// that works on its result: the section checks, the data ranges inspect and
// SBAT extraction read, the Authenticode ranges, the certificate table walk
// and the checksum. Nothing may panic, and every range handed out must lie
// inside the file.
func FuzzParse(f *testing.F) {
	for _, b := range seedImages() {
		f.Add(b)
	}
	// Real images from the reference tools: Debian's stubs, whole, and the
	// headers of Debian's kernel.
	tools := reftools.Locate(f)
	for _, key := range []string{"UKIBUILD_STUB_252", "UKIBUILD_STUB_262", "UKIBUILD_STUB_262_IA32", "UKIBUILD_ADDON_STUB_262", "UKIBUILD_KERNEL"} {
		b, err := os.ReadFile(tools.Path(f, key))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[:min(len(b), 256<<10)])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		size := int64(len(b))
		r := bytes.NewReader(b)
		file, err := pe.Parse(r, size)
		if err != nil {
			if file != nil {
				t.Fatal("Parse returned a file with an error")
			}
			return
		}
		if len(file.Sections) != int(file.NumberOfSections) || len(file.DataDirs) != int(file.NumberOfRvaAndSizes) || len(file.DataDirs) > 16 {
			t.Fatalf("%d sections for NumberOfSections %d, %d data directories", len(file.Sections), file.NumberOfSections, len(file.DataDirs))
		}
		if file.SectionHeaderOffset(len(file.Sections)) > size {
			t.Fatalf("the section table ends at %d, past the end of the file", file.SectionHeaderOffset(len(file.Sections)))
		}
		for i := range file.Sections {
			for _, n := range []int64{-1, 0, 7, int64(file.Sections[i].VirtualSize)} {
				off, end := file.DataRange(i, n)
				if off < 0 || off > end || end > size {
					t.Fatalf("DataRange(%d, %d) = [%d, %d) in a file of %d bytes", i, n, off, end, size)
				}
			}
		}
		sectionsOK := file.CheckSections() == nil
		if sectionsOK {
			for i, s := range file.Sections {
				if s.SizeOfRawData != 0 && int64(s.PointerToRawData)+int64(s.SizeOfRawData) > size {
					t.Fatalf("CheckSections accepted section %d past the end of the file", i)
				}
			}
		}
		overlapOK := file.CheckOverlap() == nil
		if overlapOK {
			var rs []pe.Range
			for _, s := range file.Sections {
				if s.SizeOfRawData != 0 {
					rs = append(rs, pe.Range{Off: int64(s.PointerToRawData), End: int64(s.PointerToRawData) + int64(s.SizeOfRawData)})
				}
			}
			for i, a := range rs {
				if a.Off < int64(file.SizeOfHeaders) {
					t.Fatalf("CheckOverlap accepted raw data at %d inside the headers", a.Off)
				}
				for _, b := range rs[i+1:] {
					if a.Off < b.End && b.Off < a.End {
						t.Fatalf("CheckOverlap accepted overlapping raw data [%d, %d) and [%d, %d)", a.Off, a.End, b.Off, b.End)
					}
				}
			}
		}
		if err := file.CheckLayout(); err == nil {
			if !sectionsOK || !overlapOK {
				t.Fatal("CheckLayout accepted what CheckSections or CheckOverlap refuses")
			}
			end := int64(file.SizeOfHeaders)
			for i, s := range file.Sections {
				if s.SizeOfRawData == 0 {
					continue
				}
				if int64(s.PointerToRawData) < end {
					t.Fatalf("CheckLayout accepted section %d whose raw data overlaps what precedes it", i)
				}
				end = int64(s.PointerToRawData) + int64(s.SizeOfRawData)
			}
		}

		if ranges, err := file.AuthenticodeRanges(size); err == nil {
			var total int64
			for _, rg := range ranges {
				if rg.Off < 0 || rg.Off >= rg.End || rg.End > size {
					t.Fatalf("Authenticode range [%d, %d) in a file of %d bytes", rg.Off, rg.End, size)
				}
				total += rg.Len()
			}
			if total > size {
				t.Fatalf("Authenticode ranges cover %d bytes of a %d-byte file", total, size)
			}
			h := sha256.New()
			if err := pe.HashRanges(h, r, size, ranges, make([]byte, 100)); err != nil {
				t.Fatalf("HashRanges: %v", err)
			}
		}
		if dir, ok := file.Security(); ok && dir.Size != 0 {
			entries, _ := pe.CertTable(r, size, dir)
			next := int64(dir.VirtualAddress)
			for i, e := range entries {
				if e.Offset != next || e.DataOffset()+e.DataLen() > int64(dir.VirtualAddress)+int64(dir.Size) || e.DataLen() < 0 {
					t.Fatalf("certificate table entry %d at %d (length %d) is outside the table at %d+%d or not where the previous ends", i, e.Offset, e.Length, dir.VirtualAddress, dir.Size)
				}
				next += e.AlignedLen()
			}
		}
		ck := file.ChecksumOffset()
		got, err := pe.ComputeChecksum(r, size, ck)
		if err != nil {
			t.Fatal(err)
		}
		if want := checksum(b, ck); got != want {
			t.Fatalf("checksum %#x, want %#x", got, want)
		}
	})
}
