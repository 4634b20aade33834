package creds_test

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"github.com/ukibuild/ukibuild/creds"
)

// A credential for a machine's initrd, with the null key (integrity only;
// systemd accepts it where no TPM is in use), read back: the payload and
// the name it was given come out again.
func ExampleEncrypt() {
	var cred bytes.Buffer
	err := creds.Encrypt(&cred, strings.NewReader("hunter2"), &creds.Options{Name: "password", Key: creds.KeyNull})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	var payload bytes.Buffer
	info, err := creds.Decrypt(&payload, &cred, &creds.DecryptOptions{Name: "password"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	fmt.Println(info.KeyType, info.Name, payload.String())
	// Output: null password hunter2
}
