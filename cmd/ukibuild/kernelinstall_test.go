package main

// The kernel-install plugin, run by the real kernel-install of systemd 262
// (Debian sid, through sid's ld.so) against scratch directories: the UKI it
// installs equals the one systemd's own 60-ukify.install (running ukify
// 262.1) installs from the same inputs, and the one "ukibuild build" makes.

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

const (
	kiMachineID = "0123456789abcdef0123456789abcdef"
	kiVersion   = "6.1.0-kernel-install-test"
)

var (
	ukibuildBinOnce sync.Once
	ukibuildBinDir  string
	ukibuildBinErr  error
)

// ukibuildBin builds the ukibuild command once, for the plugin to run.
func ukibuildBin(t *testing.T) string {
	t.Helper()
	ukibuildBinOnce.Do(func() {
		ukibuildBinDir, ukibuildBinErr = os.MkdirTemp("", "ukibuild-bin-")
		if ukibuildBinErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", filepath.Join(ukibuildBinDir, "ukibuild"), ".").CombinedOutput()
		if err != nil {
			ukibuildBinErr = err
			ukibuildBinDir = string(out)
		}
	})
	if ukibuildBinErr != nil {
		t.Fatalf("go build: %v\n%s", ukibuildBinErr, ukibuildBinDir)
	}
	return ukibuildBinDir
}

// kiSetup is one scratch installation: a configuration root
// ($KERNEL_INSTALL_CONF_ROOT) and the inputs.
type kiSetup struct {
	conf     string // KERNEL_INSTALL_CONF_ROOT
	stageDir string // files the staging plugin copies into the staging area
	initrd   string // the INITRD argument
}

