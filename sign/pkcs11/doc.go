// Package pkcs11 signs with RSA keys held on PKCS #11 tokens (smart cards,
// HSMs, SoftHSM), named by RFC 7512 URIs such as
//
//	pkcs11:token=signing;object=db-key;type=private?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/secrets/pin
//
// Open returns a *Key, a crypto.Signer for RSA PKCS #1 v1.5 over SHA-256,
// SHA-384 and SHA-512 whose private key never leaves the token; Certificate
// reads the matching certificate from the token. For programs that take a
// key the way ukibuild's command line does, OpenSigner opens either a
// pkcs11: URI or a PEM key file, and OpenSigningKey adds the certificate
// and checks the pair as firmware would; KeyWarning and RedactMessage are
// its warnings about key files others can read and PINs in URIs. The package lives apart
// from the rest of ukibuild because it needs cgo (it loads the module with
// dlopen through github.com/ThalesGroup/crypto11 and
// github.com/miekg/pkcs11); built without cgo, Open fails with ErrNoCgo.
//
// # URIs
//
// Path attributes select the token (token, manufacturer, model, serial,
// slot-id, slot-description, slot-manufacturer, library-manufacturer,
// library-description, library-version) and the key (object is its label,
// id its CKA_ID, percent-encoded bytes; type must be private if given).
// Each must match exactly; absent ones match anything, but the URI must end
// up naming one token and one RSA key pair. Attributes RFC 7512 does not
// define, and vendor-specific ones, are refused rather than ignored.
//
// Query attributes: module-path is the module's file; pin-source names a
// file holding the PIN (file:PATH, file:///PATH or a plain path; one
// trailing newline is dropped); pin-value is the PIN itself. RFC 7512
// allows pin-value, but a PIN in a URI ends up in shell history, process
// listings and CI logs: prefer pin-source or a PINFunc. Messages and
// URI.String always show pin-value as REDACTED, and no error carries a PIN.
//
// # Module and PIN
//
// The module is the URI's module-path, else Options.ModulePath. The PIN is
// pin-source, else pin-value, else Options.PIN. Open reads no environment
// variable; a command-line tool calls EnvOptions, which falls back to
// $UKIBUILD_PKCS11_MODULE for the module and to $UKIBUILD_PKCS11_PIN, then a
// no-echo terminal prompt (TerminalPIN), for the PIN.
//
// # Mechanisms
//
// Keys sign with CKM_RSA_PKCS, the DigestInfo built on the host. A token
// that offers only raw RSA (CKM_RSA_X_509) for signing still works: the
// whole PKCS #1 v1.5 encoding is then built here, and Key.Mechanism reports
// it. Every signature is verified with the public key before Sign returns.
//
// # Concurrency
//
// A Key is safe for concurrent use. It signs through a pool of sessions
// (crypto11's, 3 lent out at once; fewer when the token allows fewer
// read-write sessions) and further calls wait for one; with CKM_RSA_X_509
// it has one session and signs one digest at a time. MaxConcurrentSigns
// reports that number, which makes a Key a pcrsig.ConcurrentSigner: pcrsig.Sign
// then signs a build's policies that many at a time.
package pkcs11
