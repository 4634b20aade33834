package main

// "ukibuild kernel-install": a kernel-install(8) plugin that builds the UKI
// as systemd 262's 60-ukify.install does, with the same contract: it runs
// for "add" with KERNEL_INSTALL_LAYOUT=uki only, reads uki.conf, the kernel
// command line and the devicetree from kernel-install's configuration
// directories, takes microcode and initrds from the staging area and writes
// $KERNEL_INSTALL_STAGING_AREA/uki.efi, which 90-uki-copy.install installs.
// examples/kernel-install/60-ukibuild.install is the plugin that calls it.

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/ukibuild/ukibuild/internal/pystr"
	"github.com/ukibuild/ukibuild/ukiconf"
)

type kernelInstallCmd struct {
	Command       string   `arg:"" help:"kernel-install's command: add builds the UKI; any other (remove, ...) does nothing." placeholder:"COMMAND"`
	KernelVersion string   `arg:"" help:"Kernel version (uname -r) [.uname section]." placeholder:"KERNEL-VERSION"`
	EntryDir      string   `arg:"" optional:"" help:"Type #1 entry directory (ignored)." placeholder:"ENTRY-DIR"`
	Kernel        string   `arg:"" optional:"" help:"Kernel image." placeholder:"KERNEL-IMAGE"`
	Initrds       []string `arg:"" optional:"" help:"Initrds, after the staging area's microcode* and before its initrd*." placeholder:"INITRD"`
}

// kernelConfDirs are kernel-install's configuration directories for
// uki.conf; cmdline and devicetree are read from the first and the last
// only (60-ukify.install's input_file_location).
var (
	ukiConfDirs    = []string{"/etc/kernel", "/run/kernel", "/usr/local/lib/kernel", "/usr/lib/kernel"}
	kernelConfDirs = []string{"/etc/kernel", "/usr/lib/kernel"}
)

// generatorName is the KERNEL_INSTALL_UKI_GENERATOR (uki_generator= in
// install.conf) this plugin answers to; unset means the default generator,
// which it also is when it is the installed plugin.
const generatorName = "ukibuild"

func (k *kernelInstallCmd) Run(e *env) error {
	if k.Command != "add" {
		return nil
	}
	verbose := false
	if n, err := strconv.Atoi(strings.TrimSpace(e.getenv("KERNEL_INSTALL_VERBOSE"))); err == nil && n > 0 {
		verbose = true
	}
	logf := func(format string, args ...any) {
		if verbose {
			fmt.Fprintf(e.stdout, format+"\n", args...)
		}
	}
	if t := e.getenv("KERNEL_INSTALL_IMAGE_TYPE"); t == "uki" {
		logf("The image being installed is already a UKI, quitting.")
		return nil
	}
	if l := e.getenv("KERNEL_INSTALL_LAYOUT"); l != "uki" {
		logf("KERNEL_INSTALL_LAYOUT=%q, quitting.", l)
		return nil
	}
	if g := e.getenv("KERNEL_INSTALL_UKI_GENERATOR"); g != "" && g != generatorName {
		logf("KERNEL_INSTALL_UKI_GENERATOR=%q, quitting.", g)
		return nil
	}
	logf("KERNEL_INSTALL_LAYOUT and KERNEL_INSTALL_UKI_GENERATOR are good")

	var staging, token, machineID string
	for _, v := range []struct {
		name string
		dst  *string
	}{{"KERNEL_INSTALL_STAGING_AREA", &staging}, {"KERNEL_INSTALL_ENTRY_TOKEN", &token}, {"KERNEL_INSTALL_MACHINE_ID", &machineID}} {
		val, ok := "", false
		if e.lookupEnv != nil {
			val, ok = e.lookupEnv(v.name)
		}
		if !ok {
			return fmt.Errorf("$%s must be set in the environment", v.name)
		}
		*v.dst = val
	}
	if st, err := os.Stat(staging); err != nil {
		return fmt.Errorf("$KERNEL_INSTALL_STAGING_AREA: %w", err)
	} else if !st.IsDir() {
		return fmt.Errorf("$KERNEL_INSTALL_STAGING_AREA: %s is not a directory", staging)
	}
	if k.Kernel == "" {
		return fmt.Errorf("no KERNEL-IMAGE argument: kernel-install passes add KERNEL-VERSION ENTRY-DIR KERNEL-IMAGE [INITRD...]")
	}

	confRoot := e.getenv("KERNEL_INSTALL_CONF_ROOT")
	args := []string{"build", "--uname", k.KernelVersion, "--linux", k.Kernel}
	initrds, err := k.initrdList(staging)
	if err != nil {
		return err
	}
	for _, p := range initrds {
		args = append(args, "--initrd", p)
	}
	args = append(args, "--output", filepath.Join(staging, "uki.efi"))
	dtb, err := k.devicetree(e, confRoot)
	if err != nil {
		return err
	}
	if dtb != "" {
		args = append(args, "--devicetree", dtb)
	}
	if stub := e.getenv("KERNEL_INSTALL_BOOT_STUB"); stub != "" {
		args = append(args, "--stub", stub)
	}
	// uki.conf, else (as ukify) the first default ukify.conf.
	conf := inputFileLocation(e, confRoot, "uki.conf", ukiConfDirs)
	if conf != "" {
		args = append(args, "--config", conf)
	} else {
		for _, p := range ukiconf.DefaultFiles() {
			if st, err := os.Stat(e.path(p)); err == nil && st.Mode().IsRegular() {
				conf = e.path(p)
				break
			}
		}
	}
	// The configuration's Cmdline wins; else the installed system's.
	hasCmdline, err := configSetsCmdline(conf)
	if err != nil {
		return err
	}
	if !hasCmdline {
		opts, err := kernelCmdlineBase(e, confRoot)
		if err != nil {
			return err
		}
		if token == machineID && !slices.ContainsFunc(opts, func(o string) bool { return strings.HasPrefix(o, "systemd.machine_id=") }) {
			opts = append(opts, "systemd.machine_id="+machineID)
		}
		// The leading space keeps a command line starting with '@' from
		// being read as a file name.
		args = append(args, "--cmdline", " "+strings.Join(opts, " "))
	}
	logf("+ ukibuild %s", strings.Join(args, " "))
	if code := runEnv(args, e); code != 0 {
		return exitCode(code)
	}
	logf("%s has been created", filepath.Join(staging, "uki.efi"))
	return nil
}

