package uki

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/ukibuild/ukibuild/internal/pyjson"
	"github.com/ukibuild/ukibuild/uefi"
)

// HWIDType is the kind of resource a .hwids record binds a CHID to
// (src/boot/chid.h, DEVICE_TYPE_*, systemd v262).
type HWIDType uint32

// The record types of systemd 262's .hwids table.
const (
	// HWIDDevicetree binds a CHID to a devicetree: the stub picks the
	// .dtbauto section whose "compatible" matches.
	HWIDDevicetree HWIDType = 1
	// HWIDFirmware binds a CHID to a firmware blob: the .efifw section
	// whose firmware ID matches.
	HWIDFirmware HWIDType = 2
)

// hwidRecordSize is sizeof(Device) in src/boot/chid.h (v262): a uint32
// descriptor (type << 28 | size), the CHID as an EFI_GUID and two uint32
// string offsets relative to the start of the section.
const hwidRecordSize = 4 + 16 + 4 + 4

// HWIDDevice is one device of a .hwids table: a name, the devicetree
// compatible string (HWIDDevicetree) or firmware ID (HWIDFirmware) it maps
// to, and the CHIDs (computer hardware IDs, as `fwupdtool hwids` prints
// them) that identify it.
type HWIDDevice struct {
	Type HWIDType
	Name string
	// Match is the "compatible" string of a devicetree device, or the
	// "fwid" of a firmware device.
	Match string
	// CHIDs are UUIDs in RFC 4122 (big-endian) byte order. Duplicates are
	// dropped.
	CHIDs [][16]byte
}

// EncodeHWIDs returns the .hwids section for devices exactly as ukify 262's
// parse_hwid_dir lays it out (src/ukify/ukify.py; the format is Device in
// src/boot/chid.h):
//   - for each device in the given order, one 28-byte record per CHID, the
//     CHIDs sorted (as UUIDs: by their big-endian bytes) and without
//     duplicates; each record holds the descriptor (type << 28 | 28), the
//     CHID as an EFI GUID (first three fields little-endian), and the
//     offsets of the name and of the compatible string or firmware ID;
//   - an all-zero record that ends the table;
//   - the strings (names, compatibles, firmware IDs), without duplicates,
//     sorted by code point, each NUL-terminated; the offsets point here.
//
// Devices with the same type, name and match string are merged (their CHIDs
// joined), as ukify merges them, at the position of the first.
func EncodeHWIDs(devices []HWIDDevice) ([]byte, error) {
	type key struct {
		typ         HWIDType
		name, match string
	}
	var order []key
	chids := map[key][][16]byte{}
	strs := map[string]bool{}
	for i, d := range devices {
		if d.Type != HWIDDevicetree && d.Type != HWIDFirmware {
			return nil, fmt.Errorf("device %d (%q): unknown type %d", i, d.Name, d.Type)
		}
		for _, s := range []string{d.Name, d.Match} {
			if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
				return nil, fmt.Errorf("device %d: %q is not a NUL-free UTF-8 string", i, s)
			}
			strs[s] = true
		}
		k := key{d.Type, d.Name, d.Match}
		if _, ok := chids[k]; !ok {
			order = append(order, k)
		}
		chids[k] = append(chids[k], d.CHIDs...)
	}
	records := 1
	for _, k := range order {
		list := chids[k]
		slices.SortFunc(list, func(a, b [16]byte) int { return bytes.Compare(a[:], b[:]) })
		list = slices.Compact(list)
		chids[k] = list
		records += len(list)
	}
	sorted := make([]string, 0, len(strs))
	for s := range strs {
		sorted = append(sorted, s)
	}
	slices.Sort(sorted) // byte order of UTF-8 is code point order, as Python sorts str
	base := records * hwidRecordSize
	offsets := map[string]uint32{}
	var table bytes.Buffer
	for _, s := range sorted {
		off := base + table.Len()
		if off > 1<<28 {
			return nil, errors.New("the .hwids table is too large")
		}
		offsets[s] = uint32(off)
		table.WriteString(s)
		table.WriteByte(0)
	}
	out := make([]byte, 0, base+table.Len())
	le := binary.LittleEndian
	for _, k := range order {
		for _, c := range chids[k] {
			out = le.AppendUint32(out, uint32(k.typ)<<28|hwidRecordSize)
			g := uefi.GUIDFromUUID(c)
			out = append(out, g[:]...)
			out = le.AppendUint32(out, offsets[k.name])
			out = le.AppendUint32(out, offsets[k.match])
		}
	}
	out = append(out, make([]byte, hwidRecordSize)...)
	return append(out, table.Bytes()...), nil
}

// ReadHWIDsDir reads the device descriptions of a ukify --hwids directory as
// ukify 262's parse_hwid_dir does: every file whose name ends in ".json",
// searched recursively (symbolic links to directories are not followed),
// in the order of their paths compared component by component (as Python
// sorts pathlib paths). Each is a JSON object with "type" ("devicetree" or
// "uefi-fw"), "name", "hwids" (a list of CHIDs as UUID strings) and
// "compatible" (devicetree) or "fwid" (uefi-fw).
//
// Unlike ukify, a directory that does not exist is an error (ukify builds an
// empty table), as are strings holding NUL bytes.
func ReadHWIDsDir(dir string) ([]HWIDDevice, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("HWIDs directory: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("HWIDs directory %s: not a directory", dir)
	}
	// A trailing separator makes WalkDir follow a symbolic link given as
	// the directory itself; links below it are not followed.
	root := strings.TrimRight(dir, string(filepath.Separator)) + string(filepath.Separator)
	type file struct {
		path  string
		parts []string
	}
	var files []file
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root || !strings.HasSuffix(d.Name(), ".json") {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		files = append(files, file{p, strings.Split(rel, string(filepath.Separator))})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("HWIDs directory %s: %w", dir, err)
	}
	slices.SortFunc(files, func(a, b file) int { return slices.Compare(a.parts, b.parts) })
	var devices []HWIDDevice
	for _, f := range files {
		d, err := readHWIDFile(f.path)
		if err != nil {
			return nil, fmt.Errorf("hwid description file %s: %w", f.path, err)
		}
		devices = append(devices, d)
	}
	return devices, nil
}

