package uki_test

import (
	"bytes"
	"fmt"
	"log"

	"github.com/ukibuild/ukibuild/internal/pe"
	"github.com/ukibuild/ukibuild/internal/pe/petest"
	"github.com/ukibuild/ukibuild/uki"
)

// Compose adds sections to a stub the way ukify does. Real programs read the
// stub with uki.ReadStub (or build everything with uki.Build); this example
// uses a tiny synthetic stub so that it runs anywhere.
func ExampleCompose() {
	stub, err := uki.NewStub(petest.Stub(0x400, []petest.Section{
		petest.Sec(".text", 0x1000, 0x100, 0x400, 0x200, nil),
	}, 0, nil))
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
	f, err := pe.Parse(bytes.NewReader(out.Bytes()), int64(out.Len()))
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range f.Sections {
		fmt.Printf("%-8s VA %#x size %5d at %#x\n", s.NameString(), s.VirtualAddress, s.VirtualSize, s.PointerToRawData)
	}
	fmt.Printf("image %d bytes, SizeOfImage %#x\n", out.Len(), f.SizeOfImage)
	// Output:
	// .text    VA 0x1000 size   256 at 0x400
	// .cmdline VA 0x2000 size    19 at 0x600
	// .initrd  VA 0x3000 size  5000 at 0x800
	// image 7168 bytes, SizeOfImage 0x5000
}