// kernelInstall runs sid's kernel-install add with the given UKI plugin and
// returns the UKI installed in $BOOT_ROOT/EFI/Linux ("" if none). When no
// plugin made a UKI, 90-uki-copy.install fails on the non-.efi kernel: with
// noUKI that failure is expected.
func kernelInstall(t *testing.T, f *fixture, s kiSetup, plugin string, noUKI bool) (uki, output string) {
	t.Helper()
	ki := f.tools.Path(t, "UKIBUILD_KERNEL_INSTALL")
	sysd := f.tools.Path(t, "UKIBUILD_SID_SYSTEMD")
	root := f.tools.Path(t, "UKIBUILD_SID_ROOT")
	dir := t.TempDir()
	boot := filepath.Join(dir, "boot")
	if err := os.MkdirAll(filepath.Join(boot, "EFI", "Linux"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A plugin before the UKI generator drops microcode and initrds into
	// the staging area, as an initrd generator would.
	stage := writeFile(dir, "50-stage.install", []byte("#!/bin/sh\n[ \"$1\" = add ] || exit 0\ncp \""+s.stageDir+"\"/* \"$KERNEL_INSTALL_STAGING_AREA\"/\n"))
	if err := os.Chmod(stage, 0o755); err != nil {
		t.Fatal(err)
	}
	plugins := []string{stage, plugin, filepath.Join(sysd, "usr/lib/kernel/install.d/90-uki-copy.install")}
	cmd := exec.Command(filepath.Join(root, "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
		"--library-path", f.tools.Var("UKIBUILD_SID_LIBRARY_PATH"), ki, "--verbose", "add", kiVersion, f.kernel, s.initrd)
	cmd.Env = append(os.Environ(),
		"KERNEL_INSTALL_CONF_ROOT="+s.conf,
		"KERNEL_INSTALL_PLUGINS="+strings.Join(plugins, " "),
		"MACHINE_ID="+kiMachineID,
		"BOOT_ROOT="+boot,
		"KERNEL_INSTALL_BOOT_STUB="+f.stubs["262"],
		"KERNEL_INSTALL_UKIFY="+f.tools.Path(t, "UKIBUILD_UKIFY"),
		"PYTHONPATH="+f.tools.Var("UKIBUILD_SID_PYTHONPATH"),
		"PYTHONDONTWRITEBYTECODE=1",
		"PATH="+ukibuildBin(t)+":"+os.Getenv("PATH"),
		"TMPDIR="+dir,
		"SYSTEMD_LOG_LEVEL=info",
	)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if noUKI {
		if err == nil || !bytes.Contains(out, []byte("is missing .efi suffix")) {
			t.Fatalf("kernel-install with %s: want 90-uki-copy.install to find no UKI, got %v\n%s", filepath.Base(plugin), err, out)
		}
	} else if err != nil {
		t.Fatalf("kernel-install with %s: %v\n%s", filepath.Base(plugin), err, out)
	}
	p := filepath.Join(boot, "EFI", "Linux", kiMachineID+"-"+kiVersion+".efi")
	if _, err := os.Stat(p); err != nil {
		return "", string(out)
	}
	return p, string(out)
}

// newKISetup writes a configuration root: install.conf (layout=uki plus
// installConf), uki.conf, cmdline and devicetree files.
func newKISetup(t *testing.T, f *fixture, installConf, ukiConf, cmdline string) kiSetup {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "conf")
	stageDir := filepath.Join(dir, "stage")
	for _, d := range []string{conf, stageDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(conf, "install.conf", []byte("layout=uki\n"+installConf))
	if ukiConf != "" {
		writeFile(conf, "uki.conf", []byte(ukiConf))
	}
	if cmdline != "" {
		writeFile(conf, "cmdline", []byte(cmdline))
	}
	// With KERNEL_INSTALL_CONF_ROOT the devicetree is looked up there too.
	writeFile(conf, "devicetree", []byte("  board.dtb\n"))
	dtb, err := os.ReadFile(filepath.Join(f.dir, "dtb"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(conf, "board.dtb", dtb)
	writeFile(stageDir, "microcode-intel", randomBytes(11, 300))
	writeFile(stageDir, "microcode-amd", randomBytes(12, 200))
	writeFile(stageDir, "initrd-generated", randomBytes(13, 5000))
	return kiSetup{conf: conf, stageDir: stageDir, initrd: filepath.Join(f.dir, "initrd1")}
}

func TestKernelInstallMatchesUkifyPlugin(t *testing.T) {
	f := getFixture(t)
	ukifyPlugin := filepath.Join(f.tools.Path(t, "UKIBUILD_SID_ROOT"), "usr/lib/kernel/install.d/60-ukify.install")
	ours, err := filepath.Abs("../../examples/kernel-install/60-ukibuild.install")
	if err != nil {
		t.Fatal(err)
	}
	osrel := "@" + filepath.Join(f.dir, "os-release")
	cases := []struct {
		name, installConf, ukiConf, cmdline string
		// buildCmdline is the --cmdline of the equivalent "ukibuild
		// build" ("" when uki.conf sets Cmdline).
		buildCmdline string
		noUKI        bool
	}{
		{name: "cmdline-file", ukiConf: "[UKI]\nOSRelease=" + osrel + "\nInitrd=" + filepath.Join(f.dir, "initrd2") + "\nSBAT=sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\n  distro,1,Distro,distro,1,https://distro.example/\n",
			cmdline:      "root=/dev/vda1  ro\n# a comment line\n  quiet splash\n",
			buildCmdline: " root=/dev/vda1 ro quiet splash systemd.machine_id=" + kiMachineID},
		{name: "uki-conf-cmdline-wins", ukiConf: "[UKI]\nOSRelease=" + osrel + "\nCmdline=from uki.conf\nUname=ignored-the-version-wins\nStub=/ignored/the/boot/stub/wins\n",
			cmdline: "root=/dev/vda1\n"},
		{name: "no-cmdline-file", ukiConf: "[UKI]\nOSRelease=" + osrel + "\n", buildCmdline: " systemd.machine_id=" + kiMachineID},
		{name: "machine-id-given", ukiConf: "[UKI]\nOSRelease=" + osrel + "\n", cmdline: "systemd.machine_id=fedcba9876543210fedcba9876543210\n",
			buildCmdline: " systemd.machine_id=fedcba9876543210fedcba9876543210"},
		{name: "other-generator", installConf: "uki_generator=someone-else\n", ukiConf: "[UKI]\nOSRelease=" + osrel + "\n", noUKI: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := newKISetup(t, f, c.installConf, c.ukiConf, c.cmdline)
			ref, refOut := kernelInstall(t, f, s, ukifyPlugin, c.noUKI)
			got, gotOut := kernelInstall(t, f, s, ours, c.noUKI)
			if c.noUKI {
				if ref != "" || got != "" {
					t.Errorf("a UKI was installed (ukify's: %q, ours: %q)", ref, got)
				}
				return
			}
			if ref == "" {
				t.Fatalf("ukify's plugin installed no UKI:\n%s", refOut)
			}
			if got == "" {
				t.Fatalf("ukibuild's plugin installed no UKI:\n%s", gotOut)
			}
			compareFiles(t, ref, got)

			// "ukibuild build" from the same inputs.
			dir := t.TempDir()
			direct := filepath.Join(dir, "direct.efi")
			args := []string{"build", "--config", filepath.Join(s.conf, "uki.conf"), "--uname", kiVersion, "--linux", f.kernel,
				"--initrd", filepath.Join(s.stageDir, "microcode-amd"), "--initrd", filepath.Join(s.stageDir, "microcode-intel"),
				"--initrd", s.initrd, "--initrd", filepath.Join(s.stageDir, "initrd-generated"),
				"--devicetree", filepath.Join(s.conf, "board.dtb"), "--stub", f.stubs["262"], "--output", direct}
			if c.buildCmdline != "" {
				args = append(args, "--cmdline", c.buildCmdline)
			}
			if code, _, e := runOurs(args...); code != 0 {
				t.Fatalf("ukibuild build: %s", e)
			}
			compareFiles(t, ref, direct)
		})
	}
}

// TestKernelInstallContract: the plugin's rules that need no reference run,
// in-process with a scratch root for the fixed paths (/etc/kernel,
// /proc/cmdline, ...) and a given environment.
func TestKernelInstallContract(t *testing.T) {
	f := getFixture(t)
	run := func(t *testing.T, root string, vars map[string]string, args ...string) (int, string) {
		t.Helper()
		var o, e bytes.Buffer
		lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
		code := runEnv(append([]string{"kernel-install"}, args...), &env{stdout: &o, stderr: &e, lookupEnv: lookup, root: root})
		return code, o.String() + e.String()
	}
	baseVars := func(staging string) map[string]string {
		return map[string]string{
			"KERNEL_INSTALL_LAYOUT": "uki", "KERNEL_INSTALL_STAGING_AREA": staging, "KERNEL_INSTALL_ENTRY_TOKEN": "token",
			"KERNEL_INSTALL_MACHINE_ID": kiMachineID, "KERNEL_INSTALL_BOOT_STUB": f.stubs["262"], "KERNEL_INSTALL_VERBOSE": "1",
		}
	}
	mkdirs := func(t *testing.T, root string, files map[string]string) {
		t.Helper()
		for p, content := range files {
			full := filepath.Join(root, p)
			if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
				t.Fatal(err)
			}
			writeFile(filepath.Dir(full), filepath.Base(full), []byte(content))
		}
	}

	t.Run("skips", func(t *testing.T) {
		staging := t.TempDir()
		for name, change := range map[string][2]string{
			"remove":          {"", ""},
			"layout-bls":      {"KERNEL_INSTALL_LAYOUT", "bls"},
			"already-uki":     {"KERNEL_INSTALL_IMAGE_TYPE", "uki"},
			"generator-ukify": {"KERNEL_INSTALL_UKI_GENERATOR", "ukify"},
		} {
			vars := baseVars(staging)
			cmd := "add"
			if name == "remove" {
				cmd = "remove"
			} else {
				vars[change[0]] = change[1]
			}
			if code, out := run(t, t.TempDir(), vars, cmd, kiVersion, "/entry", f.kernel); code != 0 {
				t.Errorf("%s: exit %d: %s", name, code, out)
			}
			if _, err := os.Stat(filepath.Join(staging, "uki.efi")); err == nil {
				t.Errorf("%s: uki.efi was written", name)
			}
		}
	})
	t.Run("generator-ukibuild-builds", func(t *testing.T) {
		staging := t.TempDir()
		vars := baseVars(staging)
		vars["KERNEL_INSTALL_UKI_GENERATOR"] = "ukibuild"
		root := t.TempDir()
		mkdirs(t, root, map[string]string{"proc/cmdline": "quiet\n"})
		if code, out := run(t, root, vars, "add", kiVersion, "/entry", f.kernel); code != 0 {
			t.Fatalf("exit %d: %s", code, out)
		}
		if _, err := os.Stat(filepath.Join(staging, "uki.efi")); err != nil {
			t.Error(err)
		}
	})
	t.Run("missing-variable", func(t *testing.T) {
		vars := baseVars(t.TempDir())
		delete(vars, "KERNEL_INSTALL_ENTRY_TOKEN")
		if code, out := run(t, t.TempDir(), vars, "add", kiVersion, "/entry", f.kernel); code == 0 || !strings.Contains(out, "$KERNEL_INSTALL_ENTRY_TOKEN must be set") {
			t.Errorf("exit %d: %s", code, out)
		}
	})
	// The system's files: /etc/kernel/uki.conf before /usr/lib/kernel's,
	// /usr/lib/kernel/cmdline when /etc/kernel has none, /proc/cmdline
	// without BOOT_IMAGE= and initrd= when neither has one. Each result
	// equals "ukibuild build" with the command line the plugin contract
	// gives.
	for _, c := range []struct {
		name    string
		files   map[string]string
		cmdline string
	}{
		{"etc-before-usr-lib", map[string]string{
			"etc/kernel/uki.conf": "[UKI]\nOSRelease=ID=etc\n", "usr/lib/kernel/uki.conf": "[UKI]\nOSRelease=ID=usr\n",
			"usr/lib/kernel/cmdline": "from=usr-lib\n#not=this\n", "proc/cmdline": "from=proc\n"}, " from=usr-lib"},
		{"proc-cmdline", map[string]string{
			"run/kernel/uki.conf": "[UKI]\nOSRelease=ID=run\n",
			"proc/cmdline":        "BOOT_IMAGE=/vmlinuz root=/dev/sda1 initrd=\\initrd.img quiet\n"}, " root=/dev/sda1 quiet"},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			mkdirs(t, root, c.files)
			staging := t.TempDir()
			if code, out := run(t, root, baseVars(staging), "add", kiVersion, "/entry", f.kernel); code != 0 {
				t.Fatalf("exit %d: %s", code, out)
			}
			conf := filepath.Join(root, "etc/kernel/uki.conf")
			if _, err := os.Stat(conf); err != nil {
				conf = filepath.Join(root, "run/kernel/uki.conf")
			}
			direct := filepath.Join(t.TempDir(), "direct.efi")
			if code, _, e := runOurs("build", "--config", conf, "--uname", kiVersion, "--linux", f.kernel, "--stub", f.stubs["262"],
				"--cmdline", c.cmdline, "--output", direct); code != 0 {
				t.Fatalf("build: %s", e)
			}
			compareFiles(t, direct, filepath.Join(staging, "uki.efi"))
		})
	}
}
