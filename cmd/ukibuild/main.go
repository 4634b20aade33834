// Command ukibuild builds, measures, signs and inspects Unified Kernel Images.
// Its verbs and options follow systemd's ukify 262, so that a ukify user can
// switch by changing the command name; all the work is done by the library
// packages (uki, sbat, ...), which a Go program can use directly.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/alecthomas/kong"
)

// version is set at link time (-ldflags "-X main.version=...").
var version = "devel"

type cli struct {
	Build    buildCmd         `cmd:"" help:"Build a UKI (or a PE add-on) from a stub, a kernel and other parts."`
	Inspect  inspectCmd       `cmd:"" help:"Show the sections of a UKI or another PE image."`
	Measure  measureCmd       `cmd:"" help:"Predict PCR 11 and sign PCR policies (systemd-measure compatible)."`
	Sign     signCmd          `cmd:"" help:"Sign a PE image (UKI) with Authenticode for Secure Boot."`
	Verify   verifyCmd        `cmd:"" help:"Verify the Authenticode signatures of a PE image with UEFI firmware's rules."`
	Genkey   genkeyCmd        `cmd:"" help:"Create Secure Boot and PCR signing keys (ukify genkey)."`
	Eventlog eventlogCmd      `cmd:"" help:"Check a TPM event log against the prediction for a UKI."`
	Version  kong.VersionFlag `help:"Print the version and exit."`
}

// env carries what commands need from the process, so that tests can run
// commands in-process without global state.
type env struct {
	stdout, stderr io.Writer
}

func (e *env) warnf(format string, args ...any) {
	fmt.Fprintf(e.stderr, "ukibuild: warning: "+format+"\n", args...)
}

func run(args []string, stdout, stderr io.Writer) int {
	var c cli
	exit := -1
	parser, err := kong.New(&c,
		kong.Name("ukibuild"),
		kong.Description("Build, measure, sign and inspect Unified Kernel Images (ukify-compatible)."),
		kong.UsageOnError(),
		kong.Vars{"version": "ukibuild " + version},
		kong.Writers(stdout, stderr),
		kong.Exit(func(code int) { exit = code }),
	)
	if err != nil {
		fmt.Fprintf(stderr, "ukibuild: %v\n", err)
		return 2
	}
	ctx, err := parser.Parse(args)
	if exit >= 0 {
		return exit
	}
	if err != nil {
		fmt.Fprintf(stderr, "ukibuild: error: %v\n", err)
		return 2
	}
	e := &env{stdout: stdout, stderr: stderr}
	if err := ctx.Run(e); err != nil {
		fmt.Fprintf(stderr, "ukibuild: error: %v\n", err)
		return 1
	}
	return 0
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
