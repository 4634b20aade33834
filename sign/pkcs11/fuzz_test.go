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
		u, err := ParseURI(s)
		// The PIN as the URI carries it, percent-encoded or not, and the
		// URI without it: a PIN that also appears elsewhere may show.
		var pins []string
		rest := s
		if i := strings.IndexByte(s, '?'); i >= 0 {
			var others []string
			for _, a := range strings.Split(s[i+1:], "&") {
				name, v, ok := strings.Cut(a, "=")
				if !ok || !strings.EqualFold(strings.TrimSpace(name), "pin-value") {
					others = append(others, a)
					continue
				}
				if len(v) >= 4 {
					pins = append(pins, v)
				}
				if d, err := pctDecode(v, true); err == nil && len(d) >= 4 {
					pins = append(pins, d)
				}
			}
			rest = s[:i+1] + strings.Join(others, "&")
		}
		leaks := func(what string) {
			// The redaction marker itself, next to the URI's other text,
			// may spell a PIN ("=_?p" in "=_?pin-value=REDACTED"): hide it
			// before looking.
			what = strings.ReplaceAll(what, "pin-value=REDACTED", "\x00")
			for _, p := range pins {
				if strings.Contains(what, p) && !strings.Contains(rest, p) {
					t.Fatalf("%q shows the pin-value %q", what, p)
				}
			}
		}
		leaks(Redact(s))
		if err != nil {
			leaks(err.Error())
			return
		}
		leaks(u.String())
		if v, ok := u.Query("pin-value"); ok && len(v) >= 4 && strings.Contains(u.String(), v) && !strings.Contains(rest, v) {
			t.Fatalf("String() %q shows the PIN", u.String())
		}
	})
}
