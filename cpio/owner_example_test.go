package cpio_test

import (
	"fmt"

	"github.com/ukibuild/ukibuild/cpio"
)

// cpio's --owner=UID:GID takes numbers only: a name would be looked up on
// this machine, not in the tree being archived.
func ExampleParseOwner() {
	o, err := cpio.ParseOwner("1000:100")
	fmt.Println(o.UID, o.GID, err)
	_, err = cpio.ParseOwner("root:root")
	fmt.Println(err != nil)
	// Output:
	// 1000 100 <nil>
	// true
}
