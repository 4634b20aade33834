package secureboot_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"

	"github.com/ukibuild/ukibuild/secureboot"
	"github.com/ukibuild/ukibuild/uefi"
)

// A db entry that allows one image by its digest, read back from the
// variable's bytes. The list is 76 bytes as UEFI defines it: the
// EFI_SIGNATURE_LIST header (28), the owner GUID (16) and the SHA-256 (32).
func ExampleParseSignatureLists() {
	owner, _ := uefi.ParseGUID("7ab1e5e2-0c3b-4b8e-9a51-1f0ddba11e55")
	digest := sha256.Sum256([]byte("stands for an image's Authenticode digest"))
	list, err := secureboot.HashList(owner, digest[:])
	if err != nil {
		panic(err)
	}
	db, err := secureboot.ParseSignatureLists(list.Bytes())
	if err != nil {
		panic(err)
	}
	e := db.Entries()[0]
	fmt.Println(secureboot.TypeName(e.Type), len(db.Bytes()), e.Owner == owner, bytes.Equal(e.Data, digest[:]))
	fmt.Println(bytes.Equal(e.SignatureData(), append(owner[:], digest[:]...)))
	// Output:
	// EFI_CERT_SHA256 76 true true
	// true
}
