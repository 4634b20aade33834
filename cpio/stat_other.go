//go:build !linux

package cpio

import (
	"errors"
	"io/fs"
	"os"
)

// The archive needs Linux's lstat fields (device numbers, links); other
// systems are not supported yet.

type fileStat struct {
	dev, ino  uint64
	mode      uint32
	nlink     uint64
	uid, gid  uint32
	rdev      uint64
	size      int64
	mtimeSec  int64
	mtimeNsec int64
}

func lstat(path string) (fileStat, error) {
	return fileStat{}, &fs.PathError{Op: "lstat", Path: path, Err: errors.ErrUnsupported}
}

func fstat(f *os.File) (fileStat, error) {
	return fileStat{}, &fs.PathError{Op: "fstat", Path: f.Name(), Err: errors.ErrUnsupported}
}

func openFile(path string) (*os.File, error) { return os.Open(path) }

func major(dev uint64) uint32 { return 0 }
func minor(dev uint64) uint32 { return 0 }
