package eventlog

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"unicode/utf16"

	"github.com/google/go-attestation/attest"

	"github.com/ukibuild/ukibuild/pcr"
)

// Parse parses a TCG event log as the kernel exposes it in
// /sys/kernel/security/tpm0/binary_bios_measurements (crypto-agile or
// SHA-1 format; parsed by go-attestation's attest.ParseEventLog) and
// returns its events, each with its digest in every bank of the log that
// this package knows. Descriptions are read from the event data. Nothing
// is verified: compare the replay (Replay) with the TPM's PCR values for
// that.
func Parse(data []byte) ([]Event, error) {
	el, err := attest.ParseEventLog(data)
	if err != nil {
		return nil, fmt.Errorf("parsing the event log: %w", err)
	}
	var out []Event
	first := true
	for _, alg := range el.Algs {
		var b pcr.Bank
		switch alg {
		case attest.HashSHA1:
			b = pcr.SHA1
		case attest.HashSHA256:
			b = pcr.SHA256
		default:
			continue // go-attestation knows SHA-1 and SHA-256 only
		}
		evs := el.Events(alg)
		if first {
			out = make([]Event, len(evs))
			for i, ev := range evs {
				out[i] = Event{PCR: ev.Index, Type: EventType(ev.Type), Description: describe(EventType(ev.Type), ev.Data),
					Digests: make([]pcr.Value, 0, len(el.Algs))}
			}
			first = false
		} else if len(evs) != len(out) {
			return nil, fmt.Errorf("the event log has %d events with a %s digest but %d with another", len(evs), b.Name, len(out))
		}
		for i, ev := range evs {
			if ev.Index != out[i].PCR || EventType(ev.Type) != out[i].Type {
				return nil, fmt.Errorf("event %d: the %s list has PCR %d %s, another PCR %d %s", i, b.Name, ev.Index, EventType(ev.Type), out[i].PCR, out[i].Type)
			}
			out[i].Digests = append(out[i].Digests, pcr.Value{Bank: b, Digest: ev.Digest})
		}
	}
	if first {
		return nil, fmt.Errorf("the event log has no SHA-1 or SHA-256 digests")
	}
	return out, nil
}

// describe turns event data into a short text.
func describe(t EventType, data []byte) string {
	switch t {
	case EvSeparator:
		return separatorDescription
	case EvEFIAction, EvAction:
		return strings.TrimRight(string(data), "\x00")
	case EvIPL:
		// systemd writes UTF-16 strings, shim ("MokList\0") and GRUB
		// ASCII ones: a byte that is not 0 at an odd offset is ASCII.
		if s, ok := utf16String(data); ok && !asciiIPL(data) {
			return s
		}
		return strings.TrimRight(string(data), "\x00")
	case EvEventTag:
		// TCG_PCClientTaggedEvent: taggedEventID, taggedEventDataSize, data.
		if len(data) >= 8 {
			id := binary.LittleEndian.Uint32(data)
			return fmt.Sprintf("tag %#x %s", id, strings.TrimRight(string(data[8:]), "\x00"))
		}
	case EvEFIVariableDriverConfig, EvEFIVariableBoot, EvEFIVariableAuthority:
		// UEFI_VARIABLE_DATA: VariableName GUID, UnicodeNameLength,
		// VariableDataLength, UnicodeName.
		if len(data) >= 32 {
			n := binary.LittleEndian.Uint64(data[16:])
			if n < 64 && 32+2*int(n) <= len(data) {
				s, _ := utf16String(data[32 : 32+2*n])
				return fmt.Sprintf("variable %s (%d bytes of data)", s, binary.LittleEndian.Uint64(data[24:]))
			}
		}
	case EvEFIBootServicesApplication:
		return "PE image"
	}
	return fmt.Sprintf("%d bytes of event data", len(data))
}

// asciiIPL reports whether EV_IPL data is an ASCII string: some byte at an
// odd offset before the terminating NULs is not 0 (in UTF-16LE text of
// ASCII characters all are).
func asciiIPL(b []byte) bool {
	t := bytes.TrimRight(b, "\x00")
	for i := 1; i < len(t); i += 2 {
		if t[i] != 0 {
			return true
		}
	}
	return false
}

func utf16String(b []byte) (string, bool) {
	if len(b)%2 != 0 {
		return "", false
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	for len(u) > 0 && u[len(u)-1] == 0 {
		u = u[:len(u)-1]
	}
	return string(utf16.Decode(u)), true
}
