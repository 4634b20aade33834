package main

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/ukibuild/ukibuild/internal/atomicfile"
)

// buildBinary builds the ukibuild command into dir, for the tests that
// need a real process to kill.
func buildBinary(t *testing.T, dir string) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build ukibuild for this test: %v", err)
	}
	bin := filepath.Join(dir, "ukibuild")
	if out, err := exec.Command(gobin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// interruptFixture is a build whose output exists from an earlier build and
// which a test interrupts.
type interruptFixture struct {
	bin, outDir, out string
	old, new         []byte   // the output before, and the one this build makes
	args             []string // the build that makes new into out
	duration         time.Duration
}

func newInterruptFixture(t *testing.T) *interruptFixture {
	t.Helper()
	work := t.TempDir()
	fx := &interruptFixture{bin: buildBinary(t, work), outDir: t.TempDir()}
	fx.out = filepath.Join(fx.outDir, "linux.efi")
	stub := writeFile(work, "stub", malformedStub())
	kernel := writeFile(work, "kernel", malformedKernel())
	// A large initrd makes the output take a while to write and sync.
	initrd := writeFile(work, "initrd", randomBytes(9, 48<<20))
	common := []string{"build", "--stub", stub, "--linux", kernel, "--initrd", initrd, "--uname", "6.1.0", "--os-release", "ID=test"}
	ref := filepath.Join(work, "new.efi")
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(fx.bin, args...).CombinedOutput(); err != nil {
			t.Fatalf("ukibuild %v: %v\n%s", args, err, out)
		}
	}
	run(append(common, "--cmdline", "old", "--output", fx.out)...)
	start := time.Now()
	run(append(common, "--cmdline", "new", "--output", ref)...)
	fx.duration = time.Since(start)
	var err error
	if fx.old, err = os.ReadFile(fx.out); err != nil {
		t.Fatal(err)
	}
	if fx.new, err = os.ReadFile(ref); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(fx.old, fx.new) {
		t.Fatal("the old and the new image are the same")
	}
	fx.args = append(common, "--cmdline", "new", "--output", fx.out)
	return fx
}

// restore puts the old output back when a run got to replace it.
func (fx *interruptFixture) restore(t *testing.T) {
	t.Helper()
	if b, _ := os.ReadFile(fx.out); bytes.Equal(b, fx.old) {
		return
	}
	if err := os.WriteFile(fx.out, fx.old, 0o644); err != nil {
		t.Fatal(err)
	}
}

// interrupt starts the build, sends sig after a random delay within about
// one build's time, and reports whether the signal ended it.
func (fx *interruptFixture) interrupt(t *testing.T, rng *rand.Rand, sig syscall.Signal) (killed bool, stderr string) {
	t.Helper()
	cmd := exec.Command(fx.bin, fx.args...)
	var e bytes.Buffer
	cmd.Stderr = &e
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Duration(rng.Int64N(int64(fx.duration) * 6 / 5)))
	_ = cmd.Process.Signal(sig)
	err := cmd.Wait()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return false, e.String()
	case errors.As(err, &ee):
		ws := ee.Sys().(syscall.WaitStatus)
		if ws.Signaled() && ws.Signal() == sig {
			return true, e.String()
		}
		if sig != syscall.SIGKILL && ws.Exited() && ws.ExitStatus() == 128+int(sig) {
			return true, e.String()
		}
		t.Fatalf("ukibuild failed on its own: %v\n%s", err, e.String())
	default:
		t.Fatal(err)
	}
	return false, ""
}

// check verifies the output is the old image or the complete new one and
// returns the other files in its directory.
func (fx *interruptFixture) check(t *testing.T, i int) (others []string) {
	t.Helper()
	b, err := os.ReadFile(fx.out)
	if err != nil {
		t.Fatalf("run %d: the output is gone: %v", i, err)
	}
	if !bytes.Equal(b, fx.old) && !bytes.Equal(b, fx.new) {
		t.Fatalf("run %d: the output (%d bytes) is neither the old image (%d bytes) nor the new one (%d bytes)", i, len(b), len(fx.old), len(fx.new))
	}
	ents, err := os.ReadDir(fx.outDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() != filepath.Base(fx.out) {
			others = append(others, e.Name())
		}
	}
	return others
}

// TestSIGKILLKeepsOldOutput kills a build at random moments, at least 50
// times: each time the output is the previous image or (when the kill came
// after the rename) the complete new one, never a mix or a truncated file;
// leftover temporary files have the recognisable name, and the next
// complete run removes them.
func TestSIGKILLKeepsOldOutput(t *testing.T) {
	fx := newInterruptFixture(t)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 11))
	kills, stale := 0, 0
	for i := 0; kills < 50; i++ {
		if i >= 500 {
			t.Fatalf("only %d of %d runs were killed before they finished", kills, i)
		}
		fx.restore(t)
		killed, _ := fx.interrupt(t, rng, syscall.SIGKILL)
		if killed {
			kills++
		}
		for _, name := range fx.check(t, i) {
			if _, ok := atomicfile.IsTempName(name); !ok {
				t.Fatalf("run %d left %s, which is not a recognisable temporary file", i, name)
			}
			stale++
		}
	}
	// A run to the end removes what killed runs left.
	fx.restore(t)
	if out, err := exec.Command(fx.bin, fx.args...).CombinedOutput(); err != nil {
		t.Fatalf("final build: %v\n%s", err, out)
	}
	if others := fx.check(t, -1); len(others) != 0 {
		t.Errorf("after a complete run the output directory still holds %v", others)
	}
	if b, _ := os.ReadFile(fx.out); !bytes.Equal(b, fx.new) {
		t.Error("the final build did not write the new image")
	}
	t.Logf("%d kills; %d temporary files seen after kills, removed by later runs", kills, stale)
}

// TestInterruptRemovesTemporaryFiles: SIGINT, SIGTERM and SIGHUP end a
// build with the old output intact and no temporary file left at all.
func TestInterruptRemovesTemporaryFiles(t *testing.T) {
	fx := newInterruptFixture(t)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 12))
	interrupted := 0
	for i := 0; interrupted < 30; i++ {
		if i >= 300 {
			t.Fatalf("only %d of %d runs were interrupted before they finished", interrupted, i)
		}
		fx.restore(t)
		sig := []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP}[i%3]
		killed, stderr := fx.interrupt(t, rng, sig)
		if killed {
			interrupted++
		}
		if others := fx.check(t, i); len(others) != 0 {
			t.Fatalf("run %d (%v) left %v\n%s", i, sig, others, stderr)
		}
	}
}
