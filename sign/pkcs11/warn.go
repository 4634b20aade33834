package pkcs11

import (
	"regexp"
	"strings"

	"github.com/ukibuild/ukibuild/keys"
)

// pinValueRE finds the value of a pin-value attribute of a PKCS #11 URI
// within a longer text.
var pinValueRE = regexp.MustCompile(`(?i)([?&]\s*pin-value\s*=\s*)[^&;\s"']*`)

// RedactMessage returns msg with the value of every pin-value attribute
// of the PKCS #11 URIs in it replaced by "REDACTED": a message (a command
// line parser's, say) may quote an argument it could not use. Redact is
// for a string that is one URI.
func RedactMessage(msg string) string {
	return pinValueRE.ReplaceAllString(msg, "${1}"+redacted)
}

// KeyWarning returns a warning about a private key named as OpenSigner
// takes it, or "": for a pkcs11: URI that carries the PIN in pin-value
// (other users see it in ps output, and it stays in shell history), for a
// PEM file that users other than its owner can read
// (keys.PermissionWarning).
func KeyWarning(name string) string {
	switch {
	case name == "":
	case strings.HasPrefix(strings.ToLower(name), "pkcs11:"):
		if pinValueRE.MatchString(name) {
			return "the PKCS #11 URI carries the PIN in pin-value, which other users can see in ps and which stays in shell history; use pin-source=file:PATH or $" + EnvPIN
		}
	default:
		return keys.PermissionWarning(name)
	}
	return ""
}
