package pkcs11

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/ukibuild/ukibuild/internal/secretprompt"
)

// Environment variables read by EnvOptions and PINFromEnv. The library
// itself (Open) reads no environment variable.
const (
	// EnvModule names the PKCS #11 module (a .so path) to use when neither
	// the URI's module-path nor a command-line flag gives one.
	EnvModule = "UKIBUILD_PKCS11_MODULE"
	// EnvPIN holds the user PIN when the URI carries none.
	EnvPIN = "UKIBUILD_PKCS11_PIN"
)

// TokenInfo describes the token a key lives on, for prompts and messages.
type TokenInfo struct {
	Label        string
	Manufacturer string
	Model        string
	Serial       string
	SlotID       uint
}

// String names the token by label and serial number, e.g.
// `"signing" (serial 9f2c...)`.
func (t TokenInfo) String() string {
	if t.Serial == "" {
		return fmt.Sprintf("%q", t.Label)
	}
	return fmt.Sprintf("%q (serial %s)", t.Label, t.Serial)
}

// PINFunc returns the user PIN for a token. Open calls it only when the URI
// has neither pin-source nor pin-value and the token needs a login.
type PINFunc func(token TokenInfo) (string, error)

// Options configures Open.
type Options struct {
	// ModulePath is the PKCS #11 module (shared library) used when the URI
	// has no module-path query attribute.
	ModulePath string
	// PIN supplies the PIN when the URI has neither pin-source nor
	// pin-value. Nil means such a URI fails with ErrNoPIN on a token that
	// needs a login.
	PIN PINFunc
}

// EnvOptions returns the Options a command-line tool wants: the module is
// modulePath (typically a flag's value) or else $UKIBUILD_PKCS11_MODULE, and
// the PIN, when the URI has none, comes from $UKIBUILD_PKCS11_PIN or else
// from a prompt on the terminal (TerminalPIN).
func EnvOptions(modulePath string) Options {
	if modulePath == "" {
		modulePath = os.Getenv(EnvModule)
	}
	return Options{ModulePath: modulePath, PIN: PINFromEnv(TerminalPIN(""))}
}

// PINFromEnv returns a PINFunc that answers with $UKIBUILD_PKCS11_PIN when
// it is set and not empty, and otherwise asks next (which may be nil: then
// the answer is ErrNoPIN).
func PINFromEnv(next PINFunc) PINFunc {
	return func(token TokenInfo) (string, error) {
		if pin := os.Getenv(EnvPIN); pin != "" {
			return pin, nil
		}
		if next == nil {
			return "", fmt.Errorf("%w for token %s: set %s or add pin-source to the URI", ErrNoPIN, token, EnvPIN)
		}
		return next(token)
	}
}

// TerminalPIN returns a PINFunc that prompts on the controlling terminal
// (/dev/tty, else standard input when it is a terminal) and reads the PIN
// without echo. An empty prompt means `PIN for PKCS #11 token "LABEL": `.
// Without a terminal it fails with ErrNoPIN rather than reading a pipe.
func TerminalPIN(prompt string) PINFunc {
	return func(token TokenInfo) (string, error) {
		p := prompt
		if p == "" {
			p = fmt.Sprintf("PIN for PKCS #11 token %s: ", token)
		}
		pin, err := secretprompt.Read(p)
		switch {
		case errors.Is(err, secretprompt.ErrNoTerminal):
			return "", fmt.Errorf("%w for token %s: no terminal to prompt on; set %s or add pin-source to the URI", ErrNoPIN, token, EnvPIN)
		case err != nil:
			return "", fmt.Errorf("pkcs11: the PIN of token %s: %w", token, err)
		case len(pin) == 0:
			return "", fmt.Errorf("%w for token %s: the PIN entered was empty", ErrNoPIN, token)
		}
		return string(pin), nil
	}
}

// readPINSource reads the PIN named by a pin-source attribute: "file:PATH",
// "file:///PATH" or a plain path, absolute or relative to the working
// directory. One trailing newline ("\n" or "\r\n") is removed, so a file
// written by `echo` works. Other schemes (and p11-kit's "|command") are
// refused. Errors name the file, never its content.
func readPINSource(src string) (string, error) {
	path := src
	if rest, ok := strings.CutPrefix(src, "file:"); ok {
		path = rest
		if after, ok := strings.CutPrefix(rest, "//"); ok {
			host, p, _ := strings.Cut(after, "/")
			if host != "" && host != "localhost" {
				return "", fmt.Errorf("pkcs11: pin-source %q names a remote host; only local files are supported", src)
			}
			path = "/" + p
		}
	} else if i := strings.IndexAny(src, ":/|"); i >= 0 && src[i] != '/' {
		return "", fmt.Errorf("pkcs11: pin-source %q is not supported: use file:PATH", src)
	}
	if path == "" {
		return "", fmt.Errorf("pkcs11: pin-source %q names no file", src)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return "", fmt.Errorf("pkcs11: reading PIN file %s (pin-source): %w", path, err)
	}
	pin := string(b)
	if p, ok := strings.CutSuffix(pin, "\n"); ok {
		pin = strings.TrimSuffix(p, "\r")
	}
	if pin == "" {
		return "", fmt.Errorf("pkcs11: PIN file %s (pin-source) is empty", path)
	}
	return pin, nil
}
