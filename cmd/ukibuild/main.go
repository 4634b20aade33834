// Command ukibuild builds, measures, signs and inspects Unified Kernel Images.
// Its verbs and options follow systemd's ukify 262, so that a ukify user can
// switch by changing the command name; all the work is done by the library
// packages (uki, sbat, ...), which a Go program can use directly.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/alecthomas/kong"
	mangokong "github.com/alecthomas/mango-kong"
	"github.com/posener/complete"
	"github.com/willabides/kongplete"

	"github.com/ukibuild/ukibuild/internal/atomicfile"
	"github.com/ukibuild/ukibuild/sign/pkcs11"
)

// version is set at link time (-ldflags "-X main.version=...").
var version = "devel"

type cli struct {
	Build    buildCmd    `cmd:"" help:"Build a UKI (or a PE add-on) from a stub, a kernel and other parts."`
	Inspect  inspectCmd  `cmd:"" help:"Show the sections of a UKI or another PE image."`
	Measure  measureCmd  `cmd:"" help:"Predict PCR 11 and sign PCR policies (systemd-measure compatible)."`
	Sign     signCmd     `cmd:"" help:"Sign a PE image (UKI) with Authenticode for Secure Boot."`
	Verify   verifyCmd   `cmd:"" help:"Verify the Authenticode signatures of a PE image with UEFI firmware's rules."`
	Genkey   genkeyCmd   `cmd:"" help:"Create Secure Boot and PCR signing keys (ukify genkey)."`
	Eventlog eventlogCmd `cmd:"" help:"Check a TPM event log against the prediction for a UKI."`
	Creds    credsCmd    `cmd:"" help:"Encrypt systemd credentials offline for another machine; decrypt and inspect them (systemd-creds compatible)."`
	Cpio     cpioCmd     `cmd:"" help:"Write a reproducible cpio archive (initrd) of a directory tree, byte-identical to mkosi's."`

	KernelInstall kernelInstallCmd `cmd:"" name:"kernel-install" help:"kernel-install(8) plugin: build $KERNEL_INSTALL_STAGING_AREA/uki.efi as 60-ukify.install does."`
	Completion    completionCmd    `cmd:"" help:"Print the shell code that sets up completion for bash, zsh or fish."`

	Version kong.VersionFlag  `help:"Print the version and exit."`
	Man     mangokong.ManFlag `help:"Print the man page (roff, section 1) and exit: ukibuild --man > ukibuild.1."`
	Tools   []string          `help:"Accepted for ukify compatibility and ignored: ukibuild runs no external tool (systemd-measure, sbsign, ...)." sep:"none" placeholder:"DIR"`
	Config  string            `short:"c" help:"Configuration file (ukify.conf syntax) for build, genkey and inspect; default: the first of /etc/systemd/ukify.conf, /run/systemd/ukify.conf, /usr/local/lib/systemd/ukify.conf, /usr/lib/systemd/ukify.conf." placeholder:"PATH"`
}

// env carries what commands need from the process, so that tests can run
// commands in-process without global state.
type env struct {
	stdout, stderr io.Writer
	// lookupEnv reads the environment (os.LookupEnv; tests pass their own).
	lookupEnv func(string) (string, bool)
	// root prefixes the fixed system paths read (configuration search
	// paths, /etc/kernel, /proc/cmdline); "" is the real root.
	root string
}

// getenv returns the variable's value, "" when it is not set.
func (e *env) getenv(name string) string {
	if e.lookupEnv == nil {
		return ""
	}
	v, _ := e.lookupEnv(name)
	return v
}

func (e *env) warnf(format string, args ...any) {
	fmt.Fprintf(e.stderr, "ukibuild: warning: "+format+"\n", args...)
}

func run(args []string, stdout, stderr io.Writer) int {
	return runEnv(args, &env{stdout: stdout, stderr: stderr, lookupEnv: os.LookupEnv})
}

