package attest

import (
	"crypto/sha256"
	"testing"

	"github.com/ukibuild/ukibuild/pcr"
)

// TestCheckSystemdNvPCRSince checks the first systemd release that
// measures each NvPCR event type, as systemd's git history shows it
// (src/tpm2-setup/nvpcr/hardware.nvpcr.in appears in v259,
// login.nvpcr.in in v261; the tags are in src/shared/tpm2-util.c's event
// type table of the same releases).
func TestCheckSystemdNvPCRSince(t *testing.T) {
	ev := func(typ, s string) SystemdEvent {
		d := sha256.Sum256([]byte(s))
		return SystemdEvent{PCR: -1, NVIndex: 0x01d10200, Type: typ, String: s,
			Digests: []pcr.Value{{Bank: pcr.SHA256, Digest: d[:]}}}
	}
	for _, c := range []struct {
		typ   string
		major int
		ok    bool
	}{
		{"product-id", 258, false},
		{"product-id", 259, true},
		{"login", 259, false},
		{"login", 260, false},
		{"login", 261, true},
		{"login", 262, true},
	} {
		err := checkSystemdEvent(c.major, ev(c.typ, "x"))
		if (err == nil) != c.ok {
			t.Errorf("%s in systemd %d: error %v, want ok=%v", c.typ, c.major, err, c.ok)
		}
	}
}
