// Package atomicfile writes files so that readers (and a machine that loses
// power) see either the old file or the complete new one, never a partial
// write: the data goes to a temporary file in the target's directory, which is
// synced, renamed over the target, and the directory is synced.
//
// Temporary files are never left behind by an error, and a command that
// calls HandleSignals removes them when it is interrupted (SIGINT, SIGTERM,
// SIGHUP). Only SIGKILL or a crash of the machine can leave one; such a
// file has a recognisable name (TempName) and the next Write or Scratch in
// the same directory removes it, once it is sure the file is stale: it
// belongs to this user, its process is gone and it is older than the
// running process.
//
// Every command that writes a file (build, sign, the future genkey and
// kernel-install) goes through Write; scratch files that are not outputs
// (a decompressed kernel) go through Scratch.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"time"
)

// tempMarker is the part of a temporary file's name that identifies it as
// ours; see TempName.
const tempMarker = ".ukibuild-tmp-"

// maxBase bounds the part of the target name copied into a temporary
// file's name, so that the name stays within the 255 bytes file systems
// allow.
const maxBase = 200

// tempRE matches the names TempName makes: the PID and the random part.
var tempRE = regexp.MustCompile(`^\..*\.ukibuild-tmp-([0-9]+)-[0-9a-f]{8}$`)

// ErrInterrupted is returned by Write and Scratch once Abort has run: the
// process is being interrupted and must not create new files.
var ErrInterrupted = errors.New("interrupted: no new files are written")

// processStart is when this process started (close enough: when the
// package was initialised). Only temporary files older than it are
// considered stale.
var processStart = time.Now()

// inflight holds the temporary files that exist right now, for Abort.
var inflight = struct {
	sync.Mutex
	paths  map[string]bool
	closed bool
}{paths: map[string]bool{}}

// TempName returns the name of a new temporary file for the file called
// base: "." + base + ".ukibuild-tmp-" + PID + "-" + 8 random hex digits.
// The leading dot hides it from ls and from globs such as *.efi (so a boot
// loader or kernel-install never picks up a half-written image), and the
// PID and the marker let a later run recognise it as a stale leftover.
func TempName(base string) string {
	if len(base) > maxBase {
		base = base[:maxBase]
	}
	return "." + base + tempMarker + strconv.Itoa(os.Getpid()) + "-" + fmt.Sprintf("%08x", rand.Uint32())
}

// IsTempName reports whether name (a base name) is one TempName makes, and
// returns the PID it carries.
func IsTempName(name string) (pid int, ok bool) {
	m := tempRE.FindStringSubmatch(name)
	if m == nil {
		return 0, false
	}
	pid, err := strconv.Atoi(m[1])
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, true
}

// create makes a new temporary file in dir for a file called base and
// registers it, under the registry lock so that Abort either sees it or
// prevents it.
func create(dir, base string) (*os.File, error) {
	inflight.Lock()
	defer inflight.Unlock()
	if inflight.closed {
		return nil, ErrInterrupted
	}
	for tries := 0; ; tries++ {
		name := filepath.Join(dir, TempName(base))
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) && tries < 10 {
			continue
		}
		if err != nil {
			return nil, err
		}
		inflight.paths[name] = true
		return f, nil
	}
}

func forget(name string) {
	inflight.Lock()
	delete(inflight.paths, name)
	inflight.Unlock()
}

// discard closes and removes a temporary file and forgets it.
func discard(f *os.File) {
	f.Close()
	os.Remove(f.Name())
	forget(f.Name())
}

// Write creates or replaces path with what write produces. On any error
// (from write or from the file system) the temporary file is removed and an
// existing file at path is left untouched. A new file gets mode perm; a
// replaced file keeps its mode. Stale temporary files of earlier, killed
// runs in the same directory are removed first (see RemoveStale).
func Write(path string, perm fs.FileMode, write func(f *os.File) error) (err error) {
	dir := filepath.Dir(path)
	if st, err := os.Stat(path); err == nil {
		if !st.Mode().IsRegular() {
			return fmt.Errorf("%s: exists and is not a regular file", path)
		}
		perm = st.Mode().Perm()
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	RemoveStale(dir)
	tmp, err := create(dir, filepath.Base(path))
	if err != nil {
		return fmt.Errorf("creating a temporary file next to %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			discard(tmp)
		}
	}()
	if err := write(tmp); err != nil {
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	forget(tmp.Name())
	if d, err := os.Open(dir); err == nil {
		// Best effort: some file systems do not support syncing directories.
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// Scratch creates a temporary working file in dir (os.TempDir() when
// empty) whose name is made from base like Write's temporary files: Abort
// removes it, and a later run removes it if it is left over. Remove it with
// Remove when done.
func Scratch(dir, base string) (*os.File, error) {
	if dir == "" {
		dir = os.TempDir()
	}
	RemoveStale(dir)
	return create(dir, base)
}

// Remove removes a file made by Scratch.
func Remove(name string) error {
	defer forget(name)
	return os.Remove(name)
}

// Abort removes every temporary file that exists now and makes later
// Write and Scratch calls fail with ErrInterrupted. A signal handler calls
// it before the process exits; it returns the files it removed.
func Abort() []string {
	inflight.Lock()
	defer inflight.Unlock()
	inflight.closed = true
	var removed []string
	for name := range inflight.paths {
		if err := os.Remove(name); err == nil {
			removed = append(removed, name)
		}
		delete(inflight.paths, name)
	}
	return removed
}

// RemoveStale removes the temporary files of earlier runs left in dir by a
// SIGKILL or a crash. A file is removed only when all of these hold: its
// name is one TempName makes, it is a regular file owned by this process's
// user, the PID in its name is not a running process, and it was last
// modified before this process started. Errors are ignored: a leftover that
// cannot be removed does no harm but take space. It returns the files it
// removed.
func RemoveStale(dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var removed []string
	for _, e := range ents {
		pid, ok := IsTempName(e.Name())
		if !ok || !e.Type().IsRegular() || pid == os.Getpid() {
			continue
		}
		name := filepath.Join(dir, e.Name())
		st, err := os.Lstat(name)
		if err != nil || !st.Mode().IsRegular() || !st.ModTime().Before(processStart) {
			continue
		}
		if !ownedByUs(st) || processExists(pid) {
			continue
		}
		if os.Remove(name) == nil {
			removed = append(removed, name)
		}
	}
	return removed
}
