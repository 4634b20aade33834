package cpio

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ukibuild/ukibuild/internal/reftools"
)

// mkosiList prints, NUL-separated, the names mkosi gives cpio for the tree
// sys.argv[1]: sorted(Path(".").rglob("*")) run in the tree
// (mkosi/archive.py make_cpio). mkosi joins the str names with "\0" and
// hands them to cpio as text, which works for UTF-8 names only; fsencode
// gives the same bytes for those and the file's own bytes for the others.
const mkosiList = `import os, sys
from pathlib import Path
os.chdir(sys.argv[1])
files = sorted(Path(".").rglob("*"))
sys.stdout.buffer.write(b"\0".join(os.fsencode(f) for f in files))
`

// mkosiClamp lowers the access and modification times of the tree
// sys.argv[1] and of everything rglob finds in it to sys.argv[2] where
// they are later, without following symbolic links, as mkosi's
// normalize_mtime and clamp_mtime (mkosi/__init__.py) do.
const mkosiClamp = `import os, sys
from pathlib import Path
root, limit = Path(sys.argv[1]), int(sys.argv[2]) * 1_000_000_000
def clamp(p):
    st = os.stat(p, follow_symlinks=False)
    old = (st.st_atime_ns, st.st_mtime_ns)
    new = (min(old[0], limit), min(old[1], limit))
    if new != old:
        os.utime(p, ns=new, follow_symlinks=False)
clamp(root)
for p in root.rglob("*"):
    clamp(p)
`

// python runs a script with the host's python3 in UTF-8 mode (file names
// decoded as UTF-8 with surrogateescape) and returns its standard output.
func python(t testing.TB, script string, stdin []byte, args ...string) []byte {
	t.Helper()
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Fatalf("%s is needed as the reference for Python's path order: %v", py, err)
	}
	cmd := exec.Command(py, append([]string{"-c", script}, args...)...)
	cmd.Env = append(os.Environ(), "PYTHONUTF8=1", "PYTHONDONTWRITEBYTECODE=1")
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("python3: %v\n%s", err, stderr.Bytes())
	}
	return stdout.Bytes()
}

// gnuCpio archives dir as mkosi does: its Python-sorted list piped to GNU
// cpio 2.15 with mkosi's flags, plus extra flags (--owner=...).
func gnuCpio(t testing.TB, dir string, extra ...string) []byte {
	t.Helper()
	tools := reftools.Locate(t)
	list := python(t, mkosiList, nil, dir)
	args := append([]string{"--create", "--reproducible", "--renumber-inodes", "--null", "--format=newc", "--quiet", "--directory", dir}, extra...)
	cmd := tools.Cpio(t, args...)
	cmd.Stdin = bytes.NewReader(list)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Fatalf("cpio %v: %v\n%s", args, err, stderr.Bytes())
	}
	return stdout.Bytes()
}

// newcEntry is one parsed archive member, for reporting differences.
type newcEntry struct {
	fields [13]uint64
	name   string
	data   []byte
	offset int
}

var newcFields = [13]string{"ino", "mode", "uid", "gid", "nlink", "mtime", "filesize", "devmajor", "devminor", "rdevmajor", "rdevminor", "namesize", "check"}

// parseNewc splits a newc archive into its members up to the trailer.
func parseNewc(b []byte) ([]newcEntry, error) {
	var out []newcEntry
	off := 0
	for {
		if off+110 > len(b) || string(b[off:off+6]) != "070701" {
			return out, fmt.Errorf("no newc header at offset %d", off)
		}
		var e newcEntry
		e.offset = off
		for i := range e.fields {
			var v uint64
			if _, err := fmt.Sscanf(string(b[off+6+8*i:off+14+8*i]), "%08X", &v); err != nil {
				return out, fmt.Errorf("offset %d field %s: %v", off, newcFields[i], err)
			}
			e.fields[i] = v
		}
		ns, size := int(e.fields[11]), int(e.fields[6])
		if off+110+ns > len(b) || ns == 0 {
			return out, fmt.Errorf("offset %d: name size %d", off, ns)
		}
		e.name = string(b[off+110 : off+110+ns-1])
		off = (off + 110 + ns + 3) &^ 3
		if off+size > len(b) {
			return out, fmt.Errorf("%q: size %d beyond the end", e.name, size)
		}
		e.data = b[off : off+size]
		off = (off + size + 3) &^ 3
		out = append(out, e)
		if e.name == trailerName {
			return out, nil
		}
	}
}