// HWIDsFromDir returns the .hwids section built from a ukify --hwids
// directory (ReadHWIDsDir, then EncodeHWIDs).
func HWIDsFromDir(dir string) (Content, error) {
	devices, err := ReadHWIDsDir(dir)
	if err != nil {
		return nil, err
	}
	b, err := EncodeHWIDs(devices)
	if err != nil {
		return nil, fmt.Errorf("HWIDs directory %s: %w", dir, err)
	}
	return Bytes("HWIDs from "+dir, b), nil
}

// DefaultHWIDsDir is the directory ukify 262 builds .hwids from when --hwids
// is not given and the directory exists.
func DefaultHWIDsDir(arch string) string { return "/usr/lib/systemd/boot/hwids/" + arch }

// readHWIDFile parses one device description with ukify's checks.
func readHWIDFile(path string) (HWIDDevice, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return HWIDDevice{}, err
	}
	if !utf8.Valid(data) {
		return HWIDDevice{}, errors.New("not valid UTF-8")
	}
	obj, err := pyjson.UnmarshalObject(data)
	if err != nil {
		return HWIDDevice{}, err
	}
	for _, k := range []string{"type", "name", "hwids"} {
		if _, ok := obj.Get(k); !ok {
			return HWIDDevice{}, fmt.Errorf("does not contain %q", k)
		}
	}
	compatible, hasCompatible := obj.Get("compatible")
	fwid, hasFWID := obj.Get("fwid")
	if !hasCompatible && !hasFWID {
		return HWIDDevice{}, errors.New(`must contain one of "compatible", "fwid"`)
	}
	var d HWIDDevice
	typ, _ := obj.Get("type")
	switch typ {
	case "devicetree":
		d.Type = HWIDDevicetree
		if hasFWID {
			return HWIDDevice{}, errors.New(`a "devicetree" device cannot have "fwid"`)
		}
		d.Match, _ = compatible.(string)
		if _, ok := compatible.(string); !ok {
			return HWIDDevice{}, errors.New(`"compatible" is not a string`)
		}
	case "uefi-fw":
		d.Type = HWIDFirmware
		if hasCompatible {
			return HWIDDevice{}, errors.New(`a "uefi-fw" device cannot have "compatible"`)
		}
		d.Match, _ = fwid.(string)
		if _, ok := fwid.(string); !ok {
			return HWIDDevice{}, errors.New(`"fwid" is not a string`)
		}
	default:
		return HWIDDevice{}, fmt.Errorf(`unknown "type" %v (want "devicetree" or "uefi-fw")`, typ)
	}
	name, _ := obj.Get("name")
	var ok bool
	if d.Name, ok = name.(string); !ok {
		return HWIDDevice{}, errors.New(`"name" is not a string`)
	}
	hwids, _ := obj.Get("hwids")
	list, ok := hwids.([]any)
	if !ok {
		return HWIDDevice{}, errors.New(`"hwids" is not a list`)
	}
	for _, v := range list {
		s, ok := v.(string)
		if !ok {
			return HWIDDevice{}, fmt.Errorf(`"hwids": %v is not a string`, v)
		}
		u, err := ParseUUID(s)
		if err != nil {
			return HWIDDevice{}, fmt.Errorf(`"hwids": %w`, err)
		}
		d.CHIDs = append(d.CHIDs, u)
	}
	return d, nil
}

// ParseUUID parses a UUID string as Python's uuid.UUID(hex) does: "urn:"
// and "uuid:" are removed, braces stripped from both ends and hyphens
// removed; the 32 characters left are a hexadecimal number as Python's
// int(s, 16) reads it (surrounding whitespace, a "+" sign, a "0x" prefix
// and single underscores between digits are allowed). Non-ASCII input is
// refused.
func ParseUUID(s string) ([16]byte, error) {
	var u [16]byte
	bad := fmt.Errorf("badly formed hexadecimal UUID string %q", s)
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return u, bad
		}
	}
	h := strings.ReplaceAll(strings.ReplaceAll(s, "urn:", ""), "uuid:", "")
	h = strings.ReplaceAll(strings.Trim(h, "{}"), "-", "")
	if len(h) != 32 {
		return u, bad
	}
	// int(h, 16): whitespace (Python's str.isspace for ASCII), sign,
	// prefix, digits with single underscores between them.
	h = strings.Trim(h, " \t\n\v\f\r\x1c\x1d\x1e\x1f")
	h = strings.TrimPrefix(h, "+")
	underscoreOK := false
	if len(h) >= 2 && h[0] == '0' && (h[1] == 'x' || h[1] == 'X') {
		h = h[2:]
		underscoreOK = true
	}
	var digits []byte
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case c == '_' && underscoreOK && i+1 < len(h) && h[i+1] != '_':
			underscoreOK = false
			continue
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return u, bad
		}
		digits = append(digits, c)
		underscoreOK = true
	}
	if len(digits) == 0 {
		return u, bad
	}
	for i, d := range digits {
		pos := len(digits) - 1 - i // from the least significant digit
		u[15-pos/2] |= d << (4 * (pos % 2))
	}
	return u, nil
}
