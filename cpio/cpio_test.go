package cpio

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/ukibuild/ukibuild/internal/reftools"
)

// TestMatchesGNUCpio archives a tree with every file type, hard links inside
// and to outside the tree, odd names, modes, owners and times, and compares
// the archive byte for byte with mkosi's recipe: Python's sorted rglob list
// piped to GNU cpio 2.15 with mkosi's flags. A second Write must give the
// same bytes.
func TestMatchesGNUCpio(t *testing.T) {
	root := newTree(t)
	want := gnuCpio(t, root)
	got := writeArchive(t, root, Options{})
	compareArchives(t, got, want)
	if again := writeArchive(t, root, Options{}); !bytes.Equal(again, got) {
		t.Fatal("a second Write of the same tree gave other bytes")
	}
	// The tree has what the test means it to have.
	entries, err := parseNewc(got)
	if err != nil {
		t.Fatal(err)
	}
	types := map[uint64]int{}
	for _, e := range entries {
		types[e.fields[1]&modeType]++
	}
	for _, typ := range []uint64{modeRegular, modeDir, modeSymlink, modeChar, modeBlock, modeFIFO, modeSocket} {
		if types[typ] == 0 {
			t.Errorf("the archive has no entry of type %#o", typ)
		}
	}
	if len(got)%blockSize != 0 {
		t.Errorf("the archive is %d bytes, not a multiple of %d", len(got), blockSize)
	}
}

// TestOwner compares Options.Owner with cpio's --owner: 0:0 (what mkosi
// passes when it does not run as root) and another owner.
func TestOwner(t *testing.T) {
	root := newTree(t)
	for _, o := range []Owner{{0, 0}, {1234, 5678}} {
		want := gnuCpio(t, root, "--owner="+strconv.FormatUint(uint64(o.UID), 10)+":"+strconv.FormatUint(uint64(o.GID), 10))
		compareArchives(t, writeArchive(t, root, Options{Owner: &o}), want)
	}
}

// TestSourceDateEpoch compares Options.SourceDateEpoch with mkosi's clamp:
// the tree's times are lowered to the epoch in place (as mkosi's
// normalize_mtime does), then archived by GNU cpio. Write, given the epoch,
// must produce that archive from the unchanged tree, and must not change
// the tree.
func TestSourceDateEpoch(t *testing.T) {
	for _, epoch := range []int64{1500000000, 0} {
		root := newTree(t)
		before := gnuCpio(t, root)
		got := writeArchive(t, root, Options{SourceDateEpoch: time.Unix(epoch, 0), Owner: &Owner{0, 0}})
		if after := gnuCpio(t, root); !bytes.Equal(before, after) {
			t.Fatal("Write changed the tree")
		}
		python(t, mkosiClamp, nil, root, strconv.FormatInt(epoch, 10))
		want := gnuCpio(t, root, "--owner=0:0")
		if bytes.Equal(want, before) {
			t.Fatalf("epoch %d: clamping changed nothing: the tree needs later times", epoch)
		}
		compareArchives(t, got, want)
	}
}

// TestCompression checks that the zstd and xz archives decompress, with the
// host's zstd and xz (independent decoders), to the reference archive, and
// that a second Write gives the same compressed bytes.
func TestCompression(t *testing.T) {
	root := newTree(t)
	want := gnuCpio(t, root)
	for _, c := range []struct {
		c   Compression
		cmd []string
	}{{Zstd, []string{"zstd", "-d", "-c", "-q"}}, {XZ, []string{"xz", "-d", "-c"}}} {
		got := writeArchive(t, root, Options{Compression: c.c})
		if again := writeArchive(t, root, Options{Compression: c.c}); !bytes.Equal(got, again) {
			t.Errorf("%v: a second Write gave other compressed bytes", c.c)
		}
		if _, err := exec.LookPath(c.cmd[0]); err != nil {
			t.Fatalf("%s is needed to check %v archives: apt-get install %s", c.cmd[0], c.c, c.cmd[0])
		}
		cmd := exec.Command(c.cmd[0], c.cmd[1:]...)
		cmd.Stdin = bytes.NewReader(got)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		plain, err := cmd.Output()
		if err != nil {
			t.Fatalf("%v: %s: %v %s", c.c, c.cmd[0], err, stderr.Bytes())
		}
		compareArchives(t, plain, want)
	}
	if c, err := ParseCompression("zstd"); err != nil || c != Zstd {
		t.Errorf("ParseCompression(zstd) = %v, %v", c, err)
	}
	if _, err := ParseCompression("gzip"); err == nil {
		t.Error("ParseCompression(gzip) did not fail")
	}
}

