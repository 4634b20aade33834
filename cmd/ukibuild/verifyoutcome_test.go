package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/ukibuild/ukibuild/attest"
	"github.com/ukibuild/ukibuild/pcr"
)

// TestEventlogVerifyOutcome: exit 3 (unverifiableError) only when
// unverifiable PCRs are the report's one defect; a log that does not
// replay to --quote-pcrs or to the quote is exit 1 (a plain error) even
// when PCR 9 is unverifiable, as the help says.
func TestEventlogVerifyOutcome(t *testing.T) {
	unverifiable := []attest.PCRResult{{PCR: 4, Status: attest.Match, Index: -1}, {PCR: 9, Status: attest.Unverifiable, Index: -1}}
	match := []byte{1}
	for _, c := range []struct {
		name string
		rep  attest.Report
		want int // 0, 1 or 3
	}{
		{"unverifiable only", attest.Report{PCRs: unverifiable,
			Values: []attest.ValueResult{{PCR: 4, Bank: pcr.SHA256, Log: match, TPM: match}},
			Quote:  &attest.QuoteResult{Replays: true}}, 3},
		{"unverifiable, --quote-pcrs does not replay", attest.Report{PCRs: unverifiable,
			Values: []attest.ValueResult{{PCR: 4, Bank: pcr.SHA256, Log: match, TPM: []byte{2}}}}, 1},
		{"unverifiable, the quote does not replay", attest.Report{PCRs: unverifiable,
			Quote: &attest.QuoteResult{Replays: false}}, 1},
		{"unverifiable, a systemd record is wrong", attest.Report{PCRs: unverifiable,
			Systemd: []attest.SystemdResult{{Err: errors.New("bad")}}}, 1},
		{"unverifiable and a difference", attest.Report{PCRs: append(unverifiable, attest.PCRResult{PCR: 11, Status: attest.Differs})}, 1},
		{"match", attest.Report{PCRs: unverifiable[:1], Quote: &attest.QuoteResult{Replays: true}}, 0},
		{"match, the quote does not replay", attest.Report{PCRs: unverifiable[:1], Quote: &attest.QuoteResult{}}, 1},
	} {
		err := verifyOutcome(&c.rep, "log.bin", "uki.efi")
		var u unverifiableError
		got := 0
		switch {
		case errors.As(err, &u):
			got = 3
		case err != nil:
			got = 1
		}
		if got != c.want {
			t.Errorf("%s: %v (exit %d), want exit %d", c.name, err, got, c.want)
		}
		if got == 1 && !strings.Contains(err.Error(), "log.bin") {
			t.Errorf("%s: %v does not name the log", c.name, err)
		}
	}
}
