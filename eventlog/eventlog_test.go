package eventlog_test

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ukibuild/ukibuild/eventlog"
	"github.com/ukibuild/ukibuild/pcr"
)

// The event logs recorded from the Secure Boot boot tests (see
// testvectors/README.md): the guest's TCG event log, the PCR values it read
// from the TPM, "ukify inspect" of the booted UKI and the UKI's
// Authenticode digest by osslsigncode.
const vectorDir = "../testvectors/eventlog"

type vector struct {
	name    string
	version string
	events  []eventlog.Event
	pcrs    map[string]string // "11:sha256" → hex, as the TPM reported
	uki     struct {
		Authenticode        string `json:"authenticode_sha256"`
		ChangedAuthenticode string `json:"changed_authenticode_sha256"`
		ChangedOffset       int64  `json:"changed_offset"`
	}
	inspect map[string]struct {
		Size   int64   `json:"size"`
		SHA256 string  `json:"sha256"`
		Text   *string `json:"text"`
	}
}

func loadVector(t *testing.T, version string) *vector {
	t.Helper()
	v := loadLog(t, "ovmf-sb-stub"+version)
	v.version = version
	base := filepath.Join(vectorDir, v.name)
	for _, f := range []struct {
		ext string
		v   any
	}{{".uki.json", &v.uki}, {".inspect.json", &v.inspect}} {
		b, err := os.ReadFile(base + f.ext)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, f.v); err != nil {
			t.Fatalf("%s%s: %v", v.name, f.ext, err)
		}
	}
	return v
}

// loadLog reads testvectors/eventlog/NAME.bin (the TCG event log) and
// NAME.pcrs (the values the TPM reported, "PCR:BANK=HEX" lines).
func loadLog(t *testing.T, name string) *vector {
	t.Helper()
	v := &vector{name: name, pcrs: map[string]string{}}
	base := filepath.Join(vectorDir, name)
	log, err := os.ReadFile(base + ".bin")
	if err != nil {
		t.Fatal(err)
	}
	if v.events, err = eventlog.Parse(log); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	q, err := os.ReadFile(base + ".pcrs")
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(q))
	for sc.Scan() {
		k, val, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			t.Fatalf("%s.pcrs: bad line %q", name, sc.Text())
		}
		v.pcrs[k] = val
	}
	return v
}

