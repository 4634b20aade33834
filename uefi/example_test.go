package uefi_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ukibuild/ukibuild/uefi"
	"github.com/ukibuild/ukibuild/uki"
)

// EFI_GLOBAL_VARIABLE as the UEFI specification defines it, a struct of
// Data1..Data4, laid out little-endian: the GUID's bytes are that layout,
// and its text is the registry format it was parsed from.
func ExampleGUID() {
	spec := struct {
		Data1 uint32
		Data2 uint16
		Data3 uint16
		Data4 [8]byte
	}{0x8BE4DF61, 0x93CA, 0x11d2, [8]byte{0xAA, 0x0D, 0x00, 0xE0, 0x98, 0x03, 0x2B, 0x8C}}
	var stored bytes.Buffer
	binary.Write(&stored, binary.LittleEndian, spec)

	g, err := uefi.ParseGUID("8be4df61-93ca-11d2-aa0d-00e098032b8c")
	fmt.Println(err, bytes.Equal(g[:], stored.Bytes()), g == uefi.GlobalVariable)
	fmt.Println(g)
	// Output:
	// <nil> true true
	// 8be4df61-93ca-11d2-aa0d-00e098032b8c
}

// A file that is not a PE image, opened as a UKI: the error, however it is
// wrapped, is an *uefi.FormatError naming the file.
func ExampleFormatError() {
	dir, _ := os.MkdirTemp("", "formaterror-example-")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "linux.efi")
	os.WriteFile(path, []byte("MZ and nothing else"), 0o644)

	_, err := uki.OpenImage(path)
	var fe *uefi.FormatError
	fmt.Println(errors.As(err, &fe), fe.File == path)
	// Output:
	// true true
}
