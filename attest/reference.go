package attest

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/ukibuild/ukibuild/eventlog"
	"github.com/ukibuild/ukibuild/pcr"
)

// Reference is a prediction: the events a machine measures into each
// predicted PCR when it boots a UKI, in each bank, and the values they
// replay to. It is made once (Predict) and checked against any number of
// event logs and quotes (Verify); it is safe for concurrent use by
// several goroutines once made. It is serialised as JSON (MarshalJSON,
// UnmarshalJSON) in a documented, stable form: see docs/attest.md.
type Reference struct {
	// StubVersion is the systemd-stub version the prediction is for.
	StubVersion string
	// PCRs are the predicted PCRs, ascending.
	PCRs []int
	// Banks are the banks of every event's digests.
	Banks []pcr.Bank
	// Notes are what the prediction assumed or left out.
	Notes []string

	events  []eventlog.Event
	sources []Source
	// alts are other digests an event may have (by index in events), on
	// machines whose details the prediction does not know.
	alts map[int][]Alternative
	// machineSpecific are the events (by index in events) whose digests
	// depend on a secret of the machine, with the reason: their digests
	// are those of a boot without it.
	machineSpecific map[int]string
}

// MachineSpecific returns why Events()[i] cannot be predicted offline (its
// digests are those of a boot without the machine's secret: PCR 9's initrd
// event when Machine.BootSecret is set), or "" and false when it can.
func (r *Reference) MachineSpecific(i int) (reason string, ok bool) {
	reason, ok = r.machineSpecific[i]
	return reason, ok
}

// MachineSpecificError says that a PCR's value cannot be predicted: one of
// its events depends on a secret of the machine.
type MachineSpecificError struct {
	PCR    int
	Event  string // the event's description
	Reason string
}

func (e *MachineSpecificError) Error() string {
	return fmt.Sprintf("PCR %d cannot be predicted offline: its event %q is machine-specific (%s)", e.PCR, e.Event, e.Reason)
}

// Alternative is another form an event may take on a machine whose
// details the prediction does not know (the consoles systemd-stub appends
// to the command line, say): its digests and what it stands for.
type Alternative struct {
	Description string
	Digests     []pcr.Value
}

// Alternatives returns the alternatives of Events()[i]: a log matches the
// reference at that event when it has the event or one of them.
func (r *Reference) Alternatives(i int) []Alternative { return slices.Clone(r.alts[i]) }

// Source says which component's boot an event belongs to.
type Source int

const (
	// Firmware: the firmware's own events (its configuration, boot
	// attempts, separators).
	Firmware Source = iota
	// Loader: a boot loader before the UKI (its image and authority).
	Loader
	// UKI: the UKI's boot: its image and authority, what the stub
	// measures, its add-ons, what Linux's EFI stub measures.
	UKI
)

var sourceNames = []string{"firmware", "loader", "uki"}

func (s Source) String() string {
	if int(s) < len(sourceNames) {
		return sourceNames[s]
	}
	return fmt.Sprintf("Source(%d)", int(s))
}

// Events returns the predicted events in the order the TPM sees them
// (within a PCR, the order they extend it).
func (r *Reference) Events() []eventlog.Event { return slices.Clone(r.events) }

// Sources returns, for each of Events, the component whose boot it
// belongs to.
func (r *Reference) Sources() []Source { return slices.Clone(r.sources) }

// Value returns the value PCR index has after its predicted events, in
// bank b (from zero at reset). A PCR with alternative events has several
// possible values: Values lists them, Value refuses.
func (r *Reference) Value(index int, b pcr.Bank) ([]byte, error) {
	vs, err := r.Values(index, b)
	if err != nil {
		return nil, err
	}
	if len(vs) > 1 {
		return nil, fmt.Errorf("PCR %d has %d possible values (its events have alternatives)", index, len(vs))
	}
	return vs[0], nil
}

// maxValues bounds the number of values Values lists.
const maxValues = 4096

// Values returns every value PCR index may have after its predicted
// events in bank b: one, unless events have alternatives (the first value
// is that of Events, without alternatives). A PCR with a machine-specific
// event (MachineSpecific) has no value that can be known offline: the error
// is a *MachineSpecificError.
func (r *Reference) Values(index int, b pcr.Bank) ([][]byte, error) {
	if !slices.Contains(r.PCRs, index) {
		return nil, fmt.Errorf("PCR %d is not in the reference", index)
	}
	for i, ev := range r.events {
		if why, ok := r.machineSpecific[i]; ok && ev.PCR == index {
			return nil, &MachineSpecificError{PCR: index, Event: ev.Description, Reason: why}
		}
	}
	vals := [][]byte{b.Zero()}
	for i, ev := range r.events {
		if ev.PCR != index || ev.Type == eventlog.EvNoAction {
			continue
		}
		digests := [][]byte{nil}
		d, ok := ev.Digest(b)
		if !ok {
			return nil, fmt.Errorf("event %d (%s) has no %s digest", i, ev, b.Name)
		}
		digests[0] = d
		for _, a := range r.alts[i] {
			d, ok := eventlog.Event{Digests: a.Digests}.Digest(b)
			if !ok {
				return nil, fmt.Errorf("an alternative of event %d has no %s digest", i, b.Name)
			}
			digests = append(digests, d)
		}
		if len(vals)*len(digests) > maxValues {
			return nil, fmt.Errorf("PCR %d: more than %d possible values", index, maxValues)
		}
		var next [][]byte
		for _, v := range vals {
			for _, d := range digests {
				next = append(next, b.Extend(v, d))
			}
		}
		vals = next
	}
	return vals, nil
}

