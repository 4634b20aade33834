package pkcs11

import "errors"

// Errors that Open, Sign and Certificate wrap, for errors.Is. The wrapping
// message names the module, token or (redacted) URI concerned; none of them
// ever contains a PIN.
var (
	// ErrNoModule: neither the URI's module-path nor Options.ModulePath
	// names a PKCS #11 module.
	ErrNoModule = errors.New("pkcs11: no PKCS #11 module given")
	// ErrModuleNotFound: the module file does not exist or cannot be loaded.
	ErrModuleNotFound = errors.New("pkcs11: PKCS #11 module not found")
	// ErrTokenNotFound: no initialized token matches the URI's token, slot
	// and library attributes, or several do.
	ErrTokenNotFound = errors.New("pkcs11: no single token matches")
	// ErrNoPIN: the token needs a PIN and none was given.
	ErrNoPIN = errors.New("pkcs11: no PIN given")
	// ErrPINIncorrect: the token rejected the PIN.
	ErrPINIncorrect = errors.New("pkcs11: PIN incorrect")
	// ErrPINLocked: the token refuses logins until an officer resets the PIN.
	ErrPINLocked = errors.New("pkcs11: PIN locked")
	// ErrKeyNotFound: no RSA key pair on the token matches the URI, or several do.
	ErrKeyNotFound = errors.New("pkcs11: no single RSA key matches")
	// ErrNoCertificate: the token holds no certificate for the key.
	ErrNoCertificate = errors.New("pkcs11: no certificate for the key")
	// ErrNoCgo: this build of the package has no PKCS #11 support because
	// it was compiled without cgo.
	ErrNoCgo = errors.New("pkcs11: PKCS #11 support needs a build with cgo (CGO_ENABLED=1 and a C compiler)")
)
