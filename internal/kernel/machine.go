package kernel

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
)

// PE machine types (IMAGE_FILE_MACHINE_*, as the PE format specification
// lists them) that Machine reports for headers without a PE signature.
const (
	machineAMD64   = 0x8664
	machineARM64   = 0xaa64
	machineRISCV64 = 0x5064
)

// machineHeadSize is how much of the (decompressed) start of a kernel
// Machine reads: the DOS header's e_lfanew and the COFF header it points to
// lie in the first few hundred bytes of every kernel image.
const machineHeadSize = 4096

// Machine returns the PE machine type of the CPU the kernel in the first
// size bytes of r is built for, and whether it could be told:
//   - a PE image (an EFI-stub kernel, an EFI zboot image): its COFF
//     header's Machine;
//   - an x86 boot header ("HdrS" at 0x202) without a PE header: x86-64;
//   - an arm64 Image header (magic "ARM\x64" at 0x38, Linux's
//     Documentation/arch/arm64/booting.rst): arm64;
//   - a RISC-V Image header (magic "RSC\x05" at 0x38,
//     Documentation/arch/riscv/boot-image-header.rst): riscv64;
//   - a compressed kernel (Detect): the same, on its decompressed start,
//     of which only the first 4 KiB are decoded.
//
// Anything else yields ok false and no error; errors are I/O errors and
// corrupt compressed data.
func Machine(r io.ReaderAt, size int64) (machine uint16, ok bool, err error) {
	head, err := readAtMost(r, 0, machineHeadSize)
	if err != nil {
		return 0, false, err
	}
	head = head[:min(int64(len(head)), max(size, 0))]
	if m, ok := headMachine(head); ok {
		return m, true, nil
	}
	f, err := Detect(bytes.NewReader(head))
	if err != nil || !f.Compressed() {
		return 0, false, nil
	}
	rc, err := Decompress(r, size, f)
	if err != nil {
		return 0, false, err
	}
	defer rc.Close()
	buf := make([]byte, machineHeadSize)
	n, err := io.ReadFull(rc, buf)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return 0, false, fmt.Errorf("decompressing the start of the %s kernel: %w", f, err)
	}
	m, ok := headMachine(buf[:n])
	return m, ok, nil
}

// headMachine reads the machine from the first bytes of an uncompressed
// kernel (see Machine). The PE header is read by hand because only its
// first fields are at hand here; internal/pe parses whole images.
func headMachine(head []byte) (uint16, bool) {
	le := binary.LittleEndian
	if len(head) >= 0x40 && head[0] == 'M' && head[1] == 'Z' {
		off := int64(le.Uint32(head[0x3c:]))
		if off+6 <= int64(len(head)) && string(head[off:off+4]) == "PE\x00\x00" {
			return le.Uint16(head[off+4:]), true
		}
	}
	if len(head) >= 0x3c {
		switch string(head[0x38:0x3c]) {
		case "ARM\x64":
			return machineARM64, true
		case "RSC\x05":
			return machineRISCV64, true
		}
	}
	if len(head) >= 0x206 && string(head[0x202:0x206]) == "HdrS" {
		return machineAMD64, true
	}
	return 0, false
}
