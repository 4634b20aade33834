// Package reftools locates the reference tools that the tests compare
// ukibuild against (Debian's systemd stubs, ukify, systemd-measure,
// systemd-sbsign, systemd-creds, systemd-pcrlock, GNU cpio, a Debian
// kernel), as fetched by fetch.sh in this directory. Tests that need a tool
// fail, never skip, when it is missing: run internal/reftools/fetch.sh (the
// Taskfile's test task and .ci/run do).
package reftools

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Tools holds the paths fetch.sh recorded in env.sh.
type Tools struct {
	Dir  string
	vars map[string]string
}

// Dir returns the reference tool directory: $UKIBUILD_REFTOOLS or
// <repo>/.cache/reftools.
func Dir() string {
	if d := os.Getenv("UKIBUILD_REFTOOLS"); d != "" {
		return d
	}
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", ".cache", "reftools")
}

// Load reads env.sh from dir.
func Load(dir string) (*Tools, error) {
	f, err := os.Open(filepath.Join(dir, "env.sh"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t := &Tools{Dir: dir, vars: map[string]string{}}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			t.vars[k] = v
		}
	}
	return t, sc.Err()
}

// Locate loads the tools or fails the test.
func Locate(tb testing.TB) *Tools {
	tb.Helper()
	t, err := Load(Dir())
	if err != nil {
		tb.Fatalf("reference tools are missing (%v): run internal/reftools/fetch.sh", err)
	}
	return t
}

// Path returns the file recorded under key (e.g. "UKIBUILD_STUB_262") and
// fails the test if it is not there.
func (t *Tools) Path(tb testing.TB, key string) string {
	tb.Helper()
	p := t.vars[key]
	if p == "" {
		tb.Fatalf("reference tools: %s is not recorded in %s/env.sh: run internal/reftools/fetch.sh", key, t.Dir)
	}
	if _, err := os.Stat(p); err != nil {
		tb.Fatalf("reference tools: %s: %v: run internal/reftools/fetch.sh", key, err)
	}
	return p
}

// Var returns a recorded value without checking it.
func (t *Tools) Var(key string) string { return t.vars[key] }

// Ukify returns a command running ukify 262 with the host python3 and sid's
// pefile. No configuration file is read: ukify only reads one when given
// --config or when one exists in /etc/systemd, /run/systemd,
// /usr/local/lib/systemd or /usr/lib/systemd; the tests check none exists.
func (t *Tools) Ukify(tb testing.TB, args ...string) *exec.Cmd {
	tb.Helper()
	ukify := t.Path(tb, "UKIBUILD_UKIFY")
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		tb.Fatalf("reference tools: %s is missing (apt-get install python3)", py)
	}
	cmd := exec.Command(py, append([]string{ukify}, args...)...)
	cmd.Env = append(os.Environ(), "PYTHONPATH="+t.Var("UKIBUILD_SID_PYTHONPATH"), "PYTHONDONTWRITEBYTECODE=1")
	return cmd
}

// UkifyPython runs a Python snippet with ukify 262 imported as the module
// "ukify" (and json, sys imported), with stdin as its standard input, and
// returns its standard output. A failure of the snippet fails the test.
func (t *Tools) UkifyPython(tb testing.TB, script string, stdin []byte) []byte {
	tb.Helper()
	ukify := t.Path(tb, "UKIBUILD_UKIFY")
	prog := `import importlib.machinery, importlib.util, json, sys
loader = importlib.machinery.SourceFileLoader('ukify', sys.argv[1])
spec = importlib.util.spec_from_loader('ukify', loader)
ukify = importlib.util.module_from_spec(spec)
loader.exec_module(ukify)
` + script
	cmd := exec.Command("/usr/bin/python3", "-c", prog, ukify)
	cmd.Env = append(os.Environ(), "PYTHONPATH="+t.Var("UKIBUILD_SID_PYTHONPATH"), "PYTHONDONTWRITEBYTECODE=1")
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		tb.Fatalf("python3 with ukify: %v: %s", err, stderr.Bytes())
	}
	return stdout.Bytes()
}

// MeasureVersion returns a command running systemd-measure of the given
// systemd release ("252", "254", "257" or "262", as fetch.sh records them
// under UKIBUILD_MEASURE_<version>), through the ld.so and libraries of the
// Debian suite it comes from, never the host's. Colors are turned off
// (SYSTEMD_COLORS=0), no pager is started and the log level is info (a
// debug level inherited from the environment would add stderr lines).
// Measure runs the 262 one.
func (t *Tools) MeasureVersion(tb testing.TB, version string, args ...string) *exec.Cmd {
	tb.Helper()
	return t.loaded(tb, "UKIBUILD_MEASURE_"+version, args...)
}

// SystemdSbsign returns a command running sid's systemd-sbsign (262.x,
// recorded as UKIBUILD_SYSTEMD_SBSIGN) through sid's ld.so and libraries,
// with the environment MeasureVersion sets. systemd-sbsign takes its
// signing time from SOURCE_DATE_EPOCH: set it in cmd.Env to know it.
func (t *Tools) SystemdSbsign(tb testing.TB, args ...string) *exec.Cmd {
	tb.Helper()
	return t.viaLoader(tb, t.Path(tb, "UKIBUILD_SYSTEMD_SBSIGN"), "UKIBUILD_MEASURE_262_LOADER", "UKIBUILD_SID_LIBRARY_PATH", args)
}

