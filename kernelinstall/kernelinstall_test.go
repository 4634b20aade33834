package kernelinstall

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

type fixture struct {
	root, staging string
	env           map[string]string
}

func newFixture(t *testing.T, files map[string]string) *fixture {
	t.Helper()
	f := &fixture{root: t.TempDir()}
	f.staging = filepath.Join(f.root, "staging")
	for p, data := range files {
		full := filepath.Join(f.root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(f.staging, 0o755); err != nil {
		t.Fatal(err)
	}
	f.env = map[string]string{
		"KERNEL_INSTALL_LAYOUT": "uki", "KERNEL_INSTALL_STAGING_AREA": f.staging,
		"KERNEL_INSTALL_ENTRY_TOKEN": "mid", "KERNEL_INSTALL_MACHINE_ID": "mid",
	}
	return f
}

func (f *fixture) plan(t *testing.T, args ...string) (*Build, []string, error) {
	t.Helper()
	var logs []string
	r := Request{Command: "add", KernelVersion: "6.1", Kernel: "/boot/vmlinuz", Initrds: args, Root: f.root,
		LookupEnv: func(k string) (string, bool) { v, ok := f.env[k]; return v, ok },
		Logf:      func(format string, _ ...any) { logs = append(logs, format) }}
	b, err := Plan(r)
	return b, logs, err
}

// TestPlanSkips: nothing to do for other commands, layouts, generators and
// UKIs, with a message saying why.
func TestPlanSkips(t *testing.T) {
	for name, set := range map[string][2]string{
		"layout":    {"KERNEL_INSTALL_LAYOUT", "bls"},
		"generator": {"KERNEL_INSTALL_UKI_GENERATOR", "ukify"},
		"uki":       {"KERNEL_INSTALL_IMAGE_TYPE", "uki"},
	} {
		f := newFixture(t, nil)
		f.env[set[0]] = set[1]
		b, logs, err := f.plan(t)
		if b != nil || err != nil || len(logs) != 1 {
			t.Errorf("%s: %v, %v, %q; want no build and one message", name, b, err, logs)
		}
	}
	if b, err := Plan(Request{Command: "remove"}); b != nil || err != nil {
		t.Errorf("remove: %v, %v", b, err)
	}
}

// TestPlanInputs: the staging area's microcode and initrds around the
// arguments, the devicetree named in /etc/kernel/devicetree, the machine ID
// appended to /proc/cmdline, and uki.conf's Cmdline winning.
func TestPlanInputs(t *testing.T) {
	f := newFixture(t, map[string]string{
		"etc/kernel/devicetree":                    "vendor/board.dtb\n",
		"usr/lib/modules/6.1/dtb/vendor/board.dtb": "",
		"proc/cmdline":                             "BOOT_IMAGE=/vmlinuz root=/dev/sda1 initrd=\\x quiet\n",
	})
	for _, n := range []string{"initrd-b", "initrd-a", "microcode-x"} {
		if err := os.WriteFile(filepath.Join(f.staging, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, _, err := f.plan(t, "/arg")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(f.staging, "microcode-x"), "/arg", filepath.Join(f.staging, "initrd-a"), filepath.Join(f.staging, "initrd-b")}
	if !slices.Equal(b.Initrds, want) {
		t.Errorf("initrds %q, want %q", b.Initrds, want)
	}
	if want := filepath.Join(f.root, "usr/lib/modules/6.1/dtb/vendor/board.dtb"); b.Devicetree != want {
		t.Errorf("devicetree %q, want %q", b.Devicetree, want)
	}
	if b.Cmdline == nil || *b.Cmdline != " root=/dev/sda1 quiet systemd.machine_id=mid" {
		t.Errorf("cmdline %v", b.Cmdline)
	}
	if b.Output != filepath.Join(f.staging, "uki.efi") || b.Config != "" {
		t.Errorf("output %q, config %q", b.Output, b.Config)
	}

	conf := filepath.Join(f.root, "run/kernel/uki.conf")
	if err := os.MkdirAll(filepath.Dir(conf), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, []byte("[UKI]\nCmdline=from-conf\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, _, err = f.plan(t); err != nil || b.Cmdline != nil || b.Config != conf {
		t.Errorf("with uki.conf: %+v, %v; want its path and no --cmdline", b, err)
	}
}

// TestPlanErrors: typed errors for a missing variable, a missing staging
// area and a missing kernel.
func TestPlanErrors(t *testing.T) {
	f := newFixture(t, nil)
	delete(f.env, "KERNEL_INSTALL_MACHINE_ID")
	_, _, err := f.plan(t)
	var ee *EnvError
	if !errors.As(err, &ee) || ee.Name != "KERNEL_INSTALL_MACHINE_ID" {
		t.Errorf("error %v, want an *EnvError for the machine ID", err)
	}
	f = newFixture(t, nil)
	f.env["KERNEL_INSTALL_STAGING_AREA"] = filepath.Join(f.root, "nowhere")
	if _, _, err = f.plan(t); !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &ee) {
		t.Errorf("error %v, want an *EnvError wrapping fs.ErrNotExist", err)
	}
	f = newFixture(t, nil)
	_, err = Plan(Request{Command: "add", KernelVersion: "6.1", Root: f.root,
		LookupEnv: func(k string) (string, bool) { v, ok := f.env[k]; return v, ok }})
	if !errors.Is(err, ErrNoKernel) {
		t.Errorf("error %v, want ErrNoKernel", err)
	}
}
