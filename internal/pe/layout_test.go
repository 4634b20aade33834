package pe_test

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/ukibuild/ukibuild/internal/pe"
	"github.com/ukibuild/ukibuild/internal/pe/petest"
)

func TestCheckLayout(t *testing.T) {
	good := []petest.Section{
		petest.Sec(".text", 0x1000, 0x150, 0x400, 0x200, nil),
		petest.Sec(".data", 0x2000, 0x80, 0x600, 0x200, nil),
	}
	const opt = 0x80 + 4 + 20 // optional header offset in petest images
	cases := []struct {
		name string
		img  []byte
		want string // "" means accepted
	}{
		{"good", petest.Stub(0x400, good, 0, nil), ""},
		{"raw data out of order", petest.Stub(0x400, []petest.Section{
			petest.Sec(".text", 0x1000, 0x150, 0x600, 0x200, nil),
			petest.Sec(".data", 0x2000, 0x80, 0x400, 0x200, nil),
		}, 0, nil), `section 1 (".data"): raw data at 1024+512 overlaps or precedes that of section 0`},
		{"raw data overlapping", petest.Stub(0x400, []petest.Section{
			petest.Sec(".text", 0x1000, 0x150, 0x400, 0x400, nil),
			petest.Sec(".data", 0x2000, 0x80, 0x600, 0x200, nil),
		}, 0, nil), "overlaps or precedes"},
		{"raw data inside the headers", petest.Stub(0x400, []petest.Section{
			petest.Sec(".text", 0x1000, 0x150, 0x200, 0x200, nil),
		}, 0, nil), "starts inside the headers (SizeOfHeaders 1024)"},
		{"virtual ranges overlapping", petest.Stub(0x400, []petest.Section{
			petest.Sec(".text", 0x1000, 0x1500, 0x400, 0x200, nil),
			petest.Sec(".data", 0x2000, 0x80, 0x600, 0x200, nil),
		}, 0, nil), `virtual address 0x2000 overlaps or precedes section 0 (".text") at 0x1000+0x1500`},
		{"sections without raw data anywhere", petest.Stub(0x400, []petest.Section{
			petest.Sec(".text", 0x1000, 0x150, 0x400, 0x200, nil),
			petest.Sec(".bss", 0x2000, 0x80, 0, 0, nil),
			petest.Sec(".data", 0x3000, 0x80, 0x600, 0x200, nil),
		}, 0, nil), ""},
	}
	pe32 := petest.Stub(0x400, good, 0, nil)
	binary.LittleEndian.PutUint16(pe32[opt:], pe.Magic32)
	cases = append(cases, struct {
		name string
		img  []byte
		want string
	}{"PE32 magic on x86-64", pe32, "the optional header is PE32 (magic 0x10b) but machine type 0x8664 (x86-64) needs PE32+"})
	bigFA := petest.Stub(0x400, good, 0, nil)
	binary.LittleEndian.PutUint32(bigFA[opt+pe.OptFileAlignment:], 1<<20)
	binary.LittleEndian.PutUint32(bigFA[opt+pe.OptSectionAlignment:], 1<<20)
	cases = append(cases, struct {
		name string
		img  []byte
		want string
	}{"FileAlignment 1 MiB", bigFA, "FileAlignment 1048576 is larger than the 64 KiB"})
	smallSA := petest.Stub(0x400, good, 0, nil)
	binary.LittleEndian.PutUint32(smallSA[opt+pe.OptSectionAlignment:], 0x100)
	cases = append(cases, struct {
		name string
		img  []byte
		want string
	}{"SectionAlignment below FileAlignment", smallSA, "SectionAlignment 256 is smaller than FileAlignment 512"})

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := pe.Parse(bytes.NewReader(c.img), int64(len(c.img)))
			if err != nil {
				t.Fatal(err)
			}
			err = f.CheckLayout()
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("CheckLayout = %v, want nil", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || !pe.IsFormatError(err)):
				t.Fatalf("CheckLayout = %v, want a FormatError containing %q", err, c.want)
			}
		})
	}
}

func TestCheckOverlap(t *testing.T) {
	for _, c := range []struct {
		name string
		secs []petest.Section
		want string
	}{
		{"in order", []petest.Section{
			petest.Sec(".text", 0x1000, 0x150, 0x400, 0x200, nil),
			petest.Sec(".data", 0x2000, 0x80, 0x600, 0x200, nil),
		}, ""},
		{"out of order, apart", []petest.Section{
			petest.Sec(".text", 0x1000, 0x150, 0x600, 0x200, nil),
			petest.Sec(".data", 0x2000, 0x80, 0x400, 0x200, nil),
		}, ""},
		{"virtual ranges overlapping", []petest.Section{
			petest.Sec(".text", 0x1000, 0x1500, 0x400, 0x200, nil),
			petest.Sec(".data", 0x2000, 0x80, 0x600, 0x200, nil),
		}, ""},
		{"raw data overlapping", []petest.Section{
			petest.Sec(".text", 0x1000, 0x150, 0x600, 0x200, nil),
			petest.Sec(".data", 0x2000, 0x80, 0x400, 0x300, nil),
		}, `section 0 (".text"): raw data at 1536+512 overlaps that of section 1 (".data") at 1024+768`},
		{"raw data inside the headers", []petest.Section{
			petest.Sec(".text", 0x1000, 0x150, 0x600, 0x200, nil),
			petest.Sec(".data", 0x2000, 0x80, 0x300, 0x100, nil),
		}, `section 1 (".data"): raw data at 768 starts inside the headers`},
	} {
		t.Run(c.name, func(t *testing.T) {
			img := petest.Stub(0x400, c.secs, 0, nil)
			f, err := pe.Parse(bytes.NewReader(img), int64(len(img)))
			if err != nil {
				t.Fatal(err)
			}
			err = f.CheckOverlap()
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("CheckOverlap = %v, want nil", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("CheckOverlap = %v, want an error containing %q", err, c.want)
			}
		})
	}
}
