// Package cpio writes reproducible cpio archives ("newc" format, magic
// 070701) of a directory tree, byte for byte as mkosi makes its initrds and
// Format=cpio outputs with GNU cpio 2.15.
//
// # What mkosi does
//
// mkosi (mkosi/archive.py make_cpio, main branch at commit 70ce10d, July
// 2026) lists the tree with Python's sorted(Path(".").rglob("*")), run in
// the tree, and pipes the names, NUL-separated, to
//
//	cpio --create --reproducible --renumber-inodes --null --format=newc --quiet --directory DIR
//
// adding --owner=0:0 when it does not run as root. When SOURCE_DATE_EPOCH is
// set it first clamps every modification time newer than it down to it
// (mkosi/__init__.py normalize_mtime and clamp_mtime). Write produces the
// same bytes without running either program, and without changing the tree:
// [Options.Owner] is --owner, [Options.SourceDateEpoch] is the clamp.
//
// # The archive
//
// These are GNU cpio 2.15's rules under those flags (src/copyout.c
// process_copy_out, src/util.c stat_to_cpio and get_inode_and_dev), checked
// by the tests against Debian trixie's cpio 2.15 byte for byte:
//
//   - Every path under the directory, not the directory itself, without a
//     leading "./", in Python's Path order: component by component, each
//     name compared as the str os.fsdecode makes of it (code points, bytes
//     that are not UTF-8 as U+DC80..U+DCFF). Symbolic links are archived as
//     links and never followed.
//   - Header fields are 8 upper-case hex digits: inode numbers count from 0
//     in list order, an entry with more than one link sharing the number of
//     the first entry with the same device and inode; mode, uid, gid and
//     modification time as lstat gives them (the time clamped, and written
//     modulo 2^32 as cpio does); the number of links as lstat gives it,
//     except 2 for every directory; device fields 0; rdev major and minor
//     for character and block devices, 0 otherwise; check 0.
//   - Data: a regular file's contents; a symbolic link's target (with
//     leading "./" components removed, as cpio does, unless the target is
//     exactly "./"); nothing for the other types (directories, devices,
//     FIFOs, sockets).
//   - A regular file with more than one link is held back until all its
//     links have been seen: then the earlier ones are written, newest first,
//     with size 0, followed by the last with the data. Files whose other
//     links are outside the tree are written after everything else, newest
//     first, with the data on the first name that was seen.
//   - Name and data are padded with NULs to 4 bytes; the archive ends with
//     the entry "TRAILER!!!" (number of links 1) and is padded with NULs to
//     a multiple of 512 bytes.
//
// # Where Write differs from cpio
//
// cpio warns and goes on where Write fails, so that a successful Write is
// always the complete archive: an entry that cannot be read (a directory,
// a file), a file that changes while it is read, a regular file of 4 GiB or
// more (newc's size field has 32 bits; cpio leaves such files out) are
// errors. Python's rglob silently skips the contents of a directory it may
// not read; Write fails there too.
//
// mkosi itself fails on two kinds of trees that Write archives: it hands
// the list to cpio as text in strict UTF-8 (mkosi/run.py, Popen with
// text=True), so a name that is not UTF-8 stops it (Write puts such names
// where Python's sort of the decoded names puts them, which is what cpio
// would get from the list's bytes); and Python 3.11's rglob raises
// ENAMETOOLONG for a symbolic link whose target has a component longer
// than 255 bytes.
//
// # Compression
//
// mkosi compresses with "zstd -q -3 -T0" or "xz --check=crc32 -3 -T0".
// [Zstd] uses github.com/klauspost/compress/zstd at its default level
// (zstd's level 3), with zstd -3's 2 MiB window and a content checksum;
// [XZ] uses github.com/ulikunitz/xz with a 4 MiB dictionary (xz -3's) and
// CRC32 checks, which Linux's decompressor accepts. The compressed bytes
// depend on the compressor's implementation and version: they are the same
// for the same input and the same version of these libraries, but they are
// not the bytes zstd or xz make (two versions of zstd differ too). The
// uncompressed archive is the reproducible artifact; compare that.
//
// # Memory
//
// File contents are streamed. Write holds the sorted names of the
// directories on the path from the root to the current one, the device
// and inode of every directory and multiply linked entry seen (for the
// inode numbers), and the entries of multiply linked files whose other
// links have not been seen yet (about 0.5 KiB each: a tree whose files all
// have links outside it holds them all until the end, as cpio does);
// nothing grows with file sizes (docs/performance.md).
package cpio

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"
)

