package attest

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/ukibuild/ukibuild/eventlog"
	"github.com/ukibuild/ukibuild/pcr"
)

// SystemdEvent is one record of the log systemd keeps of what it measures
// after the firmware is done (/run/log/systemd/tpm2-measure.log: systemd's
// subset of the TCG Canonical Event Log, JSON records in RFC 7464 JSON
// text sequences; src/shared/tpm2-util.c tpm2_userspace_log in systemd).
type SystemdEvent struct {
	// PCR is the PCR extended, or -1 for a record of an NvPCR (an NV index
	// systemd extends, "nv_index" instead of "pcr"), which changes no PCR.
	PCR int
	// NVIndex is the NV index of an NvPCR record.
	NVIndex uint32
	// Type is systemd's event type (content.eventType: "phase",
	// "os-separator", "nvpcr-separator", ...), empty when the record has
	// none.
	Type string
	// String is what systemd measured (content.string): its digest in each
	// bank is that bank's hash of these bytes.
	String string
	// Digests has one entry per bank the record lists.
	Digests []pcr.Value
}

// celRecord is the JSON form of a record (the fields read).
type celRecord struct {
	PCR     *int    `json:"pcr"`
	NVIndex *uint32 `json:"nv_index"`
	Digests []struct {
		HashAlg string `json:"hashAlg"`
		Digest  string `json:"digest"`
	} `json:"digests"`
	ContentType string `json:"content_type"`
	Content     struct {
		String    *string `json:"string"`
		EventType string  `json:"eventType"`
	} `json:"content"`
}

// ParseSystemdLog reads systemd's measurement log: records in RFC 7464
// JSON text sequences (each after an RS byte, 0x1e), as systemd writes
// them; a JSON array of the same records is read too. Every record must
// name a PCR or an NV index and carry at least one digest of a known bank.
func ParseSystemdLog(data []byte) ([]SystemdEvent, error) {
	var raws [][]byte
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '[' {
		var arr []json.RawMessage
		if err := json.Unmarshal(t, &arr); err != nil {
			return nil, fmt.Errorf("systemd's log: %w", err)
		}
		for _, a := range arr {
			raws = append(raws, a)
		}
	} else {
		for _, chunk := range bytes.Split(data, []byte{0x1e}) {
			if c := bytes.TrimSpace(chunk); len(c) > 0 {
				raws = append(raws, c)
			}
		}
	}
	out := make([]SystemdEvent, 0, len(raws))
	for i, raw := range raws {
		var r celRecord
		dec := json.NewDecoder(bytes.NewReader(raw))
		if err := dec.Decode(&r); err != nil {
			return nil, fmt.Errorf("systemd's log: record %d: %w", i, err)
		}
		if dec.More() {
			return nil, fmt.Errorf("systemd's log: record %d: more than one JSON value between record separators", i)
		}
		ev := SystemdEvent{PCR: -1, Type: r.Content.EventType}
		switch {
		case r.PCR != nil && r.NVIndex != nil:
			return nil, fmt.Errorf("systemd's log: record %d names both a PCR and an NV index", i)
		case r.PCR != nil:
			if *r.PCR < 0 || *r.PCR > 23 {
				return nil, fmt.Errorf("systemd's log: record %d: PCR %d", i, *r.PCR)
			}
			ev.PCR = *r.PCR
		case r.NVIndex != nil:
			ev.NVIndex = *r.NVIndex
		default:
			return nil, fmt.Errorf("systemd's log: record %d names neither a PCR nor an NV index", i)
		}
		if r.Content.String != nil {
			ev.String = *r.Content.String
		}
		for _, d := range r.Digests {
			b, err := pcr.ParseBank(d.HashAlg)
			if err != nil {
				return nil, fmt.Errorf("systemd's log: record %d: %w", i, err)
			}
			v, err := hex.DecodeString(d.Digest)
			if err != nil || len(v) != b.Hash.Size() {
				return nil, fmt.Errorf("systemd's log: record %d: %s digest %q is not %d bytes of hex", i, b.Name, d.Digest, b.Hash.Size())
			}
			ev.Digests = append(ev.Digests, pcr.Value{Bank: b, Digest: v})
		}
		if len(ev.Digests) == 0 {
			return nil, fmt.Errorf("systemd's log: record %d has no digest", i)
		}
		out = append(out, ev)
	}
	return out, nil
}

// systemdLogEvent is the event type the records of systemd's log get when
// they join the firmware's events for a replay: they have no TCG type, and
// a replay reads only PCRs and digests.
const systemdLogEvent = eventlog.EventType(0xffffffff)

