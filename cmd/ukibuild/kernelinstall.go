package main

// "ukibuild kernel-install": a kernel-install(8) plugin that builds the UKI
// as systemd 262's 60-ukify.install does (package kernelinstall decides
// what to build; this runs "ukibuild build" with it).
// examples/kernel-install/60-ukibuild.install is the plugin that calls it.

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/ukibuild/ukibuild/kernelinstall"
)

type kernelInstallCmd struct {
	Command       string   `arg:"" help:"kernel-install's command: add builds the UKI; any other (remove, ...) does nothing." placeholder:"COMMAND"`
	KernelVersion string   `arg:"" help:"Kernel version (uname -r) [.uname section]." placeholder:"KERNEL-VERSION"`
	EntryDir      string   `arg:"" optional:"" help:"Type #1 entry directory (ignored)." placeholder:"ENTRY-DIR"`
	Kernel        string   `arg:"" optional:"" help:"Kernel image." placeholder:"KERNEL-IMAGE"`
	Initrds       []string `arg:"" optional:"" help:"Initrds, after the staging area's microcode* and before its initrd*." placeholder:"INITRD"`
}

func (k *kernelInstallCmd) Run(e *env) error {
	logf := func(format string, args ...any) { fmt.Fprintf(e.stdout, format+"\n", args...) }
	if !kernelinstall.Verbose(e.lookupEnv) {
		logf = nil
	}
	b, err := kernelinstall.Plan(kernelinstall.Request{Command: k.Command, KernelVersion: k.KernelVersion, Kernel: k.Kernel,
		Initrds: k.Initrds, LookupEnv: e.lookupEnv, Root: e.root, Logf: logf})
	if b == nil || err != nil {
		return err
	}
	args := b.Args()
	if logf != nil {
		logf("+ ukibuild %s", strings.Join(args, " "))
	}
	if code := runEnv(args, e); code != 0 {
		return exitCode(code)
	}
	if logf != nil {
		logf("%s has been created", b.Output)
	}
	return nil
}

// exitCode is an error that only carries an exit code: the failing command
// has printed its message already.
type exitCode int

func (c exitCode) Error() string { return "exit status " + strconv.Itoa(int(c)) }

// errExitCode extracts the code of an exitCode error.
func errExitCode(err error) (int, bool) {
	var c exitCode
	if errors.As(err, &c) {
		return int(c), true
	}
	return 0, false
}
