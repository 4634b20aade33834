//go:build linux

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ukibuild/ukibuild/internal/peakrss"
)

// buildMaxRSS is the peak resident set size the performance issue allows a
// build of any size.
const buildMaxRSS = 48 << 20

// TestBuildMemoryBound builds a UKI with a sparse 512 MiB initrd, PCR
// policies for all four banks and Secure Boot signing, in a child process,
// and checks the child's peak RSS (its VmHWM; see package peakrss): memory
// must not grow with the input. The result must verify. Then it predicts
// that UKI's PCR 9, 11, 12 and 13 events (measure --explain) with a sparse
// 256 MiB system extension and a credential in its .extra.d/: the
// initrd and the extension are hashed as streams, within the same bound.
func TestBuildMemoryBound(t *testing.T) {
	if os.Getenv("UKIBUILD_MEMORY_CHILD") == "1" {
		var args []string
		for i := 0; ; i++ {
			a, ok := os.LookupEnv("UKIBUILD_MEMORY_ARG" + string(rune('a'+i)))
			if !ok {
				break
			}
			args = append(args, a)
		}
		if code := run(args, os.Stdout, os.Stderr); code != 0 {
			t.Fatalf("%s exited %d", args[0], code)
		}
		if err := peakrss.Report(os.Stdout); err != nil {
			t.Fatal(err)
		}
		return
	}
	f := getFixture(t)
	dir := t.TempDir()
	key, cert := selfSignedKeyCert(t, dir, "db")
	pcrKey, _ := rsaKeyPEM(t, dir, "pcr")
	sparse := func(path string, size int64) string {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		fh, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		defer fh.Close()
		if err := fh.Truncate(size); err != nil {
			t.Fatal(err)
		}
		return path
	}
	initrd := sparse(filepath.Join(dir, "initrd"), 512<<20)
	out := filepath.Join(dir, "uki.efi")
	maxRSS, ru, _ := childPeakRSS(t, "build", "--stub", f.stubs["262"], "--linux", f.kernel, "--initrd", initrd, "--cmdline", "quiet",
		"--pcr-private-key", pcrKey, "--secureboot-private-key", key, "--secureboot-certificate", cert, "--output", out)
	t.Logf("build with a 512 MiB initrd, 4 PCR banks and Secure Boot signing: peak RSS %d KiB, CPU %d ms user + %d ms system",
		maxRSS>>10, ru.Utime.Nano()/1e6, ru.Stime.Nano()/1e6)
	if maxRSS > buildMaxRSS {
		t.Errorf("the build peaked at %d MiB resident, more than %d MiB", maxRSS>>20, buildMaxRSS>>20)
	}
	if code, o, e := runOurs("verify", out, "--cert", cert); code != 0 {
		t.Errorf("verify: %s %s", o, e)
	}

	sparse(filepath.Join(out+".extra.d", "big.raw"), 256<<20)
	if err := os.WriteFile(filepath.Join(out+".extra.d", "a.cred"), []byte("credential"), 0o644); err != nil {
		t.Fatal(err)
	}
	maxRSS, ru, output := childPeakRSS(t, "measure", out, "--explain", "--pcrs", "9,11,12,13")
	for _, want := range []string{"Linux initrd (", "System extension initrd (big.raw)", "Credentials initrd (a.cred)"} {
		if !strings.Contains(string(output), want) {
			t.Errorf("measure --explain printed no %q:\n%s", want, output)
		}
	}
	t.Logf("measure --explain --pcrs 9,11,12,13, 512 MiB initrd, 256 MiB sysext: peak RSS %d KiB, CPU %d ms user + %d ms system",
		maxRSS>>10, ru.Utime.Nano()/1e6, ru.Stime.Nano()/1e6)
	if maxRSS > buildMaxRSS {
		t.Errorf("measure --explain peaked at %d MiB resident, more than %d MiB", maxRSS>>20, buildMaxRSS>>20)
	}
}

// childPeakRSS runs "ukibuild args..." in a child process (this test
// binary in TestBuildMemoryBound's child mode) and returns its peak RSS
// (VmHWM; not the rusage's Maxrss: see package peakrss), its rusage and
// its output.
func childPeakRSS(t *testing.T, args ...string) (int64, *syscall.Rusage, []byte) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestBuildMemoryBound$", "-test.count=1")
	cmd.Env = append(os.Environ(), "UKIBUILD_MEMORY_CHILD=1")
	for i, a := range args {
		cmd.Env = append(cmd.Env, "UKIBUILD_MEMORY_ARG"+string(rune('a'+i))+"="+a)
	}
	output, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s child: %v\n%s", args[0], err, output)
	}
	maxRSS, err := peakrss.Parse(output)
	if err != nil {
		t.Fatalf("%v\n%s", err, output)
	}
	return maxRSS, cmd.ProcessState.SysUsage().(*syscall.Rusage), output
}