// mergeSystemd returns the firmware's events followed by systemd's PCR
// records: the TPM's order, since systemd measures only after the firmware
// and the stubs have handed over to Linux (the firmware's log ends at
// ExitBootServices), and replay order matters only within a PCR.
func mergeSystemd(firmware []eventlog.Event, systemd []SystemdEvent) []eventlog.Event {
	out := slices.Clip(firmware)
	for _, ev := range systemd {
		if ev.PCR < 0 {
			continue
		}
		out = append(out, eventlog.Event{PCR: ev.PCR, Type: systemdLogEvent, Digests: ev.Digests,
			Description: fmt.Sprintf("systemd %s %q", ev.Type, ev.String)})
	}
	return out
}

// ErrSystemdVersion is a systemd version whose measurements were not
// examined (or none given with a systemd log).
var ErrSystemdVersion = errors.New("systemd version not examined")

// Oldest and newest systemd versions whose measurements are known here.
const (
	minSystemd = 253 // the first to keep /run/log/systemd/tpm2-measure.log
	maxSystemd = 262
)

// systemdMajor reads "262", "262.1" or "262~rc1" as 262.
func systemdMajor(v string) (int, error) {
	s := v
	if i := strings.IndexAny(s, ".~-"); i >= 0 {
		s = s[:i]
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < minSystemd || n > maxSystemd {
		return 0, fmt.Errorf("%w: %q (known: %d to %d)", ErrSystemdVersion, v, minSystemd, maxSystemd)
	}
	return n, nil
}

// phaseWords are the words systemd-pcrphase's units measure into PCR 11
// (units/systemd-pcrphase*.service.in of systemd 253 to 262; 258 added the
// storage target mode and factory reset units).
func phaseWords(major int) []string {
	w := []string{"enter-initrd", "leave-initrd", "sysinit", "ready", "shutdown", "final"}
	if major >= 258 {
		w = append(w, "storage-target-mode-start", "storage-target-mode-stop", "factory-reset")
	}
	return w
}

// osSeparatorPCRs are the PCRs systemd-pcrosseparator.service (261 on)
// measures "os-separator" into (units/systemd-pcrosseparator.service.in).
var osSeparatorPCRs = []int{0, 1, 2, 3, 4, 5, 6, 7, 9, 12, 13, 14}

// SystemdResult is the check of one record of systemd's log.
type SystemdResult struct {
	// Index is the record's position in the log, from 0.
	Index int
	Event SystemdEvent
	// Err says why the record is not what systemd of the version
	// measures; nil when it is.
	Err error
}

// String is "systemd event 3: PCR 11 phase "enter-initrd": ok" or the
// reason it is not.
func (r SystemdResult) String() string {
	where := fmt.Sprintf("PCR %d", r.Event.PCR)
	if r.Event.PCR < 0 {
		where = fmt.Sprintf("NV index 0x%x", r.Event.NVIndex)
	}
	s := fmt.Sprintf("systemd event %d: %s %s %q: ", r.Index, where, r.Event.Type, r.Event.String)
	if r.Err != nil {
		return s + r.Err.Error()
	}
	return s + "as systemd measures it"
}

// checkSystemd checks each record against what systemd of the given major
// version measures (src/pcrextend/pcrextend.c and the units that run it,
// src/shared/tpm2-util.c for the NvPCRs): the digest in every bank is the
// hash of the string, and the event type goes with its PCR and string.
func checkSystemd(major int, events []SystemdEvent) []SystemdResult {
	out := make([]SystemdResult, len(events))
	for i, ev := range events {
		out[i] = SystemdResult{Index: i, Event: ev, Err: checkSystemdEvent(major, ev)}
	}
	return out
}

func checkSystemdEvent(major int, ev SystemdEvent) error {
	for _, d := range ev.Digests {
		h := d.Bank.Hash.New()
		h.Write([]byte(ev.String))
		if !bytes.Equal(h.Sum(nil), d.Digest) {
			return fmt.Errorf("its %s digest %x is not the hash of its string", d.Bank.Name, d.Digest)
		}
	}
	wantPCR := func(pcrs ...int) error {
		if !slices.Contains(pcrs, ev.PCR) {
			return fmt.Errorf("systemd %d measures %s events into PCR %v, not %d", major, ev.Type, pcrs, ev.PCR)
		}
		return nil
	}
	since := func(v int) error {
		if major < v {
			return fmt.Errorf("systemd measures %s events from %d on, not in %d", ev.Type, v, major)
		}
		return nil
	}
	prefix := func(p string) error {
		if !strings.HasPrefix(ev.String, p) {
			return fmt.Errorf("a %s event's string starts with %q", ev.Type, p)
		}
		return nil
	}
	word := func(w string) error {
		if ev.String != w {
			return fmt.Errorf("a %s event's string is %q", ev.Type, w)
		}
		return nil
	}
	switch ev.Type {
	case "phase":
		if !slices.Contains(phaseWords(major), ev.String) {
			return fmt.Errorf("%q is not a phase word of systemd %d (%s)", ev.String, major, strings.Join(phaseWords(major), ", "))
		}
		return wantPCR(11)
	case "os-separator":
		return errors.Join(since(261), wantPCR(osSeparatorPCRs...), word("os-separator"))
	case "nvpcr-separator":
		return errors.Join(since(259), wantPCR(9), word("nvpcr-separator"))
	case "nvpcr-init":
		return errors.Join(since(259), wantPCR(9), prefix("nvpcr-init:"))
	case "machine-id":
		return errors.Join(wantPCR(15), prefix("machine-id:"))
	case "filesystem":
		return errors.Join(wantPCR(15), prefix("file-system:"))
	case "product-id", "login":
		// NvPCRs: an NV index, no PCR. "product-id" into the hardware
		// NvPCR from 259 on, "login" into the login NvPCR from 261 on
		// (systemd's src/tpm2-setup/nvpcr/hardware.nvpcr.in and
		// login.nvpcr.in, added in v259 and v261; src/shared/tpm2-util.c's
		// event type table of those tags).
		if ev.PCR >= 0 {
			return fmt.Errorf("systemd %d measures %s events into an NvPCR, not PCR %d", major, ev.Type, ev.PCR)
		}
		if ev.Type == "login" {
			return since(261)
		}
		return since(259)
	}
	return fmt.Errorf("event type %q was not examined for systemd %d", ev.Type, major)
}

// SystemdLogError is a systemd log that cannot be read.
type SystemdLogError struct{ Err error }

func (e *SystemdLogError) Error() string { return e.Err.Error() }
func (e *SystemdLogError) Unwrap() error { return e.Err }

// PredictSystemd returns what systemd of the given version measures into
// PCRs from the start of the boot up to the end of the phase path (systemd's
// words joined with ':', as systemd-measure's --phase= takes them): a
// "phase" event in PCR 11 for each word, and, when the path begins in the
// initrd (its first word is enter-initrd), what the initrd's other
// measuring services add before sysinit.target: "os-separator" into PCRs
// 0-7, 9 and 12-14 (systemd-pcrosseparator.service, 261 on) and then
// "nvpcr-separator" into PCR 9 (systemd-pcrnvdone.service, 259 on, ordered
// after it). The events are in the TPM's order within each PCR. A word
// systemd's units do not measure is an error.
//
// Not predicted: "nvpcr-init:..." events in PCR 9, which systemd adds when
// it allocates an NvPCR's NV index (their string holds the index's name,
// known only on the machine; the boot tests' initrd has none), and PCR 15
// (machine ID, file systems), which only the running system measures.
func PredictSystemd(version string, phase pcr.Phase, banks []pcr.Bank) ([]SystemdEvent, error) {
	major, err := systemdMajor(version)
	if err != nil {
		return nil, err
	}
	ev := func(p int, typ, s string) SystemdEvent {
		e := SystemdEvent{PCR: p, Type: typ, String: s}
		for _, b := range banks {
			h := b.Hash.New()
			h.Write([]byte(s))
			e.Digests = append(e.Digests, pcr.Value{Bank: b, Digest: h.Sum(nil)})
		}
		return e
	}
	words := phase.Words()
	var out []SystemdEvent
	for _, w := range words {
		if !slices.Contains(phaseWords(major), w) {
			return nil, fmt.Errorf("%q is not a phase word of systemd %d (%s)", w, major, strings.Join(phaseWords(major), ", "))
		}
		out = append(out, ev(11, "phase", w))
	}
	if len(words) > 0 && words[0] == "enter-initrd" {
		if major >= 261 {
			for _, p := range osSeparatorPCRs {
				out = append(out, ev(p, "os-separator", "os-separator"))
			}
		}
		if major >= 259 {
			out = append(out, ev(9, "nvpcr-separator", "nvpcr-separator"))
		}
	}
	return out, nil
}

// ExtendSystemd returns value, PCR index's value in bank b, extended with
// the digests of the events for that PCR, in order.
func ExtendSystemd(value []byte, index int, b pcr.Bank, events []SystemdEvent) ([]byte, error) {
	v := slices.Clone(value)
	for _, e := range events {
		if e.PCR != index {
			continue
		}
		i := slices.IndexFunc(e.Digests, func(d pcr.Value) bool { return d.Bank.Name == b.Name })
		if i < 0 {
			return nil, fmt.Errorf("systemd %s event has no %s digest", e.Type, b.Name)
		}
		v = b.Extend(v, e.Digests[i].Digest)
	}
	return v, nil
}
