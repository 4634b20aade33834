// Package e2e boots ukibuild's UKIs under QEMU + OVMF (x86-64) or AAVMF
// (arm64) + swtpm and checks what the firmware, the stub and the TPM do
// with them (see e2e_test.go and arm64_test.go, run by "task e2e").
package e2e

import (
	"bytes"
	"fmt"
)

// A cpio "newc" writer for the test initrd. Hand-written (about 50 lines)
// because the test needs exact control (uid/gid 0, mtime 0, a /dev/console
// device node, deterministic inode numbers) and the Go cpio libraries are
// either unmaintained or pull in a large module (u-root).

// CPIOEntry is one file, directory or device node.
type CPIOEntry struct {
	Name         string
	Mode         uint32 // including the file type bits
	Data         []byte
	Major, Minor uint32 // for device nodes
}

// Mode bits.
const (
	ModeDir  = 0o040000
	ModeFile = 0o100000
	ModeChar = 0o020000
	ModeLink = 0o120000
)

// CPIO returns a newc archive of entries (with a trailer).
func CPIO(entries []CPIOEntry) []byte {
	var b bytes.Buffer
	pad := func() {
		for b.Len()%4 != 0 {
			b.WriteByte(0)
		}
	}
	write := func(ino int, e CPIOEntry) {
		nlink := 1
		if e.Mode&0o170000 == ModeDir {
			nlink = 2
		}
		fmt.Fprintf(&b, "070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
			ino, e.Mode, 0, 0, nlink, 0, len(e.Data), 0, 0, e.Major, e.Minor, len(e.Name)+1, 0)
		b.WriteString(e.Name)
		b.WriteByte(0)
		pad()
		b.Write(e.Data)
		pad()
	}
	for i, e := range entries {
		write(i+1, e)
	}
	write(0, CPIOEntry{Name: "TRAILER!!!"})
	return b.Bytes()
}
