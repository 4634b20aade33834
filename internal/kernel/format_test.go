package kernel

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// peImage builds a PE header: e_lfanew = lfanew, signature sig, optional
// header magic magic, total file size size (at least the written headers).
func peImage(lfanew uint32, sig string, magic uint16, size int) []byte {
	b := make([]byte, max(size, 64))
	copy(b, "MZ")
	binary.LittleEndian.PutUint32(b[0x3c:], lfanew)
	if int(lfanew)+4 <= len(b) {
		copy(b[lfanew:], sig)
	}
	if int(lfanew)+26 <= len(b) {
		binary.LittleEndian.PutUint16(b[lfanew+24:], magic)
	}
	return b[:size]
}

// TestIsPE: the expected values are pefile.PE(data=..., fast_load=True)
// succeeding or raising PEFormatError with pefile 2024.8.26 from
// .cache/reftools/sid (see uname_test.go for how the reference code was run).
func TestIsPE(t *testing.T) {
	t.Parallel()
	const opt = 0x40 + 24 // optional header offset for e_lfanew 0x40
	tests := []struct {
		name string
		in   []byte
		want bool
	}{
		{"minimal PE32", peImage(0x40, "PE\x00\x00", 0x10b, opt+96), true},
		{"PE32 padded optional header (69 bytes)", peImage(0x40, "PE\x00\x00", 0x10b, opt+69), true},
		{"PE32 optional header 68 bytes", peImage(0x40, "PE\x00\x00", 0x10b, opt+68), false},
		{"PE32+ 73 bytes", peImage(0x40, "PE\x00\x00", 0x20b, opt+73), true},
		{"PE32+ 72 bytes", peImage(0x40, "PE\x00\x00", 0x20b, opt+72), false},
		{"unknown optional magic", peImage(0x40, "PE\x00\x00", 0x1234, opt+100), true},
		{"NE signature", peImage(0x40, "NE\x00\x00", 0x10b, opt+100), false},
		{"PE\\0\\1 signature", peImage(0x40, "PE\x00\x01", 0x10b, opt+100), false},
		{"zero signature", peImage(0x40, "\x00\x00\x00\x00", 0x10b, opt+100), false},
		{"e_lfanew beyond file", peImage(0x1000, "PE\x00\x00", 0x10b, 0x200), false},
		{"e_lfanew at end of file", peImage(0x200, "PE\x00\x00", 0x10b, 0x200), false},
		{"truncated COFF header", peImage(0x40, "PE\x00\x00", 0x10b, 0x40+4+19), false},
		{"ZM", append([]byte("ZM"), make([]byte, 200)...), false},
		{"63 bytes", peImage(0x40, "", 0, 63), false},
		{"empty", nil, false},
		{"ELF", append([]byte("\x7fELF"), make([]byte, 200)...), false},
	}
	for _, tc := range tests {
		if got := IsPE(bytes.NewReader(tc.in), int64(len(tc.in))); got != tc.want {
			t.Errorf("%s: IsPE = %v, want %v", tc.name, got, tc.want)
		}
	}
}
