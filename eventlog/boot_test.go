package eventlog_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ukibuild/ukibuild/eventlog"
	"github.com/ukibuild/ukibuild/pcr"
)

// TestEventLogVectorSystemdBootChain: the boot test's case 6 recording
// (testvectors/eventlog/ovmf-sb-sdboot262.*: OVMF starts Debian's
// systemd-boot 262.1, which starts the stub 262 UKI). The log replays to
// the PCR values the guest read; its PCR 4 is PCR4Events for two boot
// attempts and the chain systemd-boot, UKI (their Authenticode digests
// by osslsigncode), and neither the UKI alone nor the chain reversed
// predicts it (both diverge at the first image event, the fifth); PCR 5
// has systemd-boot's EV_EVENT_TAG for loader.conf (tag 0xf5bc582a, H(the
// file); systemd's src/boot/boot.c, config_load_defaults), PCR 12
// nothing (a Type #2 entry's options are implied: systemd-boot measures
// none).
func TestEventLogVectorSystemdBootChain(t *testing.T) {
	base := filepath.Join(vectorDir, "ovmf-sb-sdboot262")
	v := loadLog(t, "ovmf-sb-sdboot262")
	events := v.events
	if n := v.checkReplay(t); n != 4 {
		t.Fatalf("%s.pcrs: want 4 values, have %d", base, n)
	}
	app := func(name, ext string) eventlog.BootApplication {
		var d struct {
			Authenticode string `json:"authenticode_sha256"`
		}
		b, err := os.ReadFile(base + ext)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s%s: %v", base, ext, err)
		}
		return eventlog.BootApplication{Name: name, Digests: []pcr.Value{{Bank: pcr.SHA256, Digest: mustHex(t, d.Authenticode)}}}
	}
	loader, uki := app("systemd-bootx64.efi", ".loader.json"), app("ukibuild.efi", ".uki.json")
	predict := func(chain ...eventlog.BootApplication) eventlog.PCRResult {
		t.Helper()
		want, err := eventlog.PCR4Events(eventlog.FirmwareBoot{BootAttempts: 2, Chain: chain}, []pcr.Bank{pcr.SHA256})
		if err != nil {
			t.Fatal(err)
		}
		return eventlog.CompareEvents(want, events, []int{4})[0]
	}
	if r := predict(loader, uki); !r.Match || r.Events != 6 {
		t.Errorf("chain systemd-boot, UKI: %s", r)
	}
	for _, c := range []struct {
		name  string
		chain []eventlog.BootApplication
	}{{"the UKI alone", []eventlog.BootApplication{uki}}, {"UKI, systemd-boot", []eventlog.BootApplication{uki, loader}}} {
		if r := predict(c.chain...); r.Match || r.Index != 4 || r.Seen == nil || r.Seen.Type != eventlog.EvEFIBootServicesApplication {
			t.Errorf("%s: want a difference at event 4, the first image: %s", c.name, r)
		}
	}
	conf, err := os.ReadFile(base + ".loader.conf")
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(conf)
	var tagged []eventlog.Event
	for _, ev := range eventlog.Select(events, []int{5}) {
		if ev.Type == eventlog.EvEventTag && strings.HasPrefix(ev.Description, "tag 0xf5bc582a ") { // LOADER_CONF_EVENT_TAG_ID
			tagged = append(tagged, ev)
		}
	}
	if len(tagged) != 1 || digest(t, tagged[0]) != hex.EncodeToString(h[:]) {
		t.Errorf("PCR 5 EV_EVENT_TAG events %v; want one, H(loader.conf) = %x", tagged, h)
	}
	if evs := eventlog.Select(events, []int{12}); len(evs) != 0 {
		t.Errorf("PCR 12: %d events, want none", len(evs))
	}
}