// referenceFormat is the version of the JSON form; a reader refuses
// another.
const referenceFormat = 1

type jsonReference struct {
	Format      int                            `json:"format"`
	StubVersion string                         `json:"stubVersion,omitempty"`
	Banks       []string                       `json:"banks"`
	Events      []jsonEvent                    `json:"events"`
	PCRs        map[string]map[string][]string `json:"pcrs"`
	Notes       []string                       `json:"notes,omitempty"`
}

type jsonEvent struct {
	PCR          int               `json:"pcr"`
	Type         string            `json:"type"`
	Source       string            `json:"source"`
	Description  string            `json:"description"`
	Digests      map[string]string `json:"digests"`
	Alternatives []jsonAlternative `json:"alternatives,omitempty"`
	// MachineSpecific is why the event's digests (a boot's without the
	// machine's secret) cannot be predicted offline.
	MachineSpecific string `json:"machineSpecific,omitempty"`
}

type jsonAlternative struct {
	Description string            `json:"description"`
	Digests     map[string]string `json:"digests"`
}

func jsonDigests(vs []pcr.Value) map[string]string {
	m := map[string]string{}
	for _, v := range vs {
		m[v.Bank.Name] = hex.EncodeToString(v.Digest)
	}
	return m
}

// parseDigests reads one digest per bank of banks.
func parseDigests(m map[string]string, banks []pcr.Bank) ([]pcr.Value, error) {
	if len(m) != len(banks) {
		return nil, fmt.Errorf("%d digests for %d banks", len(m), len(banks))
	}
	var out []pcr.Value
	for _, b := range banks {
		d, err := hex.DecodeString(m[b.Name])
		if err != nil || len(d) != b.Hash.Size() {
			return nil, fmt.Errorf("no %s digest of %d bytes in hex", b.Name, b.Hash.Size())
		}
		out = append(out, pcr.Value{Bank: b, Digest: d})
	}
	return out, nil
}

// MarshalJSON writes the reference as
//
//	{"format": 1, "stubVersion": "262.1", "banks": ["sha1", "sha256"],
//	 "events": [{"pcr": 4, "type": "EV_EFI_ACTION", "source": "firmware", "description": "...",
//	             "digests": {"sha1": "HEX", "sha256": "HEX"}}, ...],
//	 "pcrs": {"4": {"sha1": ["HEX"], "sha256": ["HEX"]}, ...},
//	 "notes": ["..."]}
//
// "pcrs" holds each predicted PCR's final values per bank (the replay of
// its events; several when events have "alternatives", lists of
// {"description", "digests"}), the form verifiers that compare final
// values take. An event whose digests depend on a secret of the machine
// has "machineSpecific" (the reason), and its PCR has no values: {}.
func (r *Reference) MarshalJSON() ([]byte, error) {
	doc := jsonReference{Format: referenceFormat, StubVersion: r.StubVersion, Events: []jsonEvent{},
		PCRs: map[string]map[string][]string{}, Notes: r.Notes}
	for _, b := range r.Banks {
		doc.Banks = append(doc.Banks, b.Name)
	}
	for i, ev := range r.events {
		je := jsonEvent{PCR: ev.PCR, Type: ev.Type.String(), Source: r.sources[i].String(), Description: ev.Description, Digests: jsonDigests(ev.Digests)}
		for _, a := range r.alts[i] {
			je.Alternatives = append(je.Alternatives, jsonAlternative{Description: a.Description, Digests: jsonDigests(a.Digests)})
		}
		je.MachineSpecific = r.machineSpecific[i]
		doc.Events = append(doc.Events, je)
	}
	for _, i := range r.PCRs {
		m := map[string][]string{}
		for _, b := range r.Banks {
			vs, err := r.Values(i, b)
			var ms *MachineSpecificError
			if errors.As(err, &ms) {
				break
			}
			if err != nil {
				return nil, err
			}
			for _, v := range vs {
				m[b.Name] = append(m[b.Name], hex.EncodeToString(v))
			}
		}
		doc.PCRs[strconv.Itoa(i)] = m
	}
	return json.Marshal(doc)
}

