package pkcs11

import (
	"strings"
	"testing"
)

// FuzzParseURI feeds arbitrary strings to the PKCS #11 URI parser: no
// panic, and neither an error nor the shown form of a URI that carries
// pin-value contains its value.
func FuzzParseURI(f *testing.F) {
	for _, s := range []string{
		"pkcs11:token=signing;object=db?pin-value=123456",
		"pkcs11:model=SoftHSM%20v2;manufacturer=SoftHSM%20project;serial=abc;token=t;id=%01%02;type=private?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/pin",
		"pkcs11:slot-id=0;library-version=1.2?PIN-VALUE=%41%42",
		"pkcs11:object=a;object=b?pin-value=secret",
		"pkcs11:id=%zz?pin-value=secret",
		"pkcs11:bogus=1?pin-value=secret",
		"PKCS11:",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// The PINs as the URI carries them, percent-encoded or not; and s
		// with each PIN changed character by character (other letters
		// and digits, percent-encoding kept valid). A PIN leaks when it
		// shows more often in what s gives than in what that other URI
		// gives: what only looks like the PIN by chance (fixed text such
		// as "pkcs11:" or "pin-value=REDACTED" next to the URI's own text)
		// shows in both.
		var pins []string
		other := s
		if i := strings.IndexByte(s, '?'); i >= 0 {
			attrs := strings.Split(s[i+1:], "&")
			for k, a := range attrs {
				name, v, ok := strings.Cut(a, "=")
				if !ok || !strings.EqualFold(strings.TrimSpace(name), "pin-value") {
					continue
				}
				if len(v) >= 4 {
					pins = append(pins, v)
				}
				if d, err := pctDecode(v, true); err == nil && len(d) >= 4 {
					pins = append(pins, d)
				}
				attrs[k] = name + "=" + strings.Map(otherChar, v)
			}
			other = s[:i+1] + strings.Join(attrs, "&")
		}
		shown := func(s string) []string {
			out := []string{Redact(s)}
			u, err := ParseURI(s)
			if err != nil {
				return append(out, err.Error())
			}
			return append(out, u.String())
		}
		got, want := shown(s), shown(other)
		for k := range got {
			for _, p := range pins {
				if strings.Count(got[k], p) > strings.Count(want[k], p) {
					t.Fatalf("%q shows the pin-value %q", got[k], p)
				}
			}
		}
	})
}

// otherChar maps letters and digits to others of the same kind, hex
// digits to hex digits (so that percent-encoding stays valid).
func otherChar(r rune) rune {
	switch {
	case r >= '0' && r <= '8', r >= 'a' && r <= 'e', r >= 'A' && r <= 'E', r >= 'g' && r <= 'y', r >= 'G' && r <= 'Y':
		return r + 1
	case r == '9':
		return '0'
	case r == 'f':
		return 'a'
	case r == 'F':
		return 'A'
	case r == 'z':
		return 'g'
	case r == 'Z':
		return 'G'
	}
	return r
}