// initrdList is the staging area's microcode*, the INITRD arguments and the
// staging area's initrd*, each glob sorted (90-loaderentry.install's order).
func (k *kernelInstallCmd) initrdList(staging string) ([]string, error) {
	glob := func(pattern string) ([]string, error) {
		m, err := filepath.Glob(filepath.Join(staging, pattern))
		slices.Sort(m)
		return m, err
	}
	micro, err := glob("microcode*")
	if err != nil {
		return nil, err
	}
	initrd, err := glob("initrd*")
	if err != nil {
		return nil, err
	}
	return slices.Concat(micro, k.Initrds, initrd), nil
}

// inputFileLocation returns the first dir/name that exists: only in
// $KERNEL_INSTALL_CONF_ROOT when that is set; "" if none.
func inputFileLocation(e *env, confRoot, name string, dirs []string) string {
	if confRoot != "" {
		p := filepath.Join(confRoot, name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
		return ""
	}
	for _, d := range dirs {
		p := e.path(filepath.Join(d, name))
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// devicetree finds the file named by kernel-install's devicetree file.
func (k *kernelInstallCmd) devicetree(e *env, confRoot string) (string, error) {
	cfg := inputFileLocation(e, confRoot, "devicetree", kernelConfDirs)
	if cfg == "" {
		return "", nil
	}
	data, err := os.ReadFile(cfg)
	if err != nil {
		return "", err
	}
	name := pystr.Strip(string(data))
	if name == "" {
		return "", fmt.Errorf("%s is empty", cfg)
	}
	v := k.KernelVersion
	p := inputFileLocation(e, confRoot, name, []string{
		"/usr/lib/firmware/" + v + "/device-tree",
		"/usr/lib/linux-image-" + v,
		"/usr/lib/modules/" + v + "/dtb",
	})
	if p == "" {
		return "", fmt.Errorf("devicetree file %s (named in %s) not found", name, cfg)
	}
	return p, nil
}

// configSetsCmdline reports whether the configuration file sets [UKI]
// Cmdline (directly or through [DEFAULT]).
func configSetsCmdline(path string) (bool, error) {
	if path == "" {
		return false, nil
	}
	f, err := ukiconf.ReadFile(path)
	if err != nil {
		return false, fmt.Errorf("reading configuration: %w", err)
	}
	for _, s := range f.Items() {
		if s.Name == "UKI" && hasConfigKey(s.Entries, "Cmdline") {
			return true, nil
		}
	}
	return false, nil
}

func hasConfigKey(entries []ukiconf.Entry, key string) bool {
	return slices.ContainsFunc(entries, func(e ukiconf.Entry) bool { return e.Key == key })
}

// kernelCmdlineBase is the installed system's command line: the cmdline
// file (lines starting with '#' skipped), else /proc/cmdline without
// BOOT_IMAGE= and initrd= (not in a container, whose /proc/cmdline is the
// host's, and not with $KERNEL_INSTALL_CONF_ROOT).
func kernelCmdlineBase(e *env, confRoot string) ([]string, error) {
	if p := inputFileLocation(e, confRoot, "cmdline", kernelConfDirs); p != "" {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		opts := []string{}
		for _, line := range pystr.SplitLines(string(data)) {
			if !strings.HasPrefix(line, "#") {
				opts = append(opts, pystr.Fields(line)...)
			}
		}
		return opts, nil
	}
	if confRoot != "" {
		return []string{}, nil
	}
	if inContainer(e) {
		return []string{}, nil
	}
	data, err := os.ReadFile(e.path("/proc/cmdline"))
	if err != nil {
		return nil, err
	}
	opts := []string{}
	for _, o := range pystr.Fields(string(data)) {
		if !strings.HasPrefix(o, "BOOT_IMAGE=") && !strings.HasPrefix(o, "initrd=") {
			opts = append(opts, o)
		}
	}
	return opts, nil
}

// inContainer asks systemd-detect-virt --container, when it is installed.
func inContainer(e *env) bool {
	if e.root != "" {
		return false // a scratch root for tests is never a container
	}
	bin, err := exec.LookPath("systemd-detect-virt")
	if err != nil {
		return false
	}
	return exec.Command(bin, "--container", "--quiet").Run() == nil
}

// exitCode is an error that only carries an exit code: the failing command
// has printed its message already.
type exitCode int

func (c exitCode) Error() string { return "exit status " + strconv.Itoa(int(c)) }

var _ error = exitCode(0)

// errExitCode extracts the code of an exitCode error.
func errExitCode(err error) (int, bool) {
	var c exitCode
	if errors.As(err, &c) {
		return int(c), true
	}
	return 0, false
}
