// Package kernelinstall decides what a kernel-install(8) plugin that builds
// UKIs does, as systemd 262's 60-ukify.install does: it acts for "add" with
// KERNEL_INSTALL_LAYOUT=uki only, reads uki.conf, the kernel command line
// and the devicetree from kernel-install's configuration directories, takes
// microcode and initrds from the staging area, and writes
// $KERNEL_INSTALL_STAGING_AREA/uki.efi, which 90-uki-copy.install installs.
//
// Plan returns the decision as a Build: the inputs of "ukify build" (and of
// "ukibuild build", whose command line Build.Args is). It reads the
// environment through Request.LookupEnv and the fixed system paths below
// Request.Root, so a program can plan for another root.
package kernelinstall

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

// GeneratorName is the KERNEL_INSTALL_UKI_GENERATOR (uki_generator= in
// install.conf) ukibuild's plugin answers to; unset means the default
// generator, which it also is when it is the installed plugin.
const GeneratorName = "ukibuild"

// ukiConfDirs are kernel-install's configuration directories for uki.conf;
// cmdline and devicetree are read from the first and the last only
// (60-ukify.install's input_file_location).
var (
	ukiConfDirs    = []string{"/etc/kernel", "/run/kernel", "/usr/local/lib/kernel", "/usr/lib/kernel"}
	kernelConfDirs = []string{"/etc/kernel", "/usr/lib/kernel"}
)

// Request is one call of the plugin: kernel-install's arguments and
// environment.
type Request struct {
	// Command is kernel-install's command: only "add" builds.
	Command string
	// KernelVersion is KERNEL-VERSION (uname -r).
	KernelVersion string
	// Kernel is KERNEL-IMAGE; Initrds are the INITRD arguments.
	Kernel  string
	Initrds []string
	// LookupEnv reads the environment (os.LookupEnv); nil reads none.
	LookupEnv func(string) (string, bool)
	// Root prefixes the fixed system paths read (/etc/kernel,
	// /etc/systemd/ukify.conf, /proc/cmdline); "" is the real root, and
	// only then is systemd-detect-virt asked whether this is a container.
	Root string
	// Logf, when set, receives 60-ukify.install's progress messages
	// (printed there when KERNEL_INSTALL_VERBOSE is set: see Verbose).
	Logf func(format string, args ...any)
}

func (r *Request) getenv(name string) string {
	if r.LookupEnv == nil {
		return ""
	}
	v, _ := r.LookupEnv(name)
	return v
}

func (r *Request) logf(format string, args ...any) {
	if r.Logf != nil {
		r.Logf(format, args...)
	}
}

func (r *Request) path(p string) string {
	if r.Root == "" {
		return p
	}
	return filepath.Join(r.Root, p)
}

// Verbose reports whether KERNEL_INSTALL_VERBOSE asks for progress messages.
func Verbose(lookupEnv func(string) (string, bool)) bool {
	if lookupEnv == nil {
		return false
	}
	v, _ := lookupEnv("KERNEL_INSTALL_VERBOSE")
	n, err := strconv.Atoi(strings.TrimSpace(v))
	return err == nil && n > 0
}

// Build is what to build: ukify build's inputs.
type Build struct {
	Uname string // --uname
	Linux string // --linux
	// Initrds are the staging area's microcode*, the INITRD arguments and
	// the staging area's initrd*, each glob sorted
	// (90-loaderentry.install's order).
	Initrds    []string
	Output     string // $KERNEL_INSTALL_STAGING_AREA/uki.efi
	Devicetree string // "" for none
	Stub       string // $KERNEL_INSTALL_BOOT_STUB; "" for the default stub
	// Config is the uki.conf to read ("" for none: then ukify's own
	// default files apply).
	Config string
	// Cmdline is the kernel command line, nil when the configuration
	// (uki.conf, else ukify.conf) sets [UKI] Cmdline. It starts with a
	// space, which keeps a command line starting with '@' from being read
	// as a file name.
	Cmdline *string
}

// Args is the build's command line for ukify or ukibuild, starting with
// the verb "build".
func (b *Build) Args() []string {
	args := []string{"build", "--uname", b.Uname, "--linux", b.Linux}
	for _, p := range b.Initrds {
		args = append(args, "--initrd", p)
	}
	args = append(args, "--output", b.Output)
	if b.Devicetree != "" {
		args = append(args, "--devicetree", b.Devicetree)
	}
	if b.Stub != "" {
		args = append(args, "--stub", b.Stub)
	}
	if b.Config != "" {
		args = append(args, "--config", b.Config)
	}
	if b.Cmdline != nil {
		args = append(args, "--cmdline", *b.Cmdline)
	}
	return args
}

// EnvError is a variable kernel-install must set that is missing or wrong.
type EnvError struct {
	Name string // the variable, without '$'
	Err  error
}

func (e *EnvError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("$%s must be set in the environment", e.Name)
	}
	return fmt.Sprintf("$%s: %v", e.Name, e.Err)
}

func (e *EnvError) Unwrap() error { return e.Err }

// ErrNoKernel is a call of "add" without KERNEL-IMAGE.
var ErrNoKernel = errors.New("no KERNEL-IMAGE argument: kernel-install passes add KERNEL-VERSION ENTRY-DIR KERNEL-IMAGE [INITRD...]")

