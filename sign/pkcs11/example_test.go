package pkcs11_test

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"log"

	"github.com/ukibuild/ukibuild/sign/pkcs11"
)

// Sign with a key on a token. The module comes from the URI, else from
// EnvOptions' argument (a --pkcs11-module flag, say), else
// $UKIBUILD_PKCS11_MODULE; the PIN from pin-source, else
// $UKIBUILD_PKCS11_PIN, else a no-echo prompt on the terminal.
func ExampleOpen() {
	key, err := pkcs11.Open("pkcs11:token=signing;object=db-key;type=private?pin-source=file:/run/secrets/token-pin",
		pkcs11.EnvOptions("/usr/lib/softhsm/libsofthsm2.so"))
	if err != nil {
		log.Fatal(err) // e.g. "pkcs11: PIN incorrect for token "signing" (serial 5c2f...)"
	}
	defer key.Close()

	digest := sha256.Sum256([]byte("data to sign"))
	sig, err := key.Sign(nil, digest[:], crypto.SHA256)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(rsa.VerifyPKCS1v15(key.Public().(*rsa.PublicKey), crypto.SHA256, digest[:], sig) == nil)

	cert, err := key.Certificate()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("signed as", cert.Subject)
}

func ExampleParseURI() {
	u, err := pkcs11.ParseURI("pkcs11:token=My%20Token;id=%01%02;type=private?pin-value=1234")
	if err != nil {
		log.Fatal(err)
	}
	token, _ := u.Path("token")
	id, _ := u.Path("id")
	fmt.Printf("token %q, id %x\n", token, id)
	fmt.Println(u) // safe to print: the PIN is redacted

	_, err = pkcs11.ParseURI("pkcs11:token=My%20Token;objcet=db-key?pin-value=1234")
	fmt.Println(err)
	// Output:
	// token "My Token", id 0102
	// pkcs11:token=My%20Token;id=%01%02;type=private?pin-value=REDACTED
	// pkcs11: PKCS #11 URI "pkcs11:token=My%20Token;objcet=db-key?pin-value=REDACTED" has path attribute "objcet", which this tool does not support (RFC 7512 defines id, library-description, library-manufacturer, library-version, manufacturer, model, object, serial, slot-description, slot-id, slot-manufacturer, token, type)
}
