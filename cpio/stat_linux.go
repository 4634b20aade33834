package cpio

import (
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// fileStat is what the archive needs from lstat(2).
type fileStat struct {
	dev, ino  uint64
	mode      uint32 // st_mode: type and permission bits
	nlink     uint64
	uid, gid  uint32
	rdev      uint64
	size      int64
	mtimeSec  int64
	mtimeNsec int64
}

func fromStat(s *unix.Stat_t) fileStat {
	return fileStat{
		dev: uint64(s.Dev), ino: uint64(s.Ino), mode: s.Mode, nlink: uint64(s.Nlink),
		uid: s.Uid, gid: s.Gid, rdev: uint64(s.Rdev), size: s.Size,
		mtimeSec: int64(s.Mtim.Sec), mtimeNsec: int64(s.Mtim.Nsec),
	}
}

func lstat(path string) (fileStat, error) {
	var s unix.Stat_t
	for {
		err := unix.Lstat(path, &s)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fileStat{}, &fs.PathError{Op: "lstat", Path: path, Err: err}
		}
		return fromStat(&s), nil
	}
}

func fstat(f *os.File) (fileStat, error) {
	var s unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &s); err != nil {
		return fileStat{}, &fs.PathError{Op: "fstat", Path: f.Name(), Err: err}
	}
	return fromStat(&s), nil
}

// openFile opens a regular file found by lstat for reading without
// following a symbolic link that replaced it, and without blocking on a
// FIFO that replaced it (the caller compares fstat with lstat).
func openFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
}

func major(dev uint64) uint32 { return unix.Major(dev) }
func minor(dev uint64) uint32 { return unix.Minor(dev) }
