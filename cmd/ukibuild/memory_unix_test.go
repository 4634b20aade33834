//go:build linux

package main

import (
	"os"
	"os/exec"
	"path/filepath"
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
// must not grow with the input. The result must verify.
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
			t.Fatalf("build exited %d", code)
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
	initrd := filepath.Join(dir, "initrd")
	fh, err := os.Create(initrd)
	if err != nil {
		t.Fatal(err)
	}
	if err := fh.Truncate(512 << 20); err != nil {
		t.Fatal(err)
	}
	fh.Close()
	out := filepath.Join(dir, "uki.efi")
	args := []string{"build", "--stub", f.stubs["262"], "--linux", f.kernel, "--initrd", initrd, "--cmdline", "quiet",
		"--pcr-private-key", pcrKey, "--secureboot-private-key", key, "--secureboot-certificate", cert, "--output", out}
	cmd := exec.Command(os.Args[0], "-test.run=^TestBuildMemoryBound$", "-test.count=1")
	cmd.Env = append(os.Environ(), "UKIBUILD_MEMORY_CHILD=1")
	for i, a := range args {
		cmd.Env = append(cmd.Env, "UKIBUILD_MEMORY_ARG"+string(rune('a'+i))+"="+a)
	}
	output, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("build child: %v\n%s", err, output)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	maxRSS, err := peakrss.Parse(output) // not ru.Maxrss: see package peakrss
	if err != nil {
		t.Fatalf("%v\n%s", err, output)
	}
	t.Logf("build with a 512 MiB initrd, 4 PCR banks and Secure Boot signing: peak RSS %d KiB, CPU %d ms user + %d ms system",
		maxRSS>>10, ru.Utime.Nano()/1e6, ru.Stime.Nano()/1e6)
	if maxRSS > buildMaxRSS {
		t.Errorf("the build peaked at %d MiB resident, more than %d MiB", maxRSS>>20, buildMaxRSS>>20)
	}
	if code, o, e := runOurs("verify", out, "--cert", cert); code != 0 {
		t.Errorf("verify: %s %s", o, e)
	}
}
