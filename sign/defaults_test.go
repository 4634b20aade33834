package sign_test

import (
	"crypto"
	"fmt"
	"testing"
	"time"

	"github.com/ukibuild/ukibuild/sign"
)

func TestParseHash(t *testing.T) {
	for name, want := range map[string]crypto.Hash{"sha256": crypto.SHA256, "sha384": crypto.SHA384, "sha512": crypto.SHA512} {
		if h, err := sign.ParseHash(name); err != nil || h != want {
			t.Errorf("ParseHash(%q) = %v, %v", name, h, err)
		}
	}
	if _, err := sign.ParseHash("sha1"); err == nil {
		t.Error("ParseHash(sha1) accepted")
	}
}

func TestSigningTime(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, c := range []struct {
		p     sign.Profile
		epoch string
		want  time.Time
	}{
		{sign.ProfileDefault, "", time.Time{}},
		{sign.ProfileSbsign, "", now},
		{sign.ProfileSystemdSbsign, "", now},
		{sign.ProfileDefault, "86400", time.Unix(86400, 0)},
		{sign.ProfileOsslsigncode, "86400", time.Unix(86400, 0)},
	} {
		got, err := c.p.SigningTime(c.epoch, now)
		if err != nil || !got.Equal(c.want) {
			t.Errorf("%v.SigningTime(%q) = %v, %v; want %v", c.p, c.epoch, got, err, c.want)
		}
	}
	if _, err := sign.ProfileDefault.SigningTime("-1", now); err == nil {
		t.Error("SOURCE_DATE_EPOCH -1 accepted")
	}
}

// ExampleProfile_SigningTime: the reproducible default profile carries no
// signing time unless SOURCE_DATE_EPOCH is set; sbsign's always carries one.
func ExampleProfile_SigningTime() {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		p     sign.Profile
		epoch string
	}{{sign.ProfileDefault, ""}, {sign.ProfileDefault, "86400"}, {sign.ProfileSbsign, ""}} {
		t, _ := c.p.SigningTime(c.epoch, now)
		fmt.Printf("%s, SOURCE_DATE_EPOCH=%q: zero %v, %s\n", c.p, c.epoch, t.IsZero(), t.UTC().Format(time.DateOnly))
	}
	// Output:
	// default, SOURCE_DATE_EPOCH="": zero true, 0001-01-01
	// default, SOURCE_DATE_EPOCH="86400": zero false, 1970-01-02
	// sbsign, SOURCE_DATE_EPOCH="": zero false, 2026-12-06
}