// Owner is the owner every entry gets (cpio's --owner=UID:GID).
type Owner struct {
	UID, GID uint32
}

// Options change what Write writes. The zero value is mkosi's recipe run as
// root without SOURCE_DATE_EPOCH: owners and times as the files have them,
// no compression.
type Options struct {
	// Owner, when not nil, replaces the owner and group of every entry
	// (mkosi passes --owner=0:0 when it does not run as root).
	Owner *Owner
	// SourceDateEpoch, when not the zero time, clamps modification times
	// later than it down to it (its seconds), as mkosi does with
	// $SOURCE_DATE_EPOCH before it runs cpio. The tree is not changed.
	SourceDateEpoch time.Time
	// Compression compresses the archive (see the package documentation).
	Compression Compression
}

var (
	// ErrFileTooLarge is wrapped by the error for a regular file of 4 GiB
	// or more, which the newc format cannot hold.
	ErrFileTooLarge = errors.New("file too large for the newc cpio format (4 GiB or more)")
	// ErrChanged is wrapped by the error for an entry that changed while
	// the archive was written.
	ErrChanged = errors.New("changed while the archive was written")
	// ErrUnsupportedType is wrapped by the error for an entry of a file
	// type the newc format has no code for.
	ErrUnsupportedType = errors.New("file type not supported by the cpio format")
)

// Header mode type bits, as cpio writes them (src/cpiohdr.h CP_IF*, the
// traditional Unix values).
const (
	modeDir     = 0o040000
	modeRegular = 0o100000
	modeSymlink = 0o120000
	modeChar    = 0o020000
	modeBlock   = 0o060000
	modeFIFO    = 0o010000
	modeSocket  = 0o140000
	modeType    = 0o170000
)

// maxFileSize is the largest size the newc header's 8 hex digits hold.
const maxFileSize = 1<<32 - 1

// trailerName names the entry that ends a cpio archive.
const trailerName = "TRAILER!!!"

// blockSize is cpio's default I/O block size: the archive is padded with
// NULs to a multiple of it.
const blockSize = 512

// Write writes a newc cpio archive of the tree at dir to w, compressed as
// opts.Compression says. The uncompressed bytes are those of mkosi's recipe
// with GNU cpio 2.15 (see the package documentation). An error names the
// file and what is wrong with it; what was written to w before it is not a
// usable archive.
func Write(w io.Writer, dir string, opts Options) (err error) {
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("cpio: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("cpio: %w", &fs.PathError{Op: "archive", Path: dir, Err: syscall.ENOTDIR})
	}
	out := w
	var cw io.WriteCloser
	if opts.Compression != None {
		if cw, err = newCompressor(w, opts.Compression); err != nil {
			return err
		}
		out = cw
	}
	a := &archiver{
		root:   dir,
		opts:   opts,
		bw:     bufio.NewWriterSize(out, 64<<10),
		inodes: map[devIno]uint64{},
		groups: map[uint64][]*entry{},
		buf:    make([]byte, 128<<10),
	}
	if !opts.SourceDateEpoch.IsZero() {
		a.clamp, a.epoch = true, opts.SourceDateEpoch.Unix()
	}
	err = a.walk("", dir)
	if err == nil {
		err = a.finish()
	}
	if err == nil {
		err = a.bw.Flush()
	}
	if cw != nil {
		if cerr := cw.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("cpio: compressing: %w", cerr)
		}
	}
	return err
}

// devIno identifies a file system object.
type devIno struct{ dev, ino uint64 }

// entry is one archive member: its header fields and where to find it.
type entry struct {
	name   string // archive name: the path relative to the root
	ino    uint64 // renumbered inode number
	mode   uint32 // type and permission bits as the header has them
	uid    uint32
	gid    uint32
	nlink  uint64
	mtime  int64 // seconds, clamped
	size   int64
	rmajor uint32
	rminor uint32
	st     fileStat // lstat's answer, to notice changes
	first  bool     // first of its group of held-back links
	done   bool     // a held-back link written when its last link came
}

