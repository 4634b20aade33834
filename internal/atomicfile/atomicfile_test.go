package atomicfile

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func names(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func TestWriteNewAndReplace(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.efi")
	write := func(s string) func(*os.File) error {
		return func(f *os.File) error {
			if _, err := os.Stat(f.Name()); err != nil {
				t.Errorf("temporary file does not exist while writing: %v", err)
			}
			if filepath.Dir(f.Name()) != dir {
				t.Errorf("temporary file %s is not in the target directory %s", f.Name(), dir)
			}
			if _, ok := IsTempName(filepath.Base(f.Name())); !ok {
				t.Errorf("temporary file %s does not have a recognisable name", f.Name())
			}
			_, err := f.WriteString(s)
			return err
		}
	}
	if err := Write(p, 0o640, write("one")); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o640 {
		t.Errorf("new file has mode %v, want 0640", st.Mode().Perm())
	}
	if err := os.Chmod(p, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Write(p, 0o644, write("two")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "two" {
		t.Errorf("content %q, want %q", b, "two")
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
		t.Errorf("replaced file has mode %v, want its old 0600", st.Mode().Perm())
	}
	if n := names(t, dir); len(n) != 1 {
		t.Errorf("directory holds %v, want only out.efi", n)
	}
}

func TestWriteErrorKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.efi")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := Write(p, 0o644, func(f *os.File) error {
		f.WriteString("partial new content")
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Write = %v, want the write error", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "old" {
		t.Errorf("old file changed to %q", b)
	}
	if n := names(t, dir); len(n) != 1 {
		t.Errorf("directory holds %v after a failed write, want only out.efi", n)
	}
	// A new file is not created either.
	q := filepath.Join(dir, "new.efi")
	if err := Write(q, 0o644, func(*os.File) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("Write = %v", err)
	}
	if _, err := os.Stat(q); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed write created %s (%v)", q, err)
	}
}

func TestWriteRefusesNonRegular(t *testing.T) {
	dir := t.TempDir()
	err := Write(dir, 0o644, func(*os.File) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "not a regular file") || !strings.Contains(err.Error(), dir) {
		t.Fatalf("Write over a directory = %v", err)
	}
	err = Write(filepath.Join(dir, "missing", "out.efi"), 0o644, func(*os.File) error { return nil })
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "missing", "out.efi")) {
		t.Fatalf("Write into a missing directory = %v", err)
	}
}

func TestTempName(t *testing.T) {
	n := TempName("linux.efi")
	pid, ok := IsTempName(n)
	if !ok || pid != os.Getpid() {
		t.Fatalf("IsTempName(%q) = %d, %v", n, pid, ok)
	}
	if !strings.HasPrefix(n, ".linux.efi.ukibuild-tmp-") {
		t.Errorf("TempName = %q", n)
	}
	long := TempName(strings.Repeat("x", 400))
	if len(long) > 255 {
		t.Errorf("TempName of a long name is %d bytes", len(long))
	}
	if _, ok := IsTempName(long); !ok {
		t.Errorf("IsTempName(%q) = false", long)
	}
	for _, s := range []string{"linux.efi", ".linux.efi.tmp123", ".x.ukibuild-tmp-12-zzzzzzzz", ".x.ukibuild-tmp--1-0123abcd",
		".x.ukibuild-tmp-0-0123abcd", "x.ukibuild-tmp-12-0123abcd", ".x.ukibuild-tmp-12-0123abcd.efi"} {
		if _, ok := IsTempName(s); ok {
			t.Errorf("IsTempName(%q) = true", s)
		}
	}
}

// deadPID returns the PID of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("/bin/true")
	if err := cmd.Run(); err != nil {
		t.Fatalf("running /bin/true: %v", err)
	}
	return cmd.Process.Pid
}

func TestRemoveStale(t *testing.T) {
	dir := t.TempDir()
	old := processStart.Add(-time.Hour)
	dead := deadPID(t)
	mk := func(name string, mtime time.Time) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		return p
	}
	stale := mk(".a.efi.ukibuild-tmp-"+strconv.Itoa(dead)+"-0123abcd", old)
	keep := []string{
		mk(".b.efi.ukibuild-tmp-"+strconv.Itoa(dead)+"-0123abcd", time.Now().Add(time.Hour)), // newer than this process
		mk(".c.efi.ukibuild-tmp-"+strconv.Itoa(os.Getppid())+"-0123abcd", old),               // its process is alive
		mk(".d.efi.ukibuild-tmp-"+strconv.Itoa(os.Getpid())+"-0123abcd", old),                // ours
		mk(".e.efi.tmp123", old), // not our pattern
		mk("f.efi", old),         // a real file
		mk(".g.efi.ukibuild-tmp-"+strconv.Itoa(dead)+"-0123abcd.efi", old),        // not our pattern
		filepath.Join(dir, ".h.efi.ukibuild-tmp-"+strconv.Itoa(dead)+"-0123abcd"), // a symlink
	}
	if err := os.Symlink("f.efi", keep[len(keep)-1]); err != nil {
		t.Fatal(err)
	}
	removed := RemoveStale(dir)
	if len(removed) != 1 || removed[0] != stale {
		t.Errorf("RemoveStale removed %v, want [%s]", removed, stale)
	}
	if _, err := os.Lstat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale file %s is still there", stale)
	}
	for _, p := range keep {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s was removed: %v", p, err)
		}
	}
	// Write and Scratch sweep the directory they create files in.
	stale = mk(".i.efi.ukibuild-tmp-"+strconv.Itoa(dead)+"-0123abcd", old)
	if err := Write(filepath.Join(dir, "f.efi"), 0o644, func(*os.File) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Write left the stale file %s", stale)
	}
	stale = mk(".j.ukibuild-tmp-"+strconv.Itoa(dead)+"-0123abcd", old)
	f, err := Scratch(dir, "linux")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := Remove(f.Name()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Scratch left the stale file %s", stale)
	}
}

// TestAbort: Abort removes the files being written, the write then fails
// and the old file stays; nothing new is created afterwards.
func TestAbort(t *testing.T) {
	defer func() {
		inflight.Lock()
		inflight.closed = false
		inflight.Unlock()
	}()
	dir := t.TempDir()
	p := filepath.Join(dir, "out.efi")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	scratch, err := Scratch(dir, "linux")
	if err != nil {
		t.Fatal(err)
	}
	defer scratch.Close()
	var removed []string
	err = Write(p, 0o644, func(f *os.File) error {
		f.WriteString("new")
		removed = Abort()
		return nil
	})
	if err == nil {
		t.Fatalf("Write succeeded after Abort removed its temporary file")
	}
	if len(removed) != 2 {
		t.Errorf("Abort removed %v, want the temporary file and the scratch file", removed)
	}
	if b, _ := os.ReadFile(p); string(b) != "old" {
		t.Errorf("old file changed to %q", b)
	}
	if n := names(t, dir); len(n) != 1 {
		t.Errorf("directory holds %v after Abort", n)
	}
	if err := Write(p, 0o644, func(*os.File) error { return nil }); !errors.Is(err, ErrInterrupted) {
		t.Errorf("Write after Abort = %v, want ErrInterrupted", err)
	}
	if _, err := Scratch(dir, "x"); !errors.Is(err, ErrInterrupted) {
		t.Errorf("Scratch after Abort = %v, want ErrInterrupted", err)
	}
}