// compareArchives fails the test when got and want differ, naming the first
// differing member and field.
func compareArchives(t testing.TB, got, want []byte) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	ge, gerr := parseNewc(got)
	we, werr := parseNewc(want)
	for i := 0; i < len(ge) && i < len(we); i++ {
		g, w := ge[i], we[i]
		if g.name != w.name {
			t.Fatalf("member %d: name %q, GNU cpio has %q (of %d and %d members)", i, g.name, w.name, len(ge), len(we))
		}
		for f := range g.fields {
			if g.fields[f] != w.fields[f] {
				t.Fatalf("member %d %q: %s %#x, GNU cpio has %#x", i, g.name, newcFields[f], g.fields[f], w.fields[f])
			}
		}
		if !bytes.Equal(g.data, w.data) {
			t.Fatalf("member %d %q: data differs", i, g.name)
		}
	}
	t.Fatalf("archives differ: %d bytes (%d members, %v), GNU cpio %d bytes (%d members, %v)", len(got), len(ge), gerr, len(want), len(we), werr)
}

// writeArchive runs Write into memory.
func writeArchive(t testing.TB, dir string, opts Options) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, dir, opts); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return b.Bytes()
}

// mustRoot fails a test that needs root (device nodes, owners).
func mustRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test creates device nodes and changes owners: run it as root (CI does)")
	}
}

// treeBuilder makes a test tree; every step fails the test on error.
type treeBuilder struct {
	t    testing.TB
	root string
}

func (b *treeBuilder) path(name string) string { return filepath.Join(b.root, name) }

func (b *treeBuilder) check(err error) {
	b.t.Helper()
	if err != nil {
		b.t.Fatal(err)
	}
}

func (b *treeBuilder) dir(name string, perm os.FileMode) {
	b.t.Helper()
	b.check(os.MkdirAll(b.path(name), 0o755))
	b.check(os.Chmod(b.path(name), perm))
}

// parent makes the directory a new entry at path goes into.
func (b *treeBuilder) parent(path string) {
	b.t.Helper()
	b.check(os.MkdirAll(filepath.Dir(path), 0o755))
}

func (b *treeBuilder) file(name string, data []byte, perm os.FileMode) {
	b.t.Helper()
	b.parent(b.path(name))
	b.check(os.WriteFile(b.path(name), data, 0o644))
	b.check(os.Chmod(b.path(name), perm))
}

func (b *treeBuilder) symlink(name, target string) {
	b.t.Helper()
	b.parent(b.path(name))
	b.check(os.Symlink(target, b.path(name)))
}

func (b *treeBuilder) link(existing, name string) {
	b.t.Helper()
	b.parent(name)
	// os.Link is linkat without AT_SYMLINK_FOLLOW: a link to a symbolic
	// link links the link itself.
	b.check(os.Link(existing, name))
}

func (b *treeBuilder) mknod(name string, mode uint32, dev uint64) {
	b.t.Helper()
	b.parent(b.path(name))
	b.check(unix.Mknod(b.path(name), mode, int(dev)))
}

func (b *treeBuilder) chown(name string, uid, gid int) {
	b.t.Helper()
	b.check(os.Lchown(b.path(name), uid, gid))
}

// Times used for the tree's entries, in seconds: before 1970, around
// 2001, 2017 and 2033, and after 2106 (beyond newc's 32 bits).
var treeTimes = []int64{-315619200, 1000000000, 1500000000, 1500000001, 2000000000, 5000000000, 0, 1234567890}