// TestXZCheckCRC32: the xz stream carries CRC32 checks, as mkosi's
// "xz --check=crc32" (Linux's decompressor supports no other check before
// 6.2), as the host's xz --robot --list reports.
func TestXZCheckCRC32(t *testing.T) {
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	if err := os.MkdirAll(filepath.Join(tree, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tree, "etc", "hostname"), []byte("ukibuild\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(dir, "initrd.cpio.xz")
	f, err := os.Create(archive)
	if err != nil {
		t.Fatal(err)
	}
	if err := Write(f, tree, Options{Compression: XZ}); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("xz", "--robot", "--list", archive).CombinedOutput()
	if err != nil {
		t.Fatalf("xz --list: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("\tCRC32\t")) {
		t.Errorf("xz --robot --list shows no CRC32 check:\n%s", out)
	}
}

// TestEmptyTree: an empty directory gives the trailer alone, as cpio does
// for an empty list.
func TestEmptyTree(t *testing.T) {
	root := t.TempDir()
	compareArchives(t, writeArchive(t, root, Options{}), gnuCpio(t, root))
}

// TestPackageTree archives real Debian package trees (dpkg -x of .deb files
// the reference tools were fetched as: files, directories, symbolic links
// as Debian ships them).
func TestPackageTree(t *testing.T) {
	debs, _ := filepath.Glob(filepath.Join(reftools.Dir(), "debs", "*.deb"))
	var picked []string
	for _, prefix := range []string{"cpio_", "libc6_", "systemd-boot-efi_"} {
		for _, d := range debs {
			if len(filepath.Base(d)) > len(prefix) && filepath.Base(d)[:len(prefix)] == prefix {
				picked = append(picked, d)
				break
			}
		}
	}
	if len(picked) < 3 {
		t.Fatalf("the cpio, libc6 and systemd-boot-efi .deb files are not in %s/debs: run internal/reftools/fetch.sh", reftools.Dir())
	}
	root := t.TempDir()
	for _, d := range picked {
		if out, err := exec.Command("dpkg", "-x", d, root).CombinedOutput(); err != nil {
			t.Fatalf("dpkg -x %s: %v\n%s", d, err, out)
		}
	}
	want := gnuCpio(t, root)
	compareArchives(t, writeArchive(t, root, Options{}), want)
	want = gnuCpio(t, root, "--owner=0:0")
	compareArchives(t, writeArchive(t, root, Options{Owner: &Owner{}}), want)
}

// TestErrors: bad input fails with an error that names the file.
func TestErrors(t *testing.T) {
	dir := t.TempDir()
	var b bytes.Buffer
	missing := filepath.Join(dir, "missing")
	err := Write(&b, missing, Options{})
	if !errors.Is(err, fs.ErrNotExist) || !bytes.Contains([]byte(err.Error()), []byte(missing)) {
		t.Errorf("missing directory: %v", err)
	}
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Write(&b, file, Options{}); err == nil || !bytes.Contains([]byte(err.Error()), []byte("not a directory")) {
		t.Errorf("a file as the tree: %v", err)
	}
	// A regular file of 4 GiB (sparse) does not fit the newc header.
	tree := filepath.Join(dir, "tree")
	if err := os.Mkdir(tree, 0o755); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(tree, "big")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(1 << 32); err != nil {
		t.Fatal(err)
	}
	f.Close()
	err = Write(&b, tree, Options{})
	var pe *fs.PathError
	if !errors.Is(err, ErrFileTooLarge) || !bytes.Contains([]byte(err.Error()), []byte(big)) || errors.As(err, &pe) {
		t.Errorf("4 GiB file: %v", err)
	}
	// One byte less fits: the write error comes first.
	if err := os.Truncate(big, 1<<32-1); err != nil {
		t.Fatal(err)
	}
	// A write error is reported.
	if err := Write(failWriter{}, tree, Options{}); err == nil || !bytes.Contains([]byte(err.Error()), []byte("no space")) {
		t.Errorf("write error: %v", err)
	}
}

type failWriter struct{}

func (failWriter) Write(p []byte) (int, error) { return 0, errors.New("no space left") }

// TestStripDotSlash compares the symbolic link rule with cpio through the
// tree test; here the cases are listed for the reader.
func TestStripDotSlash(t *testing.T) {
	for in, want := range map[string]string{"./a": "a", ".//./b": "b", "./": "./", "./.": ".", ".": ".", "a/./b": "a/./b", "/abs": "/abs", "../x": "../x"} {
		if got := stripDotSlash(in); got != want {
			t.Errorf("stripDotSlash(%q) = %q, want %q", in, got, want)
		}
	}
}
