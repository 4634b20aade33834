package uki

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/ukibuild/ukibuild/internal/pe"
	"github.com/ukibuild/ukibuild/internal/pe/petest"
)

const extraSBAT = "x,1,X,x,1,https://x/\n"

const testSBAT = "sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\n"

func testStub(t *testing.T) *Stub {
	t.Helper()
	secs := []petest.Section{
		petest.Sec(".text", 0x1000, 0x150, 0x400, 0x200, petest.Fill(0x150, 1)),
		petest.Sec(".sbat", 0x2000, uint32(len(testSBAT)), 0x600, 0x200, []byte(testSBAT)),
	}
	s, err := NewStub(petest.Stub(0x400, secs, 0, nil))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func compose(t *testing.T, stub *Stub, secs ...Section) (*pe.File, []byte) {
	t.Helper()
	img, err := Compose(stub, secs)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if n, err := img.WriteTo(&buf); err != nil || n != img.Size() {
		t.Fatalf("WriteTo: %d, %v (size %d)", n, err, img.Size())
	}
	f, err := pe.Parse(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	return f, buf.Bytes()
}

func TestComposeLayout(t *testing.T) {
	stub := testStub(t)
	kernel := petest.Stub(0x400, []petest.Section{petest.Sec(".text", 0x1000, 0x10, 0x400, 0x200, petest.Fill(0x10, 9))}, 0, nil)
	kernel[0x80+4+20+71] = 0 // clear NX_COMPAT (0x100) in the kernel's DllCharacteristics
	f, data := compose(t, stub,
		Section{".cmdline", Text("cmdline", "quiet")},
		Section{".linux", Bytes("kernel", kernel)},
		Section{".empty", Text("empty", "")},
		Section{".initrd", Bytes("initrd", make([]byte, 0x1234))},
		Section{".sbat", Text("sbat", testSBAT+extraSBAT)},
	)
	type want struct {
		name              string
		va, vsz, ptr, raw uint32
		characteristics   uint32
	}
	wants := []want{
		{".text", 0x1000, 0x150, 0x400, 0x200, 0x40000040},
		{".sbat", 0x2000, uint32(len(testSBAT + extraSBAT)), 0x600, 0x200, 0x40000040},
		{".cmdline", 0x3000, 5, 0x800, 0x200, 0x40000040},
		{".linux", 0x4000, uint32(len(kernel)), 0xa00, 0x600, 0x40000020},
		{".empty", 0x5000, 0, 0x1000, 0, 0x40000040},
		{".initrd", 0x5000, 0x1234, 0x1000, 0x1400, 0x40000040},
	}
	if len(f.Sections) != len(wants) {
		t.Fatalf("got %d sections, want %d", len(f.Sections), len(wants))
	}
	for i, w := range wants {
		s := f.Sections[i]
		got := want{s.NameString(), s.VirtualAddress, s.VirtualSize, s.PointerToRawData, s.SizeOfRawData, s.Characteristics}
		if got != w {
			t.Errorf("section %d: got %+v, want %+v", i, got, w)
		}
	}
	if f.SizeOfImage != 0x7000 {
		t.Errorf("SizeOfImage %#x, want 0x7000", f.SizeOfImage)
	}
	if f.CheckSum != 0 || f.DllCharacteristics&pe.DllNXCompat != 0 {
		t.Errorf("CheckSum %#x, DllCharacteristics %#x: want 0 and NX cleared", f.CheckSum, f.DllCharacteristics)
	}
	if want := uint32(5 + len(kernel) + 0x1234); f.SizeOfInitializedData != want {
		t.Errorf("SizeOfInitializedData %d, want %d", f.SizeOfInitializedData, want)
	}
	if len(data) != 0x2400 {
		t.Errorf("file size %#x, want 0x2400", len(data))
	}
	if got := string(bytes.TrimRight(data[0x600:0x800], "\x00")); !strings.HasSuffix(got, extraSBAT) {
		t.Errorf(".sbat not replaced in place: %q", got)
	}
}

func TestComposeKeepsNXWhenKernelHasIt(t *testing.T) {
	stub := testStub(t)
	kernel := petest.Stub(0x400, []petest.Section{petest.Sec(".text", 0x1000, 0x10, 0x400, 0x200, nil)}, 0, nil)
	f, _ := compose(t, stub, Section{".linux", Bytes("kernel", kernel)})
	if f.DllCharacteristics&pe.DllNXCompat == 0 {
		t.Errorf("NX_COMPAT cleared although the kernel has it")
	}
	f, _ = compose(t, stub, Section{".linux", Text("not a PE", "bogus kernel")})
	if f.DllCharacteristics&pe.DllNXCompat == 0 {
		t.Errorf("NX_COMPAT cleared for a non-PE .linux")
	}
}

func TestComposeOutOfSlots(t *testing.T) {
	stub := testStub(t)
	// SizeOfHeaders 0x400: the table starts at 0x80+24+240 = 0x188 and
	// holds 2 headers up to 0x1d8: room for (0x400-0x1d8)/40 = 13 more.
	if n := stub.FreeSlots(); n != 13 {
		t.Fatalf("FreeSlots = %d, want 13", n)
	}
	var secs []Section
	for i := 0; i < 14; i++ {
		secs = append(secs, Section{string(rune('a'+i)) + "sec", Text("x", "x")})
	}
	_, err := Compose(stub, secs)
	if err == nil || !strings.Contains(err.Error(), "room for 13 more section headers") || !strings.Contains(err.Error(), "nsec") {
		t.Fatalf("got %v", err)
	}
	if _, err := Compose(stub, secs[:13]); err != nil {
		t.Fatalf("13 sections should fit: %v", err)
	}
}

func TestComposeSBATTooLarge(t *testing.T) {
	_, err := Compose(testStub(t), []Section{{".sbat", Bytes("big", make([]byte, 0x201))}})
	if err == nil || !strings.Contains(err.Error(), "need 513 bytes, have 512") {
		t.Fatalf("got %v", err)
	}
}

func TestStubRefusals(t *testing.T) {
	good := petest.Stub(0x400, []petest.Section{petest.Sec(".text", 0x1000, 0x10, 0x400, 0x200, nil)}, 0, nil)
	signed := bytes.Clone(good)
	signed[0x80+24+112+4*8] = 0x10 // certificate table VirtualAddress
	for name, c := range map[string]struct {
		data []byte
		want string
	}{
		"empty":     {nil, "beyond the end of the file"},
		"not MZ":    {[]byte(strings.Repeat("ELF!", 64)), "no MZ signature"},
		"signed":    {signed, "stub is signed"},
		"truncated": {good[:0x200], "beyond the end of the file"},
	} {
		_, err := NewStub(c.data)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", name, err, c.want)
		}
	}
}

type failingContent struct{}

func (failingContent) Size() int64                  { return 10 }
func (failingContent) String() string               { return "failing" }
func (failingContent) Open() (io.ReadCloser, error) { return nil, errors.New("boom") }

func TestWriteToReportsSourceErrors(t *testing.T) {
	img, err := Compose(testStub(t), []Section{{".initrd", failingContent{}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := img.WriteTo(io.Discard); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("got %v", err)
	}
}

func TestJoinInitrds(t *testing.T) {
	c := JoinInitrds([]Content{Text("a", "abcde"), Text("b", "xy"), Text("c", "1234")})
	rc, _ := c.Open()
	got, _ := io.ReadAll(rc)
	if want := "abcde\x00\x00\x00xy\x00\x001234"; string(got) != want || c.Size() != int64(len(want)) {
		t.Fatalf("got %q (size %d)", got, c.Size())
	}
	if one := Text("a", "abc"); JoinInitrds([]Content{one}) != one {
		t.Fatalf("a single initrd must be used as it is")
	}
}