type archiver struct {
	root    string
	opts    Options
	bw      *bufio.Writer
	written int64 // bytes given to bw
	clamp   bool
	epoch   int64
	next    uint64            // next renumbered inode number
	inodes  map[devIno]uint64 // renumbered numbers of multiply linked entries
	// held are the multiply linked regular files not yet written, in the
	// order they were seen; groups holds them by inode number.
	held   []*entry
	done   int // entries of held that are done
	groups map[uint64][]*entry
	buf    []byte
}

// walk archives the entries of the directory rel (path full), in Python's
// sorted Path order, depth first: a directory comes right before its
// contents, and the contents of "a" before "a-b" (sorting whole paths
// component by component gives that order).
func (a *archiver) walk(rel, full string) error {
	d, err := os.Open(full)
	if err != nil {
		return fmt.Errorf("cpio: %w", err)
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return fmt.Errorf("cpio: reading directory %s: %w", full, err)
	}
	slices.SortFunc(names, pyCompare)
	for _, n := range names {
		name, path := n, filepath.Join(full, n)
		if rel != "" {
			name = rel + "/" + n
		}
		st, err := lstat(path)
		if err != nil {
			return fmt.Errorf("cpio: %w", err)
		}
		if err := a.add(name, path, st); err != nil {
			return err
		}
		if st.mode&modeType == modeDir {
			if err := a.walk(name, path); err != nil {
				return err
			}
		}
	}
	return nil
}

// add archives one entry, or holds it back when it is a multiply linked
// regular file whose other links have not all been seen.
func (a *archiver) add(name, path string, st fileStat) error {
	e := &entry{name: name, st: st, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid,
		nlink: st.nlink, mtime: st.mtimeSec, size: st.size}
	if a.opts.Owner != nil {
		e.uid, e.gid = a.opts.Owner.UID, a.opts.Owner.GID
	}
	if a.clamp && e.mtime > a.epoch {
		e.mtime = a.epoch
	}
	// Inode numbers (cpio's get_inode_and_dev with --renumber-inodes): an
	// entry with one link gets the next number; entries with more share
	// one per device and inode.
	if st.nlink > 1 {
		k := devIno{st.dev, st.ino}
		n, ok := a.inodes[k]
		if !ok {
			n = a.next
			a.next++
			a.inodes[k] = n
		}
		e.ino = n
	} else {
		e.ino = a.next
		a.next++
	}
	switch st.mode & modeType {
	case modeRegular:
		e.mode |= modeRegular
		if e.size > maxFileSize {
			return fmt.Errorf("cpio: %s: %d bytes: %w", path, e.size, ErrFileTooLarge)
		}
		if st.nlink > 1 {
			group := a.groups[e.ino]
			if st.nlink != uint64(len(group))+1 {
				e.first = len(group) == 0
				a.held = append(a.held, e)
				a.groups[e.ino] = append(group, e)
				return nil
			}
			// The last link: the held-back ones first, newest first,
			// without data (cpio's writeout_other_defers).
			for i := len(group) - 1; i >= 0; i-- {
				if err := a.header(group[i], 0); err != nil {
					return err
				}
			}
			delete(a.groups, e.ino)
			for _, h := range group {
				h.done = true
			}
			if a.done += len(group); a.done > len(a.held)/2 {
				a.held = slices.DeleteFunc(a.held, func(h *entry) bool { return h.done })
				a.done = 0
			}
		}
		return a.file(e, path)
	case modeDir:
		e.mode |= modeDir
		e.nlink = 2 // --reproducible implies --ignore-dirnlink
		return a.header(e, 0)
	case modeSymlink:
		e.mode |= modeSymlink
		target, err := os.Readlink(path)
		if err != nil {
			return fmt.Errorf("cpio: %w", err)
		}
		if int64(len(target)) != st.size {
			return fmt.Errorf("cpio: %s: symbolic link target of %d bytes, lstat says %d: %w", path, len(target), st.size, ErrChanged)
		}
		target = stripDotSlash(target)
		e.size = int64(len(target))
		return a.symlink(e, target)
	case modeChar, modeBlock:
		e.mode |= st.mode & modeType
		e.rmajor, e.rminor = major(st.rdev), minor(st.rdev)
		return a.header(e, 0)
	case modeFIFO, modeSocket:
		e.mode |= st.mode & modeType
		return a.header(e, 0)
	}
	return fmt.Errorf("cpio: %s: mode %#o: %w", path, st.mode, ErrUnsupportedType)
}

