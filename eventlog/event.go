package eventlog

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/ukibuild/ukibuild/pcr"
)

// EventType is the type of a TCG event: what measured it and what its
// digest covers (TCG PC Client Platform Firmware Profile Specification,
// "Event Types"; the values of go-attestation's attest.EventType).
type EventType uint32

// The event types ukibuild predicts or names.
const (
	EvNoAction                   EventType = 0x00000003
	EvSeparator                  EventType = 0x00000004
	EvAction                     EventType = 0x00000005
	EvEventTag                   EventType = 0x00000006
	EvSCRTMVersion               EventType = 0x00000008
	EvIPL                        EventType = 0x0000000d
	EvEFIVariableDriverConfig    EventType = 0x80000001
	EvEFIVariableBoot            EventType = 0x80000002
	EvEFIBootServicesApplication EventType = 0x80000003
	EvEFIBootServicesDriver      EventType = 0x80000004
	EvEFIAction                  EventType = 0x80000007
	EvEFIPlatformFirmwareBlob    EventType = 0x80000008
	EvEFIVariableAuthority       EventType = 0x800000e0
)

var eventTypeNames = map[EventType]string{
	EvNoAction:                   "EV_NO_ACTION",
	EvSeparator:                  "EV_SEPARATOR",
	EvAction:                     "EV_ACTION",
	EvEventTag:                   "EV_EVENT_TAG",
	EvSCRTMVersion:               "EV_S_CRTM_VERSION",
	EvIPL:                        "EV_IPL",
	EvEFIVariableDriverConfig:    "EV_EFI_VARIABLE_DRIVER_CONFIG",
	EvEFIVariableBoot:            "EV_EFI_VARIABLE_BOOT",
	EvEFIBootServicesApplication: "EV_EFI_BOOT_SERVICES_APPLICATION",
	EvEFIBootServicesDriver:      "EV_EFI_BOOT_SERVICES_DRIVER",
	EvEFIAction:                  "EV_EFI_ACTION",
	EvEFIPlatformFirmwareBlob:    "EV_EFI_PLATFORM_FIRMWARE_BLOB",
	EvEFIVariableAuthority:       "EV_EFI_VARIABLE_AUTHORITY",
}

// String returns the specification's name of t, or its number in hex.
func (t EventType) String() string {
	if s, ok := eventTypeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("EV_%#08x", uint32(t))
}

// ParseEventType parses an event type's name as String writes it: the
// specification's name ("EV_IPL") or "EV_" and its number in hex.
func ParseEventType(s string) (EventType, error) {
	for t, n := range eventTypeNames {
		if n == s {
			return t, nil
		}
	}
	if num, ok := strings.CutPrefix(s, "EV_0x"); ok {
		if v, err := strconv.ParseUint(num, 16, 32); err == nil {
			return EventType(v), nil
		}
	}
	return 0, fmt.Errorf("event type %q: not a name such as EV_IPL or a number such as EV_0x0000000d", s)
}

// Event is one measurement: PCR was extended with one digest in each bank.
// A prediction is a list of events, and a PCR's value is their replay
// (Replay), so a value can be explained and two lists compared event by
// event (CompareEvents).
type Event struct {
	PCR  int
	Type EventType
	// Digests has one entry per bank.
	Digests []pcr.Value
	// Description says what was measured ("section .linux (data)",
	// "UKI uki.efi (Authenticode)"); for events read from a log, what
	// the event data says.
	Description string
}

// Digest returns the event's digest in bank b.
func (e Event) Digest(b pcr.Bank) ([]byte, bool) {
	for _, v := range e.Digests {
		if v.Bank.Name == b.Name {
			return v.Digest, true
		}
	}
	return nil, false
}

// String is "PCR 4 EV_EFI_ACTION sha256:3d67... "Calling ..."", the
// digest of the first bank the event has.
func (e Event) String() string {
	var d string
	if len(e.Digests) > 0 {
		d = " " + e.Digests[0].Bank.Name + ":" + hex.EncodeToString(e.Digests[0].Digest)
	}
	return fmt.Sprintf("PCR %d %s%s %q", e.PCR, e.Type, d, e.Description)
}

// hashEvent is an event whose digest in each bank is H(data).
func hashEvent(index int, t EventType, desc string, data []byte, banks []pcr.Bank) Event {
	ev := Event{PCR: index, Type: t, Description: desc, Digests: make([]pcr.Value, len(banks))}
	for i, b := range banks {
		h := b.Hash.New()
		h.Write(data)
		ev.Digests[i] = pcr.Value{Bank: b, Digest: h.Sum(nil)}
	}
	return ev
}

