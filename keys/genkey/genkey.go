// Package genkey makes the key files "ukify genkey" makes (ukify 262,
// generate_keys and the checks of its genkey verb): a Secure Boot key and
// its self-signed certificate, and PCR policy keys, with ukify's refusals.
// Make returns the files for the caller to write; it never replaces one.
package genkey

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/ukibuild/ukibuild/pcrsig"
	"github.com/ukibuild/ukibuild/sign"
)

// Options are ukify genkey's options: the files to create.
type Options struct {
	// SecureBootKey and SecureBootCertificate are created together: an
	// RSA key and its self-signed certificate (sign.GenerateKeyCertificate).
	SecureBootKey, SecureBootCertificate string
	// CommonName is the certificate's; nil for DefaultCommonName.
	CommonName *string
	// ValidityDays is the certificate's validity (ukify's default: 3650).
	ValidityDays int
	// PCRPrivateKeys are PCR policy keys to create (pcrsig.GenerateKey);
	// PCRPublicKeys their public keys, by index ("" or missing: none).
	PCRPrivateKeys, PCRPublicKeys []string
	// Now is the certificate's start (zero: time.Now()); Rand the
	// randomness (nil: crypto/rand).
	Now  time.Time
	Rand io.Reader
}

// File is a file Make made, to be written.
type File struct {
	Path string
	Perm fs.FileMode // 0600 for private keys, 0644 for the others
	Data []byte
	What string // "SecureBoot private key", ...
}

// The refusals of Make (in ukify's words, naming its options).
var (
	ErrSecureBootPair = errors.New("--secureboot-private-key and --secureboot-certificate must be given together")
	ErrPCRPublicKeys  = errors.New("--pcr-public-key specifications must match --pcr-private-key")
	ErrNothingToMake  = errors.New("genkey: --secureboot-private-key/--secureboot-certificate or --pcr-private-key/--pcr-public-key must be given")
)

// CommonNameError is a certificate common name that is empty or longer
// than sign.CommonNameMaxLen.
type CommonNameError struct{ Name string }

func (e *CommonNameError) Error() string {
	if e.Name == "" {
		return "--secureboot-certificate-common-name must not be empty"
	}
	return fmt.Sprintf("--secureboot-certificate-common-name is longer than %d bytes: %q", sign.CommonNameMaxLen, e.Name)
}

// TokenURIError is a pkcs11: URI given as a file to create: genkey writes
// key files, a key on a token is made with the token's own tools. Its
// message leaves the URI out, which may carry a PIN (pin-value): a caller
// that prints it redacts it first (sign/pkcs11.Redact).
type TokenURIError struct {
	URI string
}

func (e *TokenURIError) Error() string { return "a pkcs11: URI: " + e.Reason() }

// Reason says why the URI is refused.
func (e *TokenURIError) Reason() string {
	return "genkey writes key files; a key on a PKCS #11 token is made with the token's own tools (pkcs11-tool --keypairgen, softhsm2-util), then used by its URI"
}

// ExistsError is a file Make would create that exists: nothing is
// written then, so that a key in use is never replaced (ukify's rule).
type ExistsError struct{ Path string }

func (e *ExistsError) Error() string {
	return e.Path + " exists; genkey never replaces a key or certificate"
}

// DefaultCommonName is ukify's certificate common name, "SecureBoot
// signing key on host HOSTNAME", shortened with "..." to
// sign.CommonNameMaxLen bytes.
func DefaultCommonName() string {
	host, err := os.Hostname()
	if err != nil {
		host = "localhost"
	}
	cn := "SecureBoot signing key on host " + host
	if len(cn) > sign.CommonNameMaxLen {
		cn = cn[:sign.CommonNameMaxLen-3] + "..."
	}
	return cn
}

// Make makes the keys and certificate the options ask for, checks that
// none of the files exists, and returns them for the caller to write (in
// this order).
func Make(o Options) ([]File, error) {
	switch {
	case (o.SecureBootKey == "") != (o.SecureBootCertificate == ""):
		return nil, ErrSecureBootPair
	case len(o.PCRPublicKeys) > len(o.PCRPrivateKeys):
		return nil, ErrPCRPublicKeys
	}
	for _, k := range append([]string{o.SecureBootKey, o.SecureBootCertificate}, o.PCRPrivateKeys...) {
		if strings.HasPrefix(k, "pkcs11:") {
			return nil, &TokenURIError{URI: k}
		}
	}
	var files []File
	if o.SecureBootKey != "" {
		cn := DefaultCommonName()
		if o.CommonName != nil {
			cn = *o.CommonName
			if cn == "" || len(cn) > sign.CommonNameMaxLen {
				return nil, &CommonNameError{Name: cn}
			}
		}
		now := o.Now
		if now.IsZero() {
			now = time.Now()
		}
		key, cert, err := sign.GenerateKeyCertificate(o.Rand, cn, o.ValidityDays, now)
		if err != nil {
			return nil, err
		}
		files = append(files, File{o.SecureBootKey, 0o600, key, "SecureBoot private key"},
			File{o.SecureBootCertificate, 0o644, cert, "SecureBoot certificate"})
	}
	for i, p := range o.PCRPrivateKeys {
		priv, pub, err := pcrsig.GenerateKey(o.Rand)
		if err != nil {
			return nil, err
		}
		files = append(files, File{p, 0o600, priv, "private key for PCR signing"})
		if i < len(o.PCRPublicKeys) && o.PCRPublicKeys[i] != "" {
			files = append(files, File{o.PCRPublicKeys[i], 0o644, pub, "public key for PCR signing"})
		}
	}
	if len(files) == 0 {
		return nil, ErrNothingToMake
	}
	for _, f := range files {
		if _, err := os.Lstat(f.Path); err == nil {
			return nil, &ExistsError{Path: f.Path}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	return files, nil
}
