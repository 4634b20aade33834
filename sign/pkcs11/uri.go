package pkcs11

// This file holds a small, strict RFC 7512 parser rather than a dependency.
// The one maintained-looking Go parser (github.com/stefanberger/go-pkcs11uri,
// last changed in 2023) was considered and not used: it offers no way to list
// the attributes it parsed, so a misspelt attribute ("objcet=") would be
// silently ignored and the URI would match more keys than its author meant;
// it rejects the valid types "secret-key" and "data"; and its errors can echo
// parts of attribute values, which for pin-value would leak the PIN. A
// signing tool wants the opposite on all three counts.

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Path attributes defined by RFC 7512, section 2.3.
var pathAttrs = map[string]bool{
	"token": true, "manufacturer": true, "serial": true, "model": true,
	"library-manufacturer": true, "library-description": true, "library-version": true,
	"slot-manufacturer": true, "slot-description": true, "slot-id": true,
	"object": true, "type": true, "id": true,
}

// Query attributes defined by RFC 7512, section 2.3.
var queryAttrs = map[string]bool{
	"pin-source": true, "pin-value": true, "module-name": true, "module-path": true,
}

// redacted replaces the value of pin-value wherever a URI is shown.
const redacted = "REDACTED"

// URI is a parsed RFC 7512 PKCS #11 URI. Attribute values are stored
// percent-decoded; "id" is raw bytes, the others are text.
type URI struct {
	path  map[string]string
	query map[string]string
	shown string // the URI as written, with any pin-value redacted
}

// ParseURI parses a PKCS #11 URI strictly: the scheme must be "pkcs11:",
// every attribute must be one RFC 7512 defines and appear at most once,
// percent-encoding must be well formed, and type, slot-id and
// library-version must have the forms the RFC gives. Vendor-specific
// attributes are refused: this package cannot honour them, and ignoring a
// constraint on which key signs would be worse than failing. Errors never
// contain the value of pin-value.
func ParseURI(s string) (*URI, error) {
	u := &URI{path: map[string]string{}, query: map[string]string{}, shown: Redact(s)}
	const scheme = "pkcs11:"
	if len(s) < len(scheme) || !strings.EqualFold(s[:len(scheme)], scheme) {
		return nil, fmt.Errorf("pkcs11: %q is not a PKCS #11 URI: it must start with %q", u.shown, scheme)
	}
	rest := s[len(scheme):]
	pathPart, queryPart, hasQuery := strings.Cut(rest, "?")
	if err := u.parseAttrs(pathPart, ";", false); err != nil {
		return nil, err
	}
	if hasQuery {
		if err := u.parseAttrs(queryPart, "&", true); err != nil {
			return nil, err
		}
	}
	if err := u.validate(); err != nil {
		return nil, err
	}
	return u, nil
}

func (u *URI) parseAttrs(part, sep string, isQuery bool) error {
	if part == "" {
		return nil
	}
	kind, known, dst := "path", pathAttrs, u.path
	if isQuery {
		kind, known, dst = "query", queryAttrs, u.query
	}
	for i, attr := range strings.Split(part, sep) {
		name, raw, ok := strings.Cut(attr, "=")
		if !ok || name == "" {
			return fmt.Errorf("pkcs11: malformed PKCS #11 URI %q: %s attribute %d is not name=value", u.shown, kind, i+1)
		}
		if !known[name] {
			return fmt.Errorf("pkcs11: PKCS #11 URI %q has %s attribute %q, which this tool does not support (RFC 7512 defines %s)",
				u.shown, kind, name, strings.Join(sortedKeys(known), ", "))
		}
		if _, dup := dst[name]; dup {
			return fmt.Errorf("pkcs11: PKCS #11 URI %q has attribute %q more than once", u.shown, name)
		}
		v, err := pctDecode(raw, isQuery)
		if err != nil {
			if name == "pin-value" {
				return fmt.Errorf("pkcs11: PKCS #11 URI %q: pin-value is malformed (characters outside RFC 7512's set must be percent-encoded)", u.shown)
			}
			return fmt.Errorf("pkcs11: PKCS #11 URI %q: attribute %q: %v", u.shown, name, err)
		}
		dst[name] = v
	}
	return nil
}

