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

// The name systemd-creds embeds when none is given, and the check on
// decrypt: PID 1 imports /etc/credstore/db-password.cred as
// "db-password".
func ExampleDefaultName() {
	name := creds.DefaultName("password.txt", "/etc/credstore/db-password.cred")
	fmt.Println(name)
	fmt.Println(creds.CheckFileName(name, "/etc/credstore/db-password.cred"))
	fmt.Println(creds.CheckFileName("other", "/etc/credstore/db-password.cred"))
	// Output:
	// db-password
	// <nil>
	// embedded credential name "other" does not match "db-password.cred"
}
