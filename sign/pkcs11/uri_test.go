package pkcs11

import (
	"strings"
	"testing"
)

func TestParseURI(t *testing.T) {
	for _, tc := range []struct {
		in    string
		path  map[string]string
		query map[string]string
	}{
		{"pkcs11:", nil, nil},
		{"PKCS11:token=a", map[string]string{"token": "a"}, nil},
		{"pkcs11:object=my-key;type=private", map[string]string{"object": "my-key", "type": "private"}, nil},
		{"pkcs11:token=Software%20PKCS%2311%20token;manufacturer=Snake%20Oil,%20Inc.?pin-value=the-pin",
			map[string]string{"token": "Software PKCS#11 token", "manufacturer": "Snake Oil, Inc."},
			map[string]string{"pin-value": "the-pin"}},
		{"pkcs11:id=%00%01%FE%ff;object=a&b=c", map[string]string{"id": "\x00\x01\xfe\xff", "object": "a&b=c"}, nil},
		{"pkcs11:token=%C3%A1;slot-id=0042;library-version=3;library-description=x",
			map[string]string{"token": "á", "slot-id": "0042", "library-version": "3", "library-description": "x"}, nil},
		{"pkcs11:library-version=2.255;slot-description=S;slot-manufacturer=M;serial=0a1b;model=SoftHSM%20v2",
			map[string]string{"library-version": "2.255", "slot-description": "S", "slot-manufacturer": "M", "serial": "0a1b", "model": "SoftHSM v2"}, nil},
		{"pkcs11:type=cert?module-path=/usr/lib/x.so&pin-source=file:/run/pin%20file",
			map[string]string{"type": "cert"},
			map[string]string{"module-path": "/usr/lib/x.so", "pin-source": "file:/run/pin file"}},
		{"pkcs11:token=;object=?module-name=softhsm2", map[string]string{"token": "", "object": ""}, map[string]string{"module-name": "softhsm2"}},
		{"pkcs11:?pin-source=file:///p?x|y", nil, map[string]string{"pin-source": "file:///p?x|y"}},
	} {
		u, err := ParseURI(tc.in)
		if err != nil {
			t.Errorf("ParseURI(%q): %v", tc.in, err)
			continue
		}
		if len(u.path) != len(tc.path) || len(u.query) != len(tc.query) {
			t.Errorf("ParseURI(%q) = path %q query %q, want %q %q", tc.in, u.path, u.query, tc.path, tc.query)
		}
		for k, want := range tc.path {
			if got, ok := u.Path(k); !ok || got != want {
				t.Errorf("ParseURI(%q).Path(%q) = %q, %v; want %q", tc.in, k, got, ok, want)
			}
		}
		for k, want := range tc.query {
			if got, ok := u.Query(k); !ok || got != want {
				t.Errorf("ParseURI(%q).Query(%q) = %q, %v; want %q", tc.in, k, got, ok, want)
			}
		}
	}
}

func TestParseURIErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "must start with"},
		{"pkcs1:token=a", "must start with"},
		{"token=a", "must start with"},
		{"pkcs11:token", "not name=value"},
		{"pkcs11:token=a;", "not name=value"},
		{"pkcs11:=a", "not name=value"},
		{"pkcs11:token=a;token=b", "more than once"},
		{"pkcs11:objcet=a", `"objcet"`},
		{"pkcs11:token=a;vendor-x=1", `"vendor-x"`},
		{"pkcs11:?pin=1234", `"pin"`},
		{"pkcs11:token=a/b", `'/' must be percent-encoded`},
		{"pkcs11:token=a b", `' ' must be percent-encoded`},
		{"pkcs11:token=a%2", "two hex digits"},
		{"pkcs11:token=a%zz", "two hex digits"},
		{"pkcs11:?module-path=/x&module-path=/y", "more than once"},
		{"pkcs11:?pin-value=a;b", "pin-value is malformed"},
		{"pkcs11:?module-path=a;b", `';' must be percent-encoded`},
		{"pkcs11:type=key", `type "key"`},
		{"pkcs11:slot-id=-1", "slot-id"},
		{"pkcs11:slot-id=", "slot-id"},
		{"pkcs11:library-version=1.", "library-version"},
		{"pkcs11:library-version=256", "library-version"},
		{"pkcs11:library-version=v1", "library-version"},
		{"pkcs11:?pin-value=1&pin-source=file:/p", "both pin-source and pin-value"},
	} {
		_, err := ParseURI(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseURI(%q): err = %v, want one containing %q", tc.in, err, tc.want)
		}
	}
}

// No parse error, however the URI is broken, shows a pin-value.
func TestParseURINeverShowsPIN(t *testing.T) {
	const pin = "s3cr3t-PIN"
	for _, in := range []string{
		"pkcs11:token=a%zz?pin-value=" + pin,
		"pkcs11:token=a?pin-value=" + pin + "%zz",
		"pkcs11:token=a?pin-value=" + pin + " x",
		"pkcs11:token=a?pin-value=" + pin + "&pin-value=" + pin,
		"pkcs11:token=a?pin-value=" + pin + "&pin-source=/p",
		"pkcs11:bogus=1?pin-value=" + pin,
		"pkcs11:type=bad?pin-value=" + pin,
		"pkcs1:token=a?pin-value=" + pin,
	} {
		_, err := ParseURI(in)
		if err == nil {
			t.Errorf("ParseURI(%q) succeeded", in)
			continue
		}
		if strings.Contains(err.Error(), pin) {
			t.Errorf("ParseURI error shows the PIN: %v", err)
		}
		if !strings.Contains(err.Error(), "pin-value=REDACTED") {
			t.Errorf("ParseURI error does not show the redacted URI: %v", err)
		}
	}
	u, err := ParseURI("pkcs11:token=a;object=b?module-path=/m.so&pin-value=" + pin)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := u.String(), "pkcs11:token=a;object=b?module-path=/m.so&pin-value=REDACTED"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if v, _ := u.Query("pin-value"); v != pin {
		t.Errorf("Query(pin-value) = %q", v)
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"pkcs11:token=a":                            "pkcs11:token=a",
		"pkcs11:token=a?pin-value=1":                "pkcs11:token=a?pin-value=REDACTED",
		"pkcs11:?module-path=/m&pin-value=1&x=pin":  "pkcs11:?module-path=/m&pin-value=REDACTED&x=pin",
		"pkcs11:?pin-value=1&pin-value=2":           "pkcs11:?pin-value=REDACTED&pin-value=REDACTED",
		"pkcs11:?pin-value=":                        "pkcs11:?pin-value=REDACTED",
		"pkcs11:?pin-source=file:/p":                "pkcs11:?pin-source=file:/p",
		"not a uri ? pin-value=x&PIN-Value=y?z=pin": "not a uri ?pin-value=REDACTED&pin-value=REDACTED",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}