// Cpio returns a command running GNU cpio 2.15 (Debian trixie's, the
// reference for package cpio) through trixie's ld.so and libc, never the
// host's cpio (bookworm's 2.13 writes other directory link counts). The
// locale is C, so that messages do not depend on the host's.
func (t *Tools) Cpio(tb testing.TB, args ...string) *exec.Cmd {
	tb.Helper()
	cmd := t.loaded(tb, "UKIBUILD_CPIO_215", args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	return cmd
}

// loaded returns a command running the binary recorded under key through
// the ld.so recorded under key_LOADER with the libraries of
// key_LIBRARY_PATH (the binary's own Debian suite's).
func (t *Tools) loaded(tb testing.TB, key string, args ...string) *exec.Cmd {
	tb.Helper()
	return t.viaLoader(tb, t.Path(tb, key), key+"_LOADER", key+"_LIBRARY_PATH", args)
}

// viaLoader runs bin through the ld.so and library path recorded under
// loaderKey and libsKey, with colors, pager and debug logging of systemd's
// tools off.
func (t *Tools) viaLoader(tb testing.TB, bin, loaderKey, libsKey string, args []string) *exec.Cmd {
	tb.Helper()
	loader := t.Path(tb, loaderKey)
	libs := t.Var(libsKey)
	if libs == "" {
		tb.Fatalf("reference tools: %s is not recorded in %s/env.sh: run internal/reftools/fetch.sh", libsKey, t.Dir)
	}
	cmd := exec.Command(loader, append([]string{"--library-path", libs, bin}, args...)...)
	cmd.Env = append(os.Environ(), "SYSTEMD_COLORS=0", "SYSTEMD_PAGER=cat", "PAGER=cat", "SYSTEMD_LOG_LEVEL=info")
	return cmd
}

// UkifyConfigFiles lists ukify configuration files present on this machine;
// their presence would change ukify's behaviour in the comparison tests.
func UkifyConfigFiles() []string {
	var found []string
	for _, d := range []string{"/etc/systemd", "/run/systemd", "/usr/local/lib/systemd", "/usr/lib/systemd"} {
		p := filepath.Join(d, "ukify.conf")
		if _, err := os.Stat(p); err == nil {
			found = append(found, p)
		}
	}
	return found
}

// Sid returns a command running one of sid's systemd 262 binaries that
// fetch.sh unpacked into UKIBUILD_SID_ROOT (name is its path under that
// root, e.g. "usr/lib/systemd/systemd-pcrlock"), through sid's ld.so and
// libraries, with the environment MeasureVersion sets.
func (t *Tools) Sid(tb testing.TB, name string, args ...string) *exec.Cmd {
	tb.Helper()
	root := t.Path(tb, "UKIBUILD_SID_ROOT")
	bin := filepath.Join(root, name)
	if _, err := os.Stat(bin); err != nil {
		tb.Fatalf("reference tools: %v: run internal/reftools/fetch.sh", err)
	}
	return t.viaLoader(tb, bin, "UKIBUILD_MEASURE_262_LOADER", "UKIBUILD_SID_LIBRARY_PATH", args)
}

// CredsVersion returns a command running systemd-creds of the given systemd
// release ("252", "254", "257" or "262", as fetch.sh records them under
// UKIBUILD_CREDS_<version>), through the ld.so and libraries of its Debian
// suite, with the environment MeasureVersion sets. 262's and 257's
// libraries include libtss2-tcti-swtpm, so --tpm2-device=swtpm:path=SOCK
// works with them.
func (t *Tools) CredsVersion(tb testing.TB, version string, args ...string) *exec.Cmd {
	tb.Helper()
	return t.loaded(tb, "UKIBUILD_CREDS_"+version, args...)
}

// MkfsErofsPath writes into dir an executable "mkfs.erofs" that runs
// trixie's mkfs.erofs (UKIBUILD_MKFS_EROFS) through trixie's ld.so and the
// libraries fetch.sh unpacked with it, and returns dir: put it first in
// PATH for sid's systemd-repart, which runs mkfs.erofs from PATH (the
// binary itself would need a newer libc than the host's).
func (t *Tools) MkfsErofsPath(tb testing.TB, dir string) string {
	tb.Helper()
	bin := t.Path(tb, "UKIBUILD_MKFS_EROFS")
	loader := t.Path(tb, "UKIBUILD_MKFS_EROFS_LOADER")
	libs := t.Var("UKIBUILD_MKFS_EROFS_LIBRARY_PATH")
	if libs == "" {
		tb.Fatalf("reference tools: UKIBUILD_MKFS_EROFS_LIBRARY_PATH is not recorded in %s/env.sh: run internal/reftools/fetch.sh", t.Dir)
	}
	script := fmt.Sprintf("#!/bin/sh\nexec %s --library-path %s %s \"$@\"\n", shellQuote(loader), shellQuote(libs), shellQuote(bin))
	if err := os.WriteFile(filepath.Join(dir, "mkfs.erofs"), []byte(script), 0o755); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// shellQuote quotes s for sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
