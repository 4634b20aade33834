package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ukibuild/ukibuild/internal/atomicfile"
	"github.com/ukibuild/ukibuild/internal/reftools"
)

// mkosiCpioList prints the NUL-separated names mkosi hands cpio for the tree
// sys.argv[1] (mkosi/archive.py make_cpio: sorted(Path(".").rglob("*"))
// run in the tree).
const mkosiCpioList = `import os, sys
from pathlib import Path
os.chdir(sys.argv[1])
sys.stdout.buffer.write(b"\0".join(os.fsencode(f) for f in sorted(Path(".").rglob("*"))))
`

// mkosiCpioClamp lowers the times in the tree sys.argv[1] later than
// sys.argv[2] to it, in place, as mkosi's normalize_mtime does.
const mkosiCpioClamp = `import os, sys
from pathlib import Path
root, limit = Path(sys.argv[1]), int(sys.argv[2]) * 10**9
for p in [root, *root.rglob("*")]:
    st = os.stat(p, follow_symlinks=False)
    old = (st.st_atime_ns, st.st_mtime_ns)
    new = (min(old[0], limit), min(old[1], limit))
    if new != old:
        os.utime(p, ns=new, follow_symlinks=False)
`

// runPython runs a script with the host's python3 in UTF-8 mode.
func runPython(t *testing.T, script string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("/usr/bin/python3", append([]string{"-c", script}, args...)...)
	cmd.Env = append(os.Environ(), "PYTHONUTF8=1", "PYTHONDONTWRITEBYTECODE=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3: %v\n%s", err, stderr.Bytes())
	}
	return out
}

// mkosiCpio archives dir as mkosi does, with GNU cpio 2.15 (Debian trixie's).
func mkosiCpio(t *testing.T, dir string, extra ...string) []byte {
	t.Helper()
	args := append([]string{"--create", "--reproducible", "--renumber-inodes", "--null", "--format=newc", "--quiet", "--directory", dir}, extra...)
	cmd := reftools.Locate(t).Cpio(t, args...)
	cmd.Stdin = bytes.NewReader(runPython(t, mkosiCpioList, dir))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Fatalf("cpio %v: %v\n%s", args, err, stderr.Bytes())
	}
	return stdout.Bytes()
}

// cpioTestTree makes a small tree with each file type, a hard link, an odd
// name and times on both sides of 1500000000, in a new directory that
// other users may enter (the unprivileged runs below).
func cpioTestTree(t *testing.T) (base, tree string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test makes device nodes and runs ukibuild as another user: run it as root (CI does)")
	}
	base, err := os.MkdirTemp("", "ukibuild-cpio-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	tree = filepath.Join(base, "tree")
	check := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	check(os.MkdirAll(filepath.Join(tree, "usr/bin"), 0o755))
	check(os.MkdirAll(filepath.Join(tree, "a"), 0o755))
	check(os.WriteFile(filepath.Join(tree, "usr/bin/tool"), []byte("#!/bin/sh\n"), 0o755))
	check(os.Chmod(filepath.Join(tree, "usr/bin/tool"), 0o4755))
	check(os.Link(filepath.Join(tree, "usr/bin/tool"), filepath.Join(tree, "usr/bin/tool-alias")))
	check(os.WriteFile(filepath.Join(tree, "a/b"), []byte("a/b"), 0o644))
	check(os.WriteFile(filepath.Join(tree, "a-b"), []byte("a-b"), 0o644))
	check(os.WriteFile(filepath.Join(tree, "new\nline \xff"), nil, 0o644))
	check(os.Symlink("usr/bin", filepath.Join(tree, "bin")))
	check(unix.Mknod(filepath.Join(tree, "console"), unix.S_IFCHR|0o600, int(unix.Mkdev(5, 1))))
	check(unix.Mknod(filepath.Join(tree, "fifo"), unix.S_IFIFO|0o644, 0))
	check(os.Lchown(filepath.Join(tree, "a-b"), 1000, 1000))
	i := 0
	check(filepath.Walk(tree, func(path string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		i++
		sec := []int64{1000000000, 2000000000}[i%2]
		return unix.UtimesNanoAt(unix.AT_FDCWD, path, []unix.Timespec{{Sec: sec}, {Sec: sec}}, unix.AT_SYMLINK_NOFOLLOW)
	}))
	return base, tree
}