// UnmarshalJSON reads what MarshalJSON writes. It checks what it reads:
// the format, that every event has a digest of the right size in every
// bank and belongs to a listed PCR, and that the events replay to the
// listed values.
func (r *Reference) UnmarshalJSON(data []byte) error {
	var doc jsonReference
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return &ReferenceError{Defect: err.Error()}
	}
	if doc.Format != referenceFormat {
		return &ReferenceError{Defect: fmt.Sprintf("format %d; this version of ukibuild reads format %d", doc.Format, referenceFormat)}
	}
	out := Reference{StubVersion: doc.StubVersion, Notes: doc.Notes}
	for _, n := range doc.Banks {
		b, err := pcr.ParseBank(n)
		if err != nil {
			return &ReferenceError{Defect: err.Error()}
		}
		if slices.ContainsFunc(out.Banks, func(o pcr.Bank) bool { return o.Name == b.Name }) {
			return &ReferenceError{Defect: fmt.Sprintf("bank %s listed twice", b.Name)}
		}
		out.Banks = append(out.Banks, b)
	}
	if len(out.Banks) == 0 {
		return &ReferenceError{Defect: "no banks"}
	}
	for k := range doc.PCRs {
		i, err := strconv.Atoi(k)
		if err != nil || i < 0 || i > 23 || strconv.Itoa(i) != k {
			return &ReferenceError{Defect: fmt.Sprintf("pcrs: %q is not a PCR number", k)}
		}
		out.PCRs = append(out.PCRs, i)
	}
	slices.Sort(out.PCRs)
	for n, je := range doc.Events {
		t, err := eventlog.ParseEventType(je.Type)
		if err != nil {
			return &ReferenceError{Defect: fmt.Sprintf("event %d: %v", n, err)}
		}
		if !slices.Contains(out.PCRs, je.PCR) {
			return &ReferenceError{Defect: fmt.Sprintf("event %d: PCR %d has no value in pcrs", n, je.PCR)}
		}
		if len(je.Digests) != len(out.Banks) {
			return &ReferenceError{Defect: fmt.Sprintf("event %d: %d digests for %d banks", n, len(je.Digests), len(out.Banks))}
		}
		src := slices.Index(sourceNames, je.Source)
		if src < 0 {
			return &ReferenceError{Defect: fmt.Sprintf("event %d: source %q is not one of %v", n, je.Source, sourceNames)}
		}
		ev := eventlog.Event{PCR: je.PCR, Type: t, Description: je.Description}
		if ev.Digests, err = parseDigests(je.Digests, out.Banks); err != nil {
			return &ReferenceError{Defect: fmt.Sprintf("event %d: %v", n, err)}
		}
		for k, ja := range je.Alternatives {
			ds, err := parseDigests(ja.Digests, out.Banks)
			if err != nil {
				return &ReferenceError{Defect: fmt.Sprintf("event %d, alternative %d: %v", n, k, err)}
			}
			if out.alts == nil {
				out.alts = map[int][]Alternative{}
			}
			out.alts[n] = append(out.alts[n], Alternative{Description: ja.Description, Digests: ds})
		}
		if je.MachineSpecific != "" {
			if out.machineSpecific == nil {
				out.machineSpecific = map[int]string{}
			}
			out.machineSpecific[n] = je.MachineSpecific
		}
		out.events = append(out.events, ev)
		out.sources = append(out.sources, Source(src))
	}
	for _, i := range out.PCRs {
		vals := doc.PCRs[strconv.Itoa(i)]
		if _, err := out.Values(i, out.Banks[0]); err != nil {
			var ms *MachineSpecificError
			if errors.As(err, &ms) {
				if len(vals) != 0 {
					return &ReferenceError{Defect: fmt.Sprintf("PCR %d: values listed, but its event %q is machine-specific", i, ms.Event)}
				}
				continue
			}
		}
		if len(vals) != len(out.Banks) {
			return &ReferenceError{Defect: fmt.Sprintf("PCR %d: values for %d banks, not %d", i, len(vals), len(out.Banks))}
		}
		for _, b := range out.Banks {
			vs, err := out.Values(i, b)
			if err != nil {
				return &ReferenceError{Defect: err.Error()}
			}
			var want []string
			for _, v := range vs {
				want = append(want, hex.EncodeToString(v))
			}
			if !slices.Equal(vals[b.Name], want) {
				return &ReferenceError{Defect: fmt.Sprintf("PCR %d: its events replay to %s:%v, not to the listed %v", i, b.Name, want, vals[b.Name])}
			}
		}
	}
	*r = out
	return nil
}

// ReferenceError is a serialised Reference that cannot be read.
type ReferenceError struct{ Defect string }

func (e *ReferenceError) Error() string { return "reference: " + e.Defect }
