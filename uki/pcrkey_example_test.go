package uki_test

import (
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"io"
	"log"
	"strings"

	"github.com/ukibuild/ukibuild/uki"
)

// PublicKeyContent is what ukify embeds as .pcrpkey for a single key group:
// here the PEM public key of the signing key.
func ExamplePCRKey_PublicKeyContent() {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		log.Fatal(err)
	}
	c, err := uki.PCRKey{Signer: key, Phases: []string{"enter-initrd"}}.PublicKeyContent()
	if err != nil {
		log.Fatal(err)
	}
	r, err := c.Open()
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	pem, err := io.ReadAll(r)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.SplitN(string(pem), "\n", 2)[0])
	// Output: -----BEGIN PUBLIC KEY-----
}