// TestCpioVerbMatchesGNUCpio: ukibuild cpio writes what mkosi's recipe with
// GNU cpio 2.15 writes, with --owner, with SOURCE_DATE_EPOCH from the
// environment and from --source-date-epoch (the reference clamps the tree
// in place as mkosi does), and compressed (checked with the host's zstd and
// xz as decoders). Every run gives the same bytes.
func TestCpioVerbMatchesGNUCpio(t *testing.T) {
	base, tree := cpioTestTree(t)
	out := filepath.Join(base, "initrd.cpio")
	ours := func(lookup map[string]string, args ...string) []byte {
		t.Helper()
		var o, e bytes.Buffer
		code := runEnv(append([]string{"cpio", tree, "--output", out}, args...), &env{stdout: &o, stderr: &e,
			lookupEnv: func(k string) (string, bool) { v, ok := lookup[k]; return v, ok }})
		if code != 0 || o.Len() > 0 || e.Len() > 0 {
			t.Fatalf("ukibuild cpio %v: exit %d, stdout %q, stderr %q", args, code, o.String(), e.String())
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	same := func(what string, got, want []byte) {
		t.Helper()
		if !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes differ from GNU cpio's %d", what, len(got), len(want))
		}
	}
	plain := mkosiCpio(t, tree)
	same("as root", ours(nil), plain)
	same("a second run", ours(nil), plain)
	same("--owner keep", ours(nil, "--owner", "keep"), plain)
	same("--owner 0:0", ours(nil, "--owner", "0:0"), mkosiCpio(t, tree, "--owner=0:0"))
	same("--owner 1:2", ours(nil, "--owner", "1:2"), mkosiCpio(t, tree, "--owner=1:2"))
	same("SOURCE_DATE_EPOCH empty", ours(map[string]string{"SOURCE_DATE_EPOCH": ""}), plain)
	same("--source-date-epoch= overrides", ours(map[string]string{"SOURCE_DATE_EPOCH": "1"}, "--source-date-epoch="), plain)
	for _, c := range []struct{ flag, tool string }{{"zstd", "zstd"}, {"xz", "xz"}, {"none", "cat"}} {
		cmd := exec.Command(c.tool, "-d", "-c")
		if c.tool == "cat" {
			cmd = exec.Command("cat")
		}
		cmd.Stdin = bytes.NewReader(ours(nil, "--compress", c.flag))
		dec, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s -d: %v", c.tool, err)
		}
		same("--compress "+c.flag, dec, plain)
	}
	fromEnv := ours(map[string]string{"SOURCE_DATE_EPOCH": "1500000000"})
	fromFlag := ours(map[string]string{"SOURCE_DATE_EPOCH": "abc"}, "--source-date-epoch", "1500000000")
	runPython(t, mkosiCpioClamp, tree, "1500000000")
	clamped := mkosiCpio(t, tree)
	if bytes.Equal(clamped, plain) {
		t.Fatal("clamping the tree changed nothing: the test tree needs later times")
	}
	same("SOURCE_DATE_EPOCH=1500000000", fromEnv, clamped)
	same("--source-date-epoch 1500000000", fromFlag, clamped)
}