// setTimes gives every entry of the tree a time from treeTimes (and a
// nanosecond part), symbolic links included, after everything is made.
func (b *treeBuilder) setTimes() {
	b.t.Helper()
	i := 0
	b.check(filepath.Walk(b.root, func(path string, info os.FileInfo, err error) error {
		if err != nil || path == b.root {
			return err
		}
		sec := treeTimes[i%len(treeTimes)]
		i++
		ts := []unix.Timespec{{Sec: sec, Nsec: 123456789}, {Sec: sec, Nsec: int64(i % 1000000000)}}
		return unix.UtimesNanoAt(unix.AT_FDCWD, path, ts, unix.AT_SYMLINK_NOFOLLOW)
	}))
}

// oddNames are names whose order differs between bytes and Python's
// decoded str (invalid UTF-8 becomes U+DC80..U+DCFF), or that are odd in
// other ways.
var oddNames = []string{
	"a-b", "a.b", "a0", "a b", " lead", "trail ", "-rf", "--", "new\nline", "tab\there", "back\\slash",
	"é", "\xc3\xa9x", "\x80", "\xc3", "\xc3(", "\xff", "\xff\xfe", "\xfe\xff", "😀", "\xf0\x9f\x98", "\xef\xbf\xbd", "\xee\x80\x80",
	"\xed\xa0\x80", "\xed\x9f\xbf", "\xf4\x8f\xbf\xbf", "\xf4\x90\x80\x80", "\xc0\x80", "\xe0\x80\x80", "\xe4\xb8", "\xe4\xb8\x80",
	"ab\xff", "a\xff", "a\x80b", "...", "..x", ".x", "~", "ÿ", "\u0100", "\u07ff", "\u0800", "\ud7ff", "\ue000", "\uffff",
	strings.Repeat("L", 255),
}

