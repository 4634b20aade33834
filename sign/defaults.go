package sign

import (
	"crypto"
	"fmt"
	"time"
)

// ParseHash maps "sha256", "sha384" or "sha512" (the names of ukibuild's
// --hash and ukify's --signature-hash) to the Authenticode digest.
func ParseHash(name string) (crypto.Hash, error) {
	switch name {
	case "sha256":
		return crypto.SHA256, nil
	case "sha384":
		return crypto.SHA384, nil
	case "sha512":
		return crypto.SHA512, nil
	}
	return 0, fmt.Errorf("unknown digest %q (want sha256, sha384 or sha512)", name)
}

// SigningTime is the signing time a signature of profile p carries, for
// Options.SigningTime: SOURCE_DATE_EPOCH's (sourceDateEpoch is its value,
// "" when it is not set), else now for the profiles whose tools always
// write one (sbsign, osslsigncode, systemd-sbsign), else none (the zero
// time: ProfileDefault's reproducible signatures).
func (p Profile) SigningTime(sourceDateEpoch string, now time.Time) (time.Time, error) {
	if sourceDateEpoch != "" {
		return SourceDateEpoch(sourceDateEpoch)
	}
	if p != ProfileDefault {
		return now, nil
	}
	return time.Time{}, nil
}
