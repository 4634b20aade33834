package cpio_test

import (
	"bytes"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/ukibuild/ukibuild/cpio"
)

// ExampleWrite archives a tree with one file, owned by root and clamped to
// SOURCE_DATE_EPOCH, and prints the newc header fields. Each value follows
// from the input and the format: inode 0 (numbers count from 0), mode
// 0100644 (a regular file, rw-r--r--), owner 0:0, one link, the time clamped
// to the epoch, 3 bytes of data, 6 bytes of name with its NUL; then the
// trailer, and 512 bytes in all.
func ExampleWrite() {
	dir, err := os.MkdirTemp("", "cpio-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "hello")
	if err := os.WriteFile(file, []byte("hi\n"), 0o644); err != nil {
		log.Fatal(err)
	}
	if err := os.Chmod(file, 0o644); err != nil { // whatever the umask
		log.Fatal(err)
	}
	epoch, err := cpio.ParseSourceDateEpoch("1700000000") // 0x6553F100
	if err != nil {
		log.Fatal(err)
	}
	var b bytes.Buffer
	if err := cpio.Write(&b, dir, cpio.Options{Owner: &cpio.Owner{UID: 0, GID: 0}, SourceDateEpoch: epoch}); err != nil {
		log.Fatal(err)
	}
	a := b.Bytes()
	for off := 0; ; {
		h := a[off : off+110]
		var namesize, size int
		fmt.Sscanf(string(h[94:102]), "%08X", &namesize)
		fmt.Sscanf(string(h[54:62]), "%08X", &size)
		name := string(a[off+110 : off+110+namesize-1])
		fmt.Printf("magic %s ino %s mode %s uid %s gid %s nlink %s mtime %s size %s namesize %s %q\n",
			h[0:6], h[6:14], h[14:22], h[22:30], h[30:38], h[38:46], h[46:54], h[54:62], h[94:102], name)
		off = (off + 110 + namesize + 3) &^ 3
		off = (off + size + 3) &^ 3
		if name == "TRAILER!!!" {
			break
		}
	}
	fmt.Println(len(a), "bytes; clamped to", epoch.Format(time.RFC3339))
	// Output:
	// magic 070701 ino 00000000 mode 000081A4 uid 00000000 gid 00000000 nlink 00000001 mtime 6553F100 size 00000003 namesize 00000006 "hello"
	// magic 070701 ino 00000000 mode 00000000 uid 00000000 gid 00000000 nlink 00000001 mtime 00000000 size 00000000 namesize 0000000B "TRAILER!!!"
	// 512 bytes; clamped to 2023-11-14T22:13:20Z
}