// makeTree builds a tree with every file type, hard links inside it and to
// outside (in outside, which must be on the same file system), odd names,
// owners, modes and times.
func makeTree(t testing.TB, root, outside string) {
	t.Helper()
	mustRoot(t)
	b := &treeBuilder{t: t, root: root}
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(n int) []byte {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(rng.UintN(256))
		}
		return p
	}
	// Regular files of sizes around the 4-byte padding, empty files,
	// a larger one.
	for _, n := range []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 511, 512, 513, 70001} {
		b.file(fmt.Sprintf("files/size-%d", n), random(n), 0o644)
	}
	b.file("files/big", random(1<<20+3), 0o600)
	b.file("empty", nil, 0o644)
	// Modes: setuid, setgid, sticky, none, all.
	b.file("modes/setuid", []byte("u"), 0o4755)
	b.file("modes/setgid", []byte("g"), 0o2711)
	b.file("modes/both", []byte("ug"), 0o6755)
	b.file("modes/none", []byte("no access"), 0)
	b.file("modes/all", []byte("all"), 0o7777)
	b.dir("modes/sticky-dir", 0o1777)
	b.dir("modes/setgid-dir", 0o2775)
	b.dir("modes/closed-dir", 0)
	// Owners.
	b.file("owners/user", []byte("1000"), 0o644)
	b.chown("owners/user", 1000, 1000)
	b.file("owners/nobody", []byte("nobody"), 0o644)
	b.chown("owners/nobody", 65534, 100)
	b.file("owners/high", []byte("high"), 0o644)
	b.chown("owners/high", 4294967294, 4000000000)
	// Empty directories, deep nesting.
	b.dir("emptydir", 0o755)
	b.dir("emptydirs/a/b/c", 0o700)
	deep := "deep"
	for i := range 60 {
		deep += fmt.Sprintf("/%02d", i)
	}
	b.file(deep+"/bottom", []byte("deep"), 0o644)
	// Symbolic links: targets cpio rewrites ("./" prefixes), absolute,
	// dangling, to a directory (not followed), long, odd bytes.
	for i, target := range []string{"./a", ".//./b", "./", "./.", ".", "..", "/abs/path", "../up", "dangling", "files",
		"x/./y", strings.Repeat("t/", 2000), "new\nline\xff", "/"} {
		b.symlink(fmt.Sprintf("links/l%02d", i), target)
	}
	b.symlink("links/owned", "target")
	b.check(os.Lchown(b.path("links/owned"), 4321, 8765))
	// Devices, FIFOs, sockets.
	b.mknod("dev/null", unix.S_IFCHR|0o666, unix.Mkdev(1, 3))
	b.mknod("dev/loop0", unix.S_IFBLK|0o660, unix.Mkdev(7, 0))
	b.mknod("dev/bigchr", unix.S_IFCHR|0o600, unix.Mkdev(4095, 1048575))
	b.mknod("dev/bigblk", unix.S_IFBLK|0o600, unix.Mkdev(259, 65536))
	b.mknod("dev/fifo", unix.S_IFIFO|0o644, 0)
	b.mknod("dev/socket", unix.S_IFSOCK|0o755, 0)
	// Hard links inside the tree: three names in one directory (cpio
	// writes b, a, then c with the data), two in distant directories,
	// an empty file, a symbolic link, a FIFO and a device with two names.
	b.file("hl/a", []byte("three links"), 0o644)
	b.link(b.path("hl/a"), b.path("hl/b"))
	b.link(b.path("hl/a"), b.path("hl/c"))
	b.file("a1/first", []byte("far apart"), 0o640)
	b.link(b.path("a1/first"), b.path("z9/second"))
	b.file("hl/empty1", nil, 0o644)
	b.link(b.path("hl/empty1"), b.path("hl/empty2"))
	b.symlink("hl/sym1", "symlink target")
	b.link(b.path("hl/sym1"), b.path("hl/sym2"))
	b.mknod("hl/fifo1", unix.S_IFIFO|0o600, 0)
	b.link(b.path("hl/fifo1"), b.path("hl/fifo2"))
	b.mknod("hl/dev1", unix.S_IFCHR|0o600, unix.Mkdev(10, 20))
	b.link(b.path("hl/dev1"), b.path("hl/dev2"))
	// Hard links to names outside the tree: one name inside; two inside
	// and one outside; several such files interleaved.
	b.file("out/one", []byte("one inside, one outside"), 0o644)
	b.link(b.path("out/one"), filepath.Join(outside, "one"))
	b.file("out/two-a", []byte("two inside, one outside"), 0o644)
	b.link(b.path("out/two-a"), b.path("out/two-b"))
	b.link(b.path("out/two-a"), filepath.Join(outside, "two"))
	b.file("out/p1", []byte("p"), 0o644)
	b.file("out/q1", []byte("q"), 0o644)
	b.link(b.path("out/p1"), b.path("out/p2"))
	b.link(b.path("out/q1"), b.path("out/q2"))
	b.link(b.path("out/p1"), filepath.Join(outside, "p"))
	b.link(b.path("out/q1"), filepath.Join(outside, "q"))
	b.link(b.path("out/p1"), filepath.Join(outside, "p-again"))
	// Names: every byte but NUL, '/' and '.' as a one-byte name; the odd
	// names; "a" as a directory next to "a-b" and "a.b".
	for c := 1; c < 256; c++ {
		if c == '/' || c == '.' {
			continue
		}
		b.file("names/"+string([]byte{byte(c)}), []byte{byte(c)}, 0o644)
	}
	for _, n := range oddNames {
		b.file("order/"+n, []byte(n), 0o644)
	}
	b.file("order/a/b", []byte("a/b"), 0o644)
	b.file("order/a/b-c/d", []byte("a/b-c/d"), 0o644)
	b.file("order/a/b.c", []byte("a/b.c"), 0o644)
	b.dir("order/\xfe\xfe/\x80", 0o755)
	b.setTimes()
}

// newTree makes a tree (makeTree) in a new temporary directory and returns
// its root.
func newTree(t testing.TB) string {
	t.Helper()
	base := t.TempDir()
	root, outside := filepath.Join(base, "tree"), filepath.Join(base, "outside")
	for _, d := range []string{root, outside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	makeTree(t, root, outside)
	return root
}
