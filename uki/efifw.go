package uki

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// EFIFWMagic is the magic number that starts a .efifw section, stored as a
// little-endian uint32 (FWHEADERMAGIC in src/boot/efi-firmware.h, systemd
// v262).
const EFIFWMagic = 0xfeeddead

// efifwHeaderSize is the header ukify 262 writes: magic, header_len,
// fwid_len and payload_len, four little-endian uint32s.
const efifwHeaderSize = 16

// EFIFW returns a .efifw section: the header (EFIFWMagic, the header
// length 16, the length of fwid including its NUL terminator, the length of
// the payload; little-endian uint32s), fwid with a NUL byte, then the
// payload (streamed). This is the layout of ukify 262's parse_efifw_dir and
// the one systemd-stub's efifw_validate_header (src/boot/efi-firmware.c)
// accepts. fwid must be non-empty UTF-8 without NUL bytes.
func EFIFW(fwid string, payload Content) (Content, error) {
	if fwid == "" || strings.IndexByte(fwid, 0) >= 0 {
		return nil, fmt.Errorf("firmware ID %q: must be non-empty and without NUL bytes", fwid)
	}
	if payload.Size() == 0 {
		return nil, fmt.Errorf("firmware %s is empty", payload)
	}
	if payload.Size() > math.MaxUint32-efifwHeaderSize-int64(len(fwid))-1 {
		return nil, fmt.Errorf("firmware %s is too large (%d bytes) for a .efifw section", payload, payload.Size())
	}
	le := binary.LittleEndian
	head := le.AppendUint32(nil, EFIFWMagic)
	head = le.AppendUint32(head, efifwHeaderSize)
	head = le.AppendUint32(head, uint32(len(fwid)+1))
	head = le.AppendUint32(head, uint32(payload.Size()))
	head = append(append(head, fwid...), 0)
	return Concat("firmware "+fwid+" from "+payload.String(), 1, Bytes("efifw header", head), payload), nil
}

// EFIFWFromDir returns the .efifw section for a ukify --efifw directory:
// the directory holds exactly one entry, a non-empty file, the firmware;
// the directory's name is the firmware ID (the last component of dir as
// given, as Python's pathlib takes it: "." components and trailing slashes
// are ignored).
func EFIFWFromDir(dir string) (Content, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("firmware directory: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("firmware directory %s: not a directory", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("firmware directory %s: %w", dir, err)
	}
	if len(entries) != 1 {
		return nil, fmt.Errorf("firmware directory %s must contain exactly one firmware image file, it has %d entries", dir, len(entries))
	}
	fwid := pathlibName(dir)
	if fwid == "" {
		return nil, fmt.Errorf("firmware directory %s: cannot name the firmware after it (the firmware ID is the directory's name)", dir)
	}
	fw, err := File(filepath.Join(dir, entries[0].Name()))
	if err != nil {
		return nil, fmt.Errorf("firmware directory %s: %w", dir, err)
	}
	c, err := EFIFW(fwid, fw)
	if err != nil {
		return nil, fmt.Errorf("firmware directory %s: %w", dir, err)
	}
	return c, nil
}

// pathlibName is Path(p).parts[-1] for a relative or absolute path without
// "//" roots, or "" when p has no name component ("." or "/").
func pathlibName(p string) string {
	var last string
	for _, part := range strings.Split(p, "/") {
		if part != "" && part != "." {
			last = part
		}
	}
	return last
}