// stripDotSlash removes leading "./" components (and the slashes after
// each) from a symbolic link's target, as cpio's cpio_safer_name_suffix
// does in copy-out mode; "./" itself stays.
func stripDotSlash(s string) string {
	if s == "./" {
		return s
	}
	for len(s) >= 2 && s[0] == '.' && s[1] == '/' {
		s = s[1:]
		for len(s) > 0 && s[0] == '/' {
			s = s[1:]
		}
	}
	return s
}

// finish writes the held-back links whose other links are outside the tree
// (cpio's writeout_final_defers: newest first, the data on the first link
// of each file that was seen), the trailer and the padding.
func (a *archiver) finish() error {
	for i := len(a.held) - 1; i >= 0; i-- {
		e := a.held[i]
		if e.done {
			continue
		}
		if e.first {
			if err := a.file(e, filepath.Join(a.root, e.name)); err != nil {
				return err
			}
		} else if err := a.header(e, 0); err != nil {
			return err
		}
	}
	a.held = nil
	if err := a.header(&entry{name: trailerName, nlink: 1}, 0); err != nil {
		return err
	}
	return a.pad(blockSize)
}

// file writes a regular file's header and contents, read from path.
func (a *archiver) file(e *entry, path string) error {
	f, err := openFile(path)
	if err != nil {
		return fmt.Errorf("cpio: %w", err)
	}
	defer f.Close()
	before, err := fstat(f)
	if err != nil {
		return fmt.Errorf("cpio: %w", err)
	}
	if !sameFile(before, e.st) {
		return fmt.Errorf("cpio: %s: %w", path, ErrChanged)
	}
	if err := a.header(e, e.size); err != nil {
		return err
	}
	n, err := io.CopyBuffer(a.bw, io.LimitReader(f, e.size), a.buf)
	a.written += n
	if err != nil {
		return fmt.Errorf("cpio: copying %s: %w", path, err)
	}
	if n != e.size {
		return fmt.Errorf("cpio: %s: read %d of %d bytes: %w", path, n, e.size, ErrChanged)
	}
	after, err := fstat(f)
	if err != nil {
		return fmt.Errorf("cpio: %w", err)
	}
	if !sameFile(after, e.st) {
		return fmt.Errorf("cpio: %s: %w", path, ErrChanged)
	}
	return a.pad(4)
}

// sameFile reports whether two stats show the same file with the same size
// and modification time.
func sameFile(x, y fileStat) bool {
	return x.dev == y.dev && x.ino == y.ino && x.size == y.size && x.mtimeSec == y.mtimeSec && x.mtimeNsec == y.mtimeNsec
}

// symlink writes a symbolic link's header and target.
func (a *archiver) symlink(e *entry, target string) error {
	if err := a.header(e, e.size); err != nil {
		return err
	}
	if err := a.write([]byte(target)); err != nil {
		return err
	}
	return a.pad(4)
}

// header writes a newc header with the given file size, the name and its
// padding.
func (a *archiver) header(e *entry, size int64) error {
	var h [110]byte
	copy(h[:], "070701")
	fields := [13]uint64{
		e.ino, uint64(e.mode), uint64(e.uid), uint64(e.gid), e.nlink,
		uint64(e.mtime), uint64(size), 0, 0, uint64(e.rmajor), uint64(e.rminor),
		uint64(len(e.name)) + 1, 0,
	}
	for i, v := range fields {
		putHex(h[6+8*i:14+8*i], v)
	}
	if err := a.write(h[:]); err != nil {
		return err
	}
	if err := a.write([]byte(e.name)); err != nil {
		return err
	}
	if err := a.write([]byte{0}); err != nil {
		return err
	}
	return a.pad(4)
}

// putHex writes the low 32 bits of v as 8 upper-case hex digits (cpio's
// to_ascii, which keeps the low digits of a value that does not fit).
func putHex(dst []byte, v uint64) {
	const digits = "0123456789ABCDEF"
	for i := 7; i >= 0; i-- {
		dst[i] = digits[v&0xf]
		v >>= 4
	}
}

func (a *archiver) write(p []byte) error {
	n, err := a.bw.Write(p)
	a.written += int64(n)
	if err != nil {
		return fmt.Errorf("cpio: writing the archive: %w", err)
	}
	return nil
}

var zeros [blockSize]byte

// pad writes NULs up to the next multiple of n bytes.
func (a *archiver) pad(n int64) error {
	if r := a.written % n; r != 0 {
		return a.write(zeros[:n-r])
	}
	return nil
}
