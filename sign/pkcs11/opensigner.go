package pkcs11

import (
	"crypto"
	"strings"

	"github.com/ukibuild/ukibuild/keys"
)

// OpenSigner opens a private key by the name a command line gives: a
// pkcs11: URI (Open with opts: EnvOptions for a command-line tool), else a
// PEM file (keys.PrivateKey with passphrase, which may be nil). closeFn
// releases a token key; it is never nil when err is nil.
func OpenSigner(name string, opts Options, passphrase keys.PassphraseFunc) (s crypto.Signer, closeFn func(), err error) {
	if strings.HasPrefix(name, "pkcs11:") {
		k, err := Open(name, opts)
		if err != nil {
			return nil, nil, err
		}
		return k, func() { k.Close() }, nil
	}
	if s, err = keys.PrivateKey(name, passphrase); err != nil {
		return nil, nil, err
	}
	return s, func() {}, nil
}