// Plan decides what to build; nil (and no error) when the plugin has
// nothing to do: another command than add, an image that is a UKI already,
// another layout or another UKI generator (with a Logf message saying so).
func Plan(r Request) (*Build, error) {
	if r.Command != "add" {
		return nil, nil
	}
	if t := r.getenv("KERNEL_INSTALL_IMAGE_TYPE"); t == "uki" {
		r.logf("The image being installed is already a UKI, quitting.")
		return nil, nil
	}
	if l := r.getenv("KERNEL_INSTALL_LAYOUT"); l != "uki" {
		r.logf("KERNEL_INSTALL_LAYOUT=%q, quitting.", l)
		return nil, nil
	}
	if g := r.getenv("KERNEL_INSTALL_UKI_GENERATOR"); g != "" && g != GeneratorName {
		r.logf("KERNEL_INSTALL_UKI_GENERATOR=%q, quitting.", g)
		return nil, nil
	}
	r.logf("KERNEL_INSTALL_LAYOUT and KERNEL_INSTALL_UKI_GENERATOR are good")

	var staging, token, machineID string
	for _, v := range []struct {
		name string
		dst  *string
	}{{"KERNEL_INSTALL_STAGING_AREA", &staging}, {"KERNEL_INSTALL_ENTRY_TOKEN", &token}, {"KERNEL_INSTALL_MACHINE_ID", &machineID}} {
		val, ok := "", false
		if r.LookupEnv != nil {
			val, ok = r.LookupEnv(v.name)
		}
		if !ok {
			return nil, &EnvError{Name: v.name}
		}
		*v.dst = val
	}
	if st, err := os.Stat(staging); err != nil {
		return nil, &EnvError{Name: "KERNEL_INSTALL_STAGING_AREA", Err: err}
	} else if !st.IsDir() {
		return nil, &EnvError{Name: "KERNEL_INSTALL_STAGING_AREA", Err: fmt.Errorf("%s is not a directory", staging)}
	}
	if r.Kernel == "" {
		return nil, ErrNoKernel
	}

	confRoot := r.getenv("KERNEL_INSTALL_CONF_ROOT")
	b := &Build{Uname: r.KernelVersion, Linux: r.Kernel, Output: filepath.Join(staging, "uki.efi"), Stub: r.getenv("KERNEL_INSTALL_BOOT_STUB")}
	var err error
	if b.Initrds, err = initrdList(staging, r.Initrds); err != nil {
		return nil, err
	}
	if b.Devicetree, err = r.devicetree(confRoot); err != nil {
		return nil, err
	}
	// uki.conf, else (as ukify) the first default ukify.conf.
	b.Config = r.inputFileLocation(confRoot, "uki.conf", ukiConfDirs)
	conf := b.Config
	if conf == "" {
		conf = ukiconf.FindDefault(r.Root)
	}
	// The configuration's Cmdline wins; else the installed system's.
	if conf != "" {
		f, err := ukiconf.ReadFile(conf)
		if err != nil {
			return nil, fmt.Errorf("reading configuration: %w", err)
		}
		if f.SetsKey("UKI", "Cmdline") {
			return b, nil
		}
	}
	opts, err := r.kernelCmdlineBase(confRoot)
	if err != nil {
		return nil, err
	}
	if token == machineID && !slices.ContainsFunc(opts, func(o string) bool { return strings.HasPrefix(o, "systemd.machine_id=") }) {
		opts = append(opts, "systemd.machine_id="+machineID)
	}
	cmdline := " " + strings.Join(opts, " ")
	b.Cmdline = &cmdline
	return b, nil
}

// initrdList is the staging area's microcode*, the INITRD arguments and the
// staging area's initrd*, each glob sorted.
func initrdList(staging string, args []string) ([]string, error) {
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
	return slices.Concat(micro, args, initrd), nil
}

// inputFileLocation returns the first dir/name that exists: only in
// $KERNEL_INSTALL_CONF_ROOT when that is set; "" if none.
func (r *Request) inputFileLocation(confRoot, name string, dirs []string) string {
	if confRoot != "" {
		p := filepath.Join(confRoot, name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
		return ""
	}
	for _, d := range dirs {
		p := r.path(filepath.Join(d, name))
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// devicetree finds the file named by kernel-install's devicetree file.
func (r *Request) devicetree(confRoot string) (string, error) {
	cfg := r.inputFileLocation(confRoot, "devicetree", kernelConfDirs)
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
	v := r.KernelVersion
	p := r.inputFileLocation(confRoot, name, []string{
		"/usr/lib/firmware/" + v + "/device-tree",
		"/usr/lib/linux-image-" + v,
		"/usr/lib/modules/" + v + "/dtb",
	})
	if p == "" {
		return "", fmt.Errorf("devicetree file %s (named in %s) not found", name, cfg)
	}
	return p, nil
}

// kernelCmdlineBase is the installed system's command line: the cmdline
// file (lines starting with '#' skipped), else /proc/cmdline without
// BOOT_IMAGE= and initrd= (not in a container, whose /proc/cmdline is the
// host's, and not with $KERNEL_INSTALL_CONF_ROOT).
func (r *Request) kernelCmdlineBase(confRoot string) ([]string, error) {
	if p := r.inputFileLocation(confRoot, "cmdline", kernelConfDirs); p != "" {
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
	if confRoot != "" || r.inContainer() {
		return []string{}, nil
	}
	data, err := os.ReadFile(r.path("/proc/cmdline"))
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
func (r *Request) inContainer() bool {
	if r.Root != "" {
		return false // another root is not the running system
	}
	bin, err := exec.LookPath("systemd-detect-virt")
	if err != nil {
		return false
	}
	return exec.Command(bin, "--container", "--quiet").Run() == nil
}
