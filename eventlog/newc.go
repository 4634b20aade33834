package eventlog

import (
	"fmt"
	"strings"
)

// newcWriter writes the "newc" cpio headers systemd's src/boot/cpio.c
// writes (pack_cpio_one, pack_cpio_dir, pack_cpio_trailer; systemd 262),
// shared by systemd-stub's archives (stubCPIO) and systemd-boot's archives
// of a Type #1 entry's extra files (entryArchives): inodes counted from 1,
// uid, gid and mtime 0, nlink 1, each header padded to 4 bytes.
type newcWriter struct{ inode uint32 }

// header appends the header of an entry of mode, size and name to b.
func (w *newcWriter) header(b []byte, mode uint32, size int64, name string) ([]byte, error) {
	if size > 0xffffffff {
		return nil, fmt.Errorf("%s: %d bytes, more than a cpio entry holds", name, size)
	}
	if w.inode == 0 {
		w.inode = 1
	}
	b = append(b, "070701"...)
	for _, v := range []uint32{w.inode, mode, 0, 0, 1, 0, uint32(size), 0, 0, 0, 0, uint32(len(name) + 1), 0} {
		b = fmt.Appendf(b, "%08x", v)
	}
	b = append(b, name...)
	b = append(b, 0)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	w.inode++
	return b, nil
}

// dirs appends a directory entry for each component of prefix
// (pack_cpio_prefix): the leading ones mode 0555, the last one dirMode.
func (w *newcWriter) dirs(b []byte, prefix string, dirMode uint32) ([]byte, error) {
	parts := strings.Split(prefix, "/")
	for i := range parts {
		if parts[i] == "" {
			continue
		}
		mode := uint32(0o555)
		if i == len(parts)-1 {
			mode = dirMode
		}
		var err error
		if b, err = w.header(b, 0o040000|mode, 0, strings.Join(parts[:i+1], "/")); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// newcTrailer is the trailer byte for byte as pack_cpio_trailer writes
// it: ino, mode, uid and gid 0, nlink 1, the rest 0, name size 11
// (upper-case B), "TRAILER!!!" and four NUL bytes.
const newcTrailer = "070701" + "00000000" + "00000000" + "00000000" + "00000000" + "00000001" +
	"00000000" + "00000000" + "00000000" + "00000000" + "00000000" + "00000000" + "0000000B" + "00000000" +
	"TRAILER!!!\x00\x00\x00\x00"

// isASCII says whether s is ASCII: cpio.c skips (systemd-boot) or refuses
// (the stub's callers) other names.
func isASCII(s string) bool {
	for _, r := range s {
		if r > 0x7f {
			return false
		}
	}
	return true
}
