package pkcs11_test

import (
	"fmt"

	"github.com/ukibuild/ukibuild/sign/pkcs11"
)

// A message that quotes a key URI with its PIN shows it redacted, and the
// URI itself earns a warning.
func ExampleRedactMessage() {
	uri := "pkcs11:token=db;object=key?pin-value=1234"
	fmt.Println(pkcs11.RedactMessage(fmt.Sprintf("cannot open %q", uri)))
	fmt.Println(pkcs11.KeyWarning(uri) != "")
	// Output:
	// cannot open "pkcs11:token=db;object=key?pin-value=REDACTED"
	// true
}
