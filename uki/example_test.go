package uki_test

import (
	"bytes"
	"debug/pe"
	"fmt"
	"log"

	"github.com/ukibuild/ukibuild/uki"
)

// Compose adds sections to a stub the way ukify does. Real programs read the
// stub with uki.ReadStub (or build everything with uki.Build); this example
// uses a tiny synthetic stub (tinyEFI: .text of 256 bytes at 0x1000 in
// memory, 0x400 in the file) so that it runs anywhere, and reads the result
// with the standard library's debug/pe. Each new section starts at the next
// SectionAlignment (0x1000) boundary in memory and FileAlignment (0x200)
// boundary in the file, so the values printed follow from the sizes.
func ExampleCompose() {
	stub, err := uki.NewStub(tinyEFI(make([]byte, 0x100)))
	if err != nil {
		log.Fatal(err)
	}
	img, err := uki.Compose(stub, []uki.Section{
		{Name: ".cmdline", Content: uki.Text("cmdline", "console=ttyS0 quiet")},
		{Name: ".initrd", Content: uki.Bytes("initrd", make([]byte, 5000))},
	})
	if err != nil {
		log.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := img.WriteTo(&out); err != nil {
		log.Fatal(err)
	}
	f, err := pe.NewFile(bytes.NewReader(out.Bytes()))
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range f.Sections {
		fmt.Printf("%-8s VA %#x size %5d at %#x\n", s.Name, s.VirtualAddress, s.VirtualSize, s.Offset)
	}
	fmt.Printf("image %d bytes, SizeOfImage %#x\n", out.Len(), f.OptionalHeader.(*pe.OptionalHeader64).SizeOfImage)
	// Output:
	// .text    VA 0x1000 size   256 at 0x400
	// .cmdline VA 0x2000 size    19 at 0x600
	// .initrd  VA 0x3000 size  5000 at 0x800
	// image 7168 bytes, SizeOfImage 0x5000
}