func (u *URI) validate() error {
	if v, ok := u.path["type"]; ok {
		switch v {
		case "public", "private", "cert", "secret-key", "data":
		default:
			return fmt.Errorf("pkcs11: PKCS #11 URI %q: type %q is none of public, private, cert, secret-key, data", u.shown, v)
		}
	}
	if v, ok := u.path["slot-id"]; ok {
		if _, err := strconv.ParseUint(v, 10, 0); err != nil || !allDigits(v) {
			return fmt.Errorf("pkcs11: PKCS #11 URI %q: slot-id %q is not a decimal number", u.shown, v)
		}
	}
	if v, ok := u.path["library-version"]; ok {
		if _, _, err := parseVersion(v); err != nil {
			return fmt.Errorf("pkcs11: PKCS #11 URI %q: %v", u.shown, err)
		}
	}
	_, src := u.query["pin-source"]
	_, val := u.query["pin-value"]
	if src && val {
		return fmt.Errorf("pkcs11: PKCS #11 URI %q has both pin-source and pin-value; give one", u.shown)
	}
	return nil
}

// parseVersion parses library-version: "M" or "M.m" (decimal). A missing
// minor version is 0.
func parseVersion(v string) (major, minor byte, err error) {
	ma, mi, hasMinor := strings.Cut(v, ".")
	bad := fmt.Errorf("library-version %q is not MAJOR or MAJOR.MINOR (decimal, each at most 255)", v)
	if !allDigits(ma) || (hasMinor && !allDigits(mi)) {
		return 0, 0, bad
	}
	m, err := strconv.ParseUint(ma, 10, 8)
	if err != nil {
		return 0, 0, bad
	}
	var n uint64
	if hasMinor {
		if n, err = strconv.ParseUint(mi, 10, 8); err != nil {
			return 0, 0, bad
		}
	}
	return byte(m), byte(n), nil
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// pctDecode decodes an attribute value, refusing characters RFC 7512 does
// not allow unencoded in that part of the URI. Errors name the offending
// character class, never the value.
func pctDecode(s string, isQuery bool) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return "", errors.New("'%' is not followed by two hex digits")
			}
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
		case allowedChar(c, isQuery):
			b.WriteByte(c)
		default:
			return "", fmt.Errorf("character %q must be percent-encoded", c)
		}
	}
	return b.String(), nil
}

// allowedChar reports whether c may appear unencoded in an attribute value:
// RFC 3986 unreserved characters, the sub-delimiters RFC 7512 keeps
// available, plus "&" in the path and "/", "?", "|" in the query.
func allowedChar(c byte, isQuery bool) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '-', '.', '_', '~', ':', '[', ']', '@', '!', '$', '\'', '(', ')', '*', '+', ',', '=':
		return true
	case '&':
		return !isQuery
	case '/', '?', '|':
		return isQuery
	}
	return false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Path returns the percent-decoded value of a path attribute (token,
// object, id, type, ...) and whether the URI has it.
func (u *URI) Path(name string) (string, bool) {
	v, ok := u.path[name]
	return v, ok
}

// Query returns the percent-decoded value of a query attribute
// (module-path, pin-source, pin-value, module-name) and whether the URI
// has it.
func (u *URI) Query(name string) (string, bool) {
	v, ok := u.query[name]
	return v, ok
}

// String returns the URI as it was written, except that the value of any
// pin-value attribute is replaced by "REDACTED". It is safe to print.
func (u *URI) String() string { return u.shown }

// Redact returns s with the value of every pin-value query attribute
// (name compared ignoring case and surrounding blanks) replaced by
// "REDACTED". It works on malformed URIs too, so that any
// string meant to be a PKCS #11 URI can be shown in a message.
func Redact(s string) string {
	i := strings.IndexByte(s, '?')
	if i < 0 {
		return s
	}
	parts := strings.Split(s[i+1:], "&")
	for j, p := range parts {
		if name, _, ok := strings.Cut(p, "="); ok && strings.EqualFold(strings.TrimSpace(name), "pin-value") {
			parts[j] = "pin-value=" + redacted
		}
	}
	return s[:i+1] + strings.Join(parts, "&")
}
