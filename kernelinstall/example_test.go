package kernelinstall_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ukibuild/ukibuild/kernelinstall"
)

// ExamplePlan plans the build for "kernel-install add" in a scratch root
// whose /etc/kernel/cmdline is "root=/dev/vda1 quiet" and whose staging
// area holds microcode; the output restates those inputs.
func ExamplePlan() {
	root, _ := os.MkdirTemp("", "kernelinstall")
	defer os.RemoveAll(root)
	staging := filepath.Join(root, "staging")
	os.MkdirAll(filepath.Join(root, "etc/kernel"), 0o755)
	os.MkdirAll(staging, 0o755)
	os.WriteFile(filepath.Join(root, "etc/kernel/cmdline"), []byte("# the root\nroot=/dev/vda1\nquiet\n"), 0o644)
	os.WriteFile(filepath.Join(staging, "microcode.cpio"), nil, 0o644)
	env := map[string]string{
		"KERNEL_INSTALL_LAYOUT":       "uki",
		"KERNEL_INSTALL_STAGING_AREA": staging,
		"KERNEL_INSTALL_ENTRY_TOKEN":  "debian",
		"KERNEL_INSTALL_MACHINE_ID":   "0123456789abcdef0123456789abcdef",
	}
	b, err := kernelinstall.Plan(kernelinstall.Request{
		Command: "add", KernelVersion: "6.1.0-50-amd64", Kernel: "/boot/vmlinuz-6.1.0-50-amd64",
		Initrds: []string{"/boot/initrd.img-6.1.0-50-amd64"},
		LookupEnv: func(k string) (string, bool) {
			v, ok := env[k]
			return v, ok
		},
		Root: root,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, a := range b.Args() {
		fmt.Printf("%q\n", strings.ReplaceAll(a, root, "ROOT"))
	}
	// Output:
	// "build"
	// "--uname"
	// "6.1.0-50-amd64"
	// "--linux"
	// "/boot/vmlinuz-6.1.0-50-amd64"
	// "--initrd"
	// "ROOT/staging/microcode.cpio"
	// "--initrd"
	// "/boot/initrd.img-6.1.0-50-amd64"
	// "--output"
	// "ROOT/staging/uki.efi"
	// "--cmdline"
	// " root=/dev/vda1 quiet"
}
