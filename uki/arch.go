package uki

import (
	"fmt"
	"os"

	"github.com/ukibuild/ukibuild/internal/kernel"
	"github.com/ukibuild/ukibuild/internal/pe"
)

// Machine is a PE image's machine type (the COFF header's Machine field,
// IMAGE_FILE_MACHINE_*).
type Machine uint16

// The machine types of the EFI architectures (UEFI Specification 2.10,
// section 2.1.1, "UEFI Images", table "UEFI Image Machine Types"; the
// values are the PE format's IMAGE_FILE_MACHINE_* constants).
const (
	MachineI386        Machine = 0x014c
	MachineAMD64       Machine = 0x8664
	MachineARM         Machine = 0x01c2 // ARM Thumb-2 little-endian ("ARMTHUMB_MIXED")
	MachineARM64       Machine = 0xaa64
	MachineRISCV32     Machine = 0x5032
	MachineRISCV64     Machine = 0x5064
	MachineLoongArch32 Machine = 0x6232
	MachineLoongArch64 Machine = 0x6264
)

// efiArchMachines maps ukify's --efi-arch names (EFIArches) to machines.
var efiArchMachines = map[string]Machine{
	"ia32": MachineI386, "x64": MachineAMD64, "arm": MachineARM, "aa64": MachineARM64,
	"riscv32": MachineRISCV32, "riscv64": MachineRISCV64,
	"loongarch32": MachineLoongArch32, "loongarch64": MachineLoongArch64,
}

// EFIArchMachine returns the machine type of an EFI architecture name as
// ukify's --efi-arch takes it ("x64", "aa64", ...; see EFIArches).
func EFIArchMachine(arch string) (Machine, error) {
	m, ok := efiArchMachines[arch]
	if !ok {
		return 0, fmt.Errorf("unknown EFI architecture %q (want one of %v)", arch, EFIArches)
	}
	return m, nil
}

// String names the machine and its value: "arm64 (0xaa64)".
func (m Machine) String() string {
	names := map[Machine]string{
		MachineI386: "x86 (0x14c)", MachineAMD64: "x86-64 (0x8664)", MachineARM: "arm (0x1c2)",
		MachineARM64: "arm64 (0xaa64)", MachineRISCV32: "riscv32 (0x5032)", MachineRISCV64: "riscv64 (0x5064)",
		MachineLoongArch32: "loongarch32 (0x6232)", MachineLoongArch64: "loongarch64 (0x6264)",
	}
	if n, ok := names[m]; ok {
		return n
	}
	return fmt.Sprintf("machine %#x", uint16(m))
}

// ArchMismatchError reports two inputs of a build that are for different
// CPUs: File (built for Machine) cannot be used with Other (built for
// OtherMachine). Other is "--efi-arch NAME" when the architecture was
// given rather than read from a file.
type ArchMismatchError struct {
	File         string
	Machine      Machine
	Other        string
	OtherMachine Machine
}

func (e *ArchMismatchError) Error() string {
	return fmt.Sprintf("architecture mismatch: %s is for %s, but %s is for %s", e.File, e.Machine, e.Other, e.OtherMachine)
}

// machineFits reports whether a kernel for machine m can be started by a
// stub for stub: the same machine, or an x86-64 kernel for an ia32 stub,
// which systemd-stub accepts as its compatibility machine and starts
// through the kernel's 32-bit compat entry point (systemd src/boot/pe.c,
// TARGET_MACHINE_TYPE_COMPATIBILITY for __i386__; Linux's EFI mixed mode).
func machineFits(stub, m Machine) bool {
	return m == stub || (stub == MachineI386 && m == MachineAMD64)
}

// checkArch checks that the stub, cfg.EFIArch, the kernel and the profile
// PEs to join are for the same CPU, before anything is decompressed or
// written. A kernel whose machine cannot be told (see kernel.Machine) is
// not checked.
func checkArch(cfg *Config, stub *Stub) error {
	sm := Machine(stub.hdr.Machine)
	if cfg.EFIArch != "" {
		am, err := EFIArchMachine(cfg.EFIArch)
		if err != nil {
			return err
		}
		if am != sm {
			return &ArchMismatchError{File: "stub " + cfg.Stub, Machine: sm, Other: "--efi-arch " + cfg.EFIArch, OtherMachine: am}
		}
	}
	if cfg.Linux != "" {
		km, ok, err := fileMachine(cfg.Linux)
		if err != nil {
			return &KernelError{File: cfg.Linux, Err: err}
		}
		if ok && !machineFits(sm, km) {
			return &ArchMismatchError{File: "kernel " + cfg.Linux, Machine: km, Other: "stub " + cfg.Stub, OtherMachine: sm}
		}
	}
	for _, p := range cfg.JoinProfiles {
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("profile PE: %w", err)
		}
		st, err := f.Stat()
		var hdr *pe.File
		if err == nil {
			hdr, err = pe.Parse(f, st.Size())
		}
		f.Close()
		if err != nil {
			return fmt.Errorf("profile PE %s: %w", p, pe.NameFile(err, p))
		}
		if m := Machine(hdr.Machine); m != sm {
			return &ArchMismatchError{File: "profile PE " + p, Machine: m, Other: "stub " + cfg.Stub, OtherMachine: sm}
		}
	}
	return nil
}

// fileMachine is kernel.Machine on the file at path.
func fileMachine(path string) (Machine, bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, false, err
	}
	m, ok, err := kernel.Machine(f, st.Size())
	return Machine(m), ok, err
}

// trailingData is the number of bytes of the stub after the raw data of
// its last section (the COFF symbol table is already stripped), and where
// they start.
func (s *Stub) trailingData() (off, n int64) {
	for i := range s.hdr.Sections {
		sec := &s.hdr.Sections[i]
		off = max(off, int64(sec.PointerToRawData)+int64(sec.SizeOfRawData))
	}
	return off, max(int64(len(s.data))-off, 0)
}