// TestCpioVerbErrors: bad input exits 1 with a message naming the file and
// leaves no output (and an existing output as it was); usage errors exit 2.
// An unreadable file is made by running ukibuild as nobody, which also
// checks the default owner when not root (0:0, as mkosi passes).
func TestCpioVerbErrors(t *testing.T) {
	base, tree := cpioTestTree(t)
	outDir := filepath.Join(base, "out")
	if err := os.Mkdir(outDir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(outDir, 0o777); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(outDir, "initrd.cpio")
	old := []byte("the previous archive")
	if err := os.WriteFile(out, old, 0o644); err != nil {
		t.Fatal(err)
	}
	untouched := func(what string) {
		t.Helper()
		if b, err := os.ReadFile(out); err != nil || !bytes.Equal(b, old) {
			t.Errorf("%s: the existing output changed (%v)", what, err)
		}
		ents, _ := os.ReadDir(outDir)
		for _, e := range ents {
			if _, ok := atomicfile.IsTempName(e.Name()); ok {
				t.Errorf("%s: temporary file %s left", what, e.Name())
			}
		}
	}
	for _, c := range []struct {
		args []string
		env  map[string]string
		code int
		want string
	}{
		{[]string{"cpio", filepath.Join(base, "missing"), "-o", out}, nil, 1, filepath.Join(base, "missing") + ": no such file"},
		{[]string{"cpio", filepath.Join(tree, "a-b"), "-o", out}, nil, 1, "a-b: not a directory"},
		{[]string{"cpio", tree, "-o", filepath.Join(base, "nodir", "x.cpio")}, nil, 1, filepath.Join(base, "nodir")},
		{[]string{"cpio", tree, "-o", filepath.Join(tree, "a", "self.cpio")}, nil, 1, "inside the tree"},
		{[]string{"cpio", tree, "-o", out}, map[string]string{"SOURCE_DATE_EPOCH": "-5"}, 1, "$SOURCE_DATE_EPOCH: SOURCE_DATE_EPOCH \"-5\" is negative"},
		{[]string{"cpio", tree, "-o", out, "--source-date-epoch", "yesterday"}, nil, 1, "--source-date-epoch"},
		{[]string{"cpio", tree, "-o", out, "--owner", "root:root"}, nil, 1, "UID:GID"},
		{[]string{"cpio", tree, "-o", out, "--compress", "gzip"}, nil, 2, "--compress"},
		{[]string{"cpio", tree}, nil, 2, "--output"},
	} {
		var o, e bytes.Buffer
		code := runEnv(c.args, &env{stdout: &o, stderr: &e, lookupEnv: func(k string) (string, bool) { v, ok := c.env[k]; return v, ok }})
		if code != c.code || !strings.Contains(e.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", c.args, code, e.String(), c.code, c.want)
		}
		untouched(strings.Join(c.args, " "))
	}
	if _, err := os.Stat(filepath.Join(tree, "a", "self.cpio")); err == nil {
		t.Error("an output inside the tree was written")
	}

	// As nobody: a root-only file cannot be read.
	bin := filepath.Join(ukibuildBin(t), "ukibuild")
	if err := os.Chmod(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	asNobody := func(args ...string) (int, string) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		var e bytes.Buffer
		cmd.Stderr = &e
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), e.String()
		} else if err != nil {
			t.Fatalf("running ukibuild as nobody: %v", err)
		}
		return 0, e.String()
	}
	secret := filepath.Join(tree, "usr", "secret")
	if err := os.WriteFile(secret, []byte("root only"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, e := asNobody("cpio", tree, "-o", out); code != 1 || !strings.Contains(e, secret+": permission denied") {
		t.Errorf("unreadable file: exit %d, stderr %q", code, e)
	}
	untouched("unreadable file")
	if err := os.Remove(secret); err != nil {
		t.Fatal(err)
	}
	// Readable by nobody: the default owner is then 0:0.
	fresh := filepath.Join(outDir, "nobody.cpio")
	if code, e := asNobody("cpio", tree, "-o", fresh); code != 0 {
		t.Fatalf("as nobody: exit %d, stderr %q", code, e)
	}
	got, err := os.ReadFile(fresh)
	if err != nil {
		t.Fatal(err)
	}
	if want := mkosiCpio(t, tree, "--owner=0:0"); !bytes.Equal(got, want) {
		t.Errorf("as nobody: %d bytes differ from GNU cpio --owner=0:0's %d", len(got), len(want))
	}
}