// Replay returns the value PCR index has in bank b after events, starting
// from zero (events of other PCRs are skipped). It fails when an event of
// that PCR has no digest in b.
func Replay(events []Event, index int, b pcr.Bank) ([]byte, error) {
	v := b.Zero()
	h := b.Hash.New() // one hasher for all extends: a verifier replays many logs
	for i, ev := range events {
		if ev.PCR != index || ev.Type == EvNoAction { // EV_NO_ACTION is never extended
			continue
		}
		d, ok := ev.Digest(b)
		if !ok {
			return nil, fmt.Errorf("replay: event %d (%s) has no %s digest", i, ev, b.Name)
		}
		h.Reset()
		h.Write(v)
		h.Write(d)
		v = h.Sum(v[:0])
	}
	return v, nil
}

// PCRs returns the PCRs events extend, in ascending order.
func PCRs(events []Event) []int {
	var out []int
	for _, ev := range events {
		if ev.Type != EvNoAction && !slices.Contains(out, ev.PCR) {
			out = append(out, ev.PCR)
		}
	}
	slices.Sort(out)
	return out
}

// Select returns the events of the given PCRs, in their order (EV_NO_ACTION
// events left out).
func Select(events []Event, pcrs []int) []Event {
	var out []Event
	for _, ev := range events {
		if ev.Type != EvNoAction && slices.Contains(pcrs, ev.PCR) {
			out = append(out, ev)
		}
	}
	return out
}

// PCRResult is the comparison of one PCR's expected and seen events.
type PCRResult struct {
	PCR   int
	Match bool
	// Index is the position (among this PCR's events, from 0) of the first
	// event that differs in type or in a digest of a bank both have, or
	// where one list ends before the other; -1 when they match.
	Index int
	// Expected and Seen are the events at Index; nil where a list ended.
	Expected, Seen *Event
	// Bank is the bank whose digest differs (empty when the type differs
	// or a list ended).
	Bank string
	// Events is the number of expected events of this PCR.
	Events int
}

// String is "PCR 4: match (5 events)" or "PCR 4: event 4 differs: ...".
func (r PCRResult) String() string {
	if r.Match {
		return fmt.Sprintf("PCR %d: match (%d events)", r.PCR, r.Events)
	}
	show := func(e *Event, b string) string {
		if e == nil {
			return "(none: the list ends)"
		}
		if b != "" {
			d, _ := e.Digest(pcr.Bank{Name: b})
			return fmt.Sprintf("%s %s:%x %q", e.Type, b, d, e.Description)
		}
		return e.String()
	}
	var what string
	if r.Bank != "" {
		what = " (" + r.Bank + " digest)"
	}
	return fmt.Sprintf("PCR %d: event %d differs%s:\n  expected %s\n  seen     %s", r.PCR, r.Index, what,
		show(r.Expected, r.Bank), show(r.Seen, r.Bank))
}

// CompareEvents compares the expected and seen events of each of pcrs, in
// order: the type and the digest in every bank both events have must be
// equal, and neither list may have more events. It reports the first
// diverging event of each PCR. A PCR whose events differ only in banks
// that one list lacks matches; at least one bank must be common.
func CompareEvents(expected, seen []Event, pcrs []int) []PCRResult {
	out := make([]PCRResult, 0, len(pcrs))
	for _, p := range pcrs {
		exp, got := Select(expected, []int{p}), Select(seen, []int{p})
		r := PCRResult{PCR: p, Match: true, Index: -1, Events: len(exp)}
		for i := 0; i < max(len(exp), len(got)); i++ {
			if i >= len(exp) || i >= len(got) {
				r.Match, r.Index = false, i
				if i < len(exp) {
					r.Expected = &exp[i]
				}
				if i < len(got) {
					r.Seen = &got[i]
				}
				break
			}
			e, g := exp[i], got[i]
			differs, bank := e.Type != g.Type, ""
			common := 0
			for _, v := range e.Digests {
				d, ok := g.Digest(v.Bank)
				if !ok {
					continue
				}
				common++
				if !differs && !bytes.Equal(d, v.Digest) {
					differs, bank = true, v.Bank.Name
				}
			}
			if common == 0 {
				differs = true
			}
			if differs {
				r.Match, r.Index, r.Expected, r.Seen, r.Bank = false, i, &exp[i], &got[i], bank
				break
			}
		}
		out = append(out, r)
	}
	return out
}

// ParsePCRList parses "4,7,11" into PCR indexes (0 to 23), in the order
// given, without duplicates.
func ParsePCRList(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		var n int
		if _, err := fmt.Sscanf(f, "%d", &n); err != nil || n < 0 || n > 23 || fmt.Sprint(n) != f {
			return nil, fmt.Errorf("PCR %q: want a number from 0 to 23", f)
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no PCR in %q", s)
	}
	return out, nil
}