// checkReplay checks that the log replays to every value the TPM reported
// and returns how many there are.
func (v *vector) checkReplay(t *testing.T) int {
	t.Helper()
	for k, want := range v.pcrs {
		idx, bank, _ := strings.Cut(k, ":")
		n, err := strconv.Atoi(idx)
		if err != nil {
			t.Fatalf("%s.pcrs: bad PCR %q", v.name, k)
		}
		b, err := pcr.ParseBank(bank)
		if err != nil {
			t.Fatalf("%s.pcrs: %v", v.name, err)
		}
		got, err := eventlog.Replay(v.events, n, b)
		if err != nil || hex.EncodeToString(got) != want {
			t.Errorf("%s: PCR %d %s replays to %x, the TPM had %s (%v)", v.name, n, bank, got, want, err)
		}
	}
	return len(v.pcrs)
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil || len(b) == 0 {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// TestEventLogVectorsReplay: the recorded logs parse, and replaying them
// gives the PCR values the guest read from the TPM (PCR 11 in both banks,
// PCR 7 in SHA-256).
func TestEventLogVectorsReplay(t *testing.T) {
	for _, version := range []string{"252", "262"} {
		v := loadVector(t, version)
		if len(v.pcrs) != 3 {
			t.Fatalf("%s: want 3 PCR values, have %v", v.name, v.pcrs)
		}
		for k, want := range v.pcrs {
			idx, bank, _ := strings.Cut(k, ":")
			b, err := pcr.ParseBank(bank)
			if err != nil {
				t.Fatal(err)
			}
			n := map[string]int{"7": 7, "11": 11}[idx]
			got, err := eventlog.Replay(v.events, n, b)
			if err != nil {
				t.Fatal(err)
			}
			if hex.EncodeToString(got) != want {
				t.Errorf("%s: PCR %s replays to %x, the TPM had %s", v.name, k, got, want)
			}
		}
	}
}

// TestEventLogVectorsPCR4: PCR 4 of the recorded boots is PCR4Events for
// two boot attempts and the UKI's Authenticode digest (computed by
// osslsigncode); with the digest of the UKI with one byte changed, the
// first diverging event is the fifth, the UKI's, in the SHA-256 bank.
func TestEventLogVectorsPCR4(t *testing.T) {
	for _, version := range []string{"252", "262"} {
		v := loadVector(t, version)
		app := eventlog.BootApplication{Name: "uki.efi", Digests: []pcr.Value{{Bank: pcr.SHA256, Digest: mustHex(t, v.uki.Authenticode)}}}
		want, err := eventlog.PCR4Events(eventlog.FirmwareBoot{BootAttempts: 2, Chain: []eventlog.BootApplication{app}}, []pcr.Bank{pcr.SHA256})
		if err != nil {
			t.Fatal(err)
		}
		r := eventlog.CompareEvents(want, v.events, []int{4})[0]
		if !r.Match || r.Events != 5 {
			t.Errorf("%s: %s", v.name, r)
		}
		// Every expected event, SHA-1 included, where the digest is H(data).
		full, _ := eventlog.PCR4Events(eventlog.FirmwareBoot{BootAttempts: 2}, pcr.AllBanks()[:2])
		if r := eventlog.CompareEvents(full, eventlog.Select(v.events, []int{4})[:4], []int{4})[0]; !r.Match {
			t.Errorf("%s: firmware events in both banks: %s", v.name, r)
		}
		// One attempt predicts too few events.
		one, _ := eventlog.PCR4Events(eventlog.FirmwareBoot{BootAttempts: 1, Chain: []eventlog.BootApplication{app}}, []pcr.Bank{pcr.SHA256})
		if r := eventlog.CompareEvents(one, v.events, []int{4})[0]; r.Match || r.Index != 2 {
			t.Errorf("%s: one boot attempt: %s", v.name, r)
		}
		changed := eventlog.BootApplication{Name: "uki.changed.efi", Digests: []pcr.Value{{Bank: pcr.SHA256, Digest: mustHex(t, v.uki.ChangedAuthenticode)}}}
		bad, _ := eventlog.PCR4Events(eventlog.FirmwareBoot{BootAttempts: 2, Chain: []eventlog.BootApplication{changed}}, []pcr.Bank{pcr.SHA256})
		r = eventlog.CompareEvents(bad, v.events, []int{4})[0]
		if r.Match || r.Index != 4 || r.Bank != "sha256" || r.Seen == nil || r.Seen.Type != eventlog.EvEFIBootServicesApplication {
			t.Errorf("%s: UKI changed at byte %d: %s", v.name, v.uki.ChangedOffset, r)
		}
		if !strings.Contains(r.String(), "event 4 differs (sha256 digest)") || !strings.Contains(r.String(), v.uki.ChangedAuthenticode) {
			t.Errorf("%s: the report does not name the event and the digest:\n%s", v.name, r)
		}
	}
}

// TestEventLogVectorsPCR11: PCR 11 of the recorded boots is SectionEvents
// for the stub's version: sections whose text "ukify inspect" printed are
// measured from it; .linux and .initrd, whose data is not kept, by the
// SHA-256 that ukify inspect printed.
func TestEventLogVectorsPCR11(t *testing.T) {
	for _, version := range []string{"252", "262"} {
		v := loadVector(t, version)
		order, err := pcr.OrderFor(version)
		if err != nil {
			t.Fatal(err)
		}
		var want []eventlog.Event
		for _, name := range order.Sections {
			s, ok := v.inspect[name]
			if !ok {
				continue
			}
			content := pcr.Bytes([]byte("placeholder"))
			if s.Text != nil {
				if int64(len(*s.Text)) != s.Size {
					t.Fatalf("%s: %s: text of %d bytes, size %d", v.name, name, len(*s.Text), s.Size)
				}
				content = pcr.Bytes([]byte(*s.Text))
			}
			evs, err := eventlog.SectionEvents(order, []pcr.Section{{Name: name, Content: content}}, []pcr.Bank{pcr.SHA256})
			if err != nil || len(evs) != 2 {
				t.Fatalf("%s: %s: %v %v", v.name, name, evs, err)
			}
			if s.Text == nil {
				evs[1].Digests[0].Digest = mustHex(t, s.SHA256)
			}
			want = append(want, evs...)
		}
		r := eventlog.CompareEvents(want, v.events, []int{11})[0]
		if !r.Match {
			t.Errorf("%s: %s", v.name, r)
		}
		if wantN := map[string]int{"252": 10, "262": 14}[version]; r.Events != wantN {
			t.Errorf("%s: %d PCR 11 events, want %d", v.name, r.Events, wantN)
		}
		names := []string{}
		for _, ev := range eventlog.Select(v.events, []int{11}) {
			if ev.Type != eventlog.EvIPL {
				t.Errorf("%s: PCR 11 event of type %s", v.name, ev.Type)
			}
			if !slices.Contains(names, ev.Description) {
				names = append(names, ev.Description)
			}
		}
		t.Logf("%s: PCR 11 events describe %v", v.name, names)
	}
}

// TestEventLogShimIPLDescriptions: shim's EV_IPL events carry ASCII names
// with a NUL ("MokList\0"), not UTF-16 as systemd's: the recorded shim 16.1
// boot (testvectors/eventlog/ovmf-sb-shim161-fresh.bin) describes its PCR 14
// events by those names.
func TestEventLogShimIPLDescriptions(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "testvectors", "eventlog", "ovmf-sb-shim161-fresh.bin"))
	if err != nil {
		t.Fatal(err)
	}
	evs, err := eventlog.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range eventlog.Select(evs, []int{14}) {
		got = append(got, ev.Type.String()+" "+ev.Description)
	}
	want := []string{"EV_IPL MokList", "EV_IPL MokListX", "EV_IPL MokListTrusted"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("PCR 14 events %q, want %q", got, want)
	}
}
