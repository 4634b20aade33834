package creds

// What systemd-creds decides from file names and its option syntax: the
// name a credential embeds by default, the check of that name on decrypt,
// the host key file, and the syntax of times and PCR lists. A program that
// takes systemd-creds' options uses these to behave as it does.

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// DefaultHostKeyPath is where systemd keeps the host key
// (/var/lib/systemd/credential.secret).
const DefaultHostKeyPath = "/var/lib/systemd/credential.secret"

// UsesHostKey reports whether credentials of this key type need the host
// key (host, host+tpm2).
func (k KeyType) UsesHostKey() bool { return k == KeyHost || k == KeyHostTPM2 }

// UsesTPM reports whether credentials of this key type need a TPM (tpm2,
// host+tpm2).
func (k KeyType) UsesTPM() bool { return k == KeyTPM2 || k == KeyHostTPM2 }

// ImportName is the name PID 1 imports a credential file under: its file
// name without ".cred".
func ImportName(path string) string { return strings.TrimSuffix(filepath.Base(path), ".cred") }

// DefaultName is the name to embed when none is given, for a credential
// encrypted from input to output ("-" is standard input or output): the
// output's ImportName, else the input's file name, else none ("").
func DefaultName(input, output string) string {
	switch {
	case output != "-":
		return ImportName(output)
	case input != "-":
		return filepath.Base(input)
	}
	return ""
}

// CheckFileName checks the name a decrypted credential embeds against the
// file it was read from, as systemd-creds decrypt does when no name is
// given: the file name, or the name PID 1 imports it under (without
// ".cred"); an empty embedded name matches any. The error is a
// *NameMismatchError.
func CheckFileName(embedded, path string) error {
	base := filepath.Base(path)
	if embedded == "" || embedded == base || embedded == ImportName(path) {
		return nil
	}
	return &NameMismatchError{Embedded: embedded, Expected: base}
}

// ErrTimeSyntax is a time that is neither @SECONDS nor RFC 3339.
var ErrTimeSyntax = errors.New("not @SECONDS or an RFC 3339 time")

// ParseTime reads a time as --timestamp and --not-after take it:
// @SECONDS (since the epoch), an RFC 3339 time, or "", "none" or
// "infinity" for none (the zero time).
func ParseTime(s string) (time.Time, error) {
	switch s {
	case "", "none", "infinity":
		return time.Time{}, nil
	}
	if rest, ok := strings.CutPrefix(s, "@"); ok {
		n, err := strconv.ParseInt(rest, 10, 64)
		if err == nil && n >= 0 {
			return time.Unix(n, 0).UTC(), nil
		}
	} else if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Time{}, ErrTimeSyntax
}

// PCRIndexError is an entry of a PCR list that is not a PCR index 0-23.
type PCRIndexError struct{ Entry string }

func (e *PCRIndexError) Error() string { return fmt.Sprintf("%q is not a PCR index (0-23)", e.Entry) }

// ParsePCRList reads PCR indexes separated by "+" or "," (systemd-creds'
// --tpm2-public-key-pcrs), as Options.PCRPublicKeyPCRs takes them.
func ParsePCRList(s string) ([]uint32, error) {
	var out []uint32
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == '+' || r == ',' }) {
		n, err := strconv.ParseUint(f, 10, 32)
		if err != nil || n > 23 {
			return nil, &PCRIndexError{Entry: f}
		}
		out = append(out, uint32(n))
	}
	return out, nil
}
