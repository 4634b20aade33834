package uki_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ukibuild/ukibuild/uki"
)

// ExampleArchMismatchError: a kernel for another CPU than the stub is
// refused before anything is written. The stub is a synthetic x86-64 PE
// image (tinyEFI: COFF machine 0x8664); the kernel is an arm64 Image header (magic
// "ARM\x64" at offset 0x38, Linux's Documentation/arch/arm64/booting.rst).
func ExampleArchMismatchError() {
	dir, _ := os.MkdirTemp("", "arch-example-")
	defer os.RemoveAll(dir)
	stub := filepath.Join(dir, "linuxx64.efi.stub")
	os.WriteFile(stub, tinyEFI(make([]byte, 0x100)), 0o644)
	image := make([]byte, 4096)
	copy(image[0x38:], "ARM\x64")
	kernel := filepath.Join(dir, "Image")
	os.WriteFile(kernel, image, 0o644)

	out := filepath.Join(dir, "linux.efi")
	err := uki.Build(context.Background(), uki.Config{Stub: stub, Linux: kernel}, out)
	var am *uki.ArchMismatchError
	if errors.As(err, &am) {
		fmt.Println("kernel:", am.Machine)
		fmt.Println("stub:", am.OtherMachine)
	}
	_, statErr := os.Stat(out)
	fmt.Println("output written:", statErr == nil)
	// Output:
	// kernel: arm64 (0xaa64)
	// stub: x86-64 (0x8664)
	// output written: false
}

// ExampleEFIArchMachine: ukify's --efi-arch names and the PE machine types
// the UEFI specification gives them.
func ExampleEFIArchMachine() {
	for _, arch := range []string{"x64", "aa64", "riscv64"} {
		m, _ := uki.EFIArchMachine(arch)
		fmt.Printf("%s %#x\n", arch, uint16(m))
	}
	// Output:
	// x64 0x8664
	// aa64 0xaa64
	// riscv64 0x5064
}