// runEnv parses args and runs the command; the exit code is 0 on success,
// 1 when the command fails and 2 for a usage error.
func runEnv(args []string, e *env) int {
	stdout, stderr := e.stdout, e.stderr
	var c cli
	exit := -1
	parser, err := kong.New(&c,
		kong.Name("ukibuild"),
		kong.Description("Build, measure, sign and inspect Unified Kernel Images (ukify-compatible).\n\n"+exitCodesHelp),
		helpOption(),
		kong.UsageOnError(),
		kong.Vars{"version": "ukibuild " + version},
		kong.Writers(stdout, stderr),
		kong.Exit(func(code int) { exit = code }),
	)
	if err != nil {
		fmt.Fprintf(stderr, "ukibuild: %v\n", err)
		return 2
	}
	// Shell completion: the shell runs ukibuild with COMP_LINE set (see
	// "ukibuild completion"); kongplete answers from the same model.
	kongplete.Complete(parser, kongplete.WithPredictor("file", complete.PredictFiles("*")),
		kongplete.WithExitFunc(func(code int) { exit = code }))
	if exit >= 0 {
		return exit
	}
	args = measureArgs(args)
	ctx, err := parser.Parse(args)
	if exit >= 0 {
		return exit
	}
	if msg, ok := measureUsageError(args, err); ok {
		// systemd-measure's words and exit code for the same defect.
		fmt.Fprintln(stderr, msg)
		return 1
	}
	if err != nil {
		fmt.Fprintf(stderr, "ukibuild: error: %s\n", pkcs11.RedactMessage(err.Error()))
		return 2
	}
	if err := applyConfig(ctx, e, c.Config); err != nil {
		fmt.Fprintf(stderr, "ukibuild: error: %s\n", pkcs11.RedactMessage(err.Error()))
		return 1
	}
	if measureVerbAt(args) < 0 { // measure's verbs warn as systemd-measure does
		checkKeyFlags(ctx, e)
	}
	if err := ctx.Run(e); err != nil {
		if code, ok := errExitCode(err); ok {
			return code
		}
		fmt.Fprintf(stderr, "ukibuild: error: %s\n", pkcs11.RedactMessage(err.Error()))
		var u unverifiableError
		if errors.As(err, &u) {
			return 3
		}
		var ue usageError
		if errors.As(err, &ue) {
			return 2
		}
		return 1
	}
	return 0
}

// unverifiableError is eventlog verify's outcome when nothing differs but
// some PCRs could not be verified offline (exit code 3): a script must not
// read it as a mismatch, nor as a match.
type unverifiableError struct{ msg string }

func (u unverifiableError) Error() string { return u.msg }

// privateKeyFlags are the options that name a private key: a PEM file or a
// pkcs11: URI. Options added later that name private keys belong here.
var privateKeyFlags = map[string]bool{"key": true, "pcr-private-key": true, "private-key": true, "secureboot-private-key": true}

// checkKeyFlags warns about private key files that other users can read and
// about PKCS #11 URIs that carry the PIN (pin-value), which puts it in ps
// output and shell history (pkcs11.KeyWarning).
func checkKeyFlags(ctx *kong.Context, e *env) {
	for _, f := range ctx.Flags() {
		if !privateKeyFlags[f.Name] {
			continue
		}
		var vals []string
		switch v := ctx.FlagValue(f).(type) {
		case string:
			vals = []string{v}
		case []string:
			vals = v
		}
		for _, v := range vals {
			if w := pkcs11.KeyWarning(v); w != "" {
				e.warnf("--%s: %s", f.Name, w)
			}
		}
	}
}

func main() {
	// An interrupted build or sign removes its temporary files and leaves
	// the previous output as it was (run, used by the tests, does not
	// install the handler: it belongs to the process).
	stop := atomicfile.HandleSignals(func(sig os.Signal, removed []string) {
		fmt.Fprintf(os.Stderr, "ukibuild: interrupted by %v", sig)
		if len(removed) > 0 {
			fmt.Fprintf(os.Stderr, "; removed the unfinished %s", strings.Join(removed, ", "))
		}
		fmt.Fprintln(os.Stderr)
	})
	code := run(os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
