package attest

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ukibuild/ukibuild/eventlog"
	"github.com/ukibuild/ukibuild/pcr"
	"github.com/ukibuild/ukibuild/quote"
)

// Evidence is what a machine reports of a boot.
type Evidence struct {
	// Log is the TCG2 event log the firmware kept
	// (/sys/kernel/security/tpm0/binary_bios_measurements).
	Log []byte
	// TPMValues are PCR values the TPM reported, unsigned (TPM2_PCR_Read):
	// the log must replay to them. Optional.
	TPMValues []quote.PCRValue
	// Quote is a TPM2 quote signed by an attestation key: its signature,
	// its nonce and that the log replays to its PCR digest are checked.
	// Optional.
	Quote *Quote
	// SystemdLog is systemd's own measurement log
	// (/run/log/systemd/tpm2-measure.log, CEL-JSON; ParseSystemdLog).
	// Optional: with it, the replays against TPMValues and Quote are of
	// the firmware's log followed by systemd's records, and each record is
	// checked against what systemd of SystemdVersion measures
	// (Report.Systemd).
	SystemdLog []byte
	// SystemdVersion is the version of systemd that kept SystemdLog
	// ("262.1"); needed with SystemdLog (ErrSystemdVersion).
	SystemdVersion string
}

// Quote is a signed TPM2 quote, the key that signed it and the nonce the
// verifier sent.
type Quote struct {
	quote.Quote
	// AK is the attestation key's public key (quote.ParseAKPublic).
	AK crypto.PublicKey
	// Nonce is the verifier's fresh nonce (the quote's qualifying data).
	Nonce []byte
}

// LoadQuote reads a quote from the files tpm2-tools writes
// (quote.Load: the TPMS_ATTEST of tpm2_quote -m and the TPMT_SIGNATURE
// of -s; quote.LoadAKPublic: the attestation key of tpm2_createak -u, or a PEM
// public key), with the verifier's nonce.
func LoadQuote(quoteFile, sigFile, akFile string, nonce []byte) (*Quote, error) {
	q, err := quote.Load(quoteFile, sigFile)
	if err != nil {
		return nil, err
	}
	ak, err := quote.LoadAKPublic(akFile)
	if err != nil {
		return nil, err
	}
	return &Quote{Quote: q, AK: ak, Nonce: nonce}, nil
}

// Status is a PCR's verdict.
type Status int

const (
	// Match: the log's events for the PCR are the predicted ones.
	Match Status = iota
	// Differs: an event differs, or one list has more events.
	Differs
	// Unverifiable: every event that can be checked matches, but an event
	// whose digest depends on a secret of the machine (a boot secret in
	// PCR 9's initrd: Reference.MachineSpecific) is not the one a boot
	// without it measures, and cannot be checked offline: the PCR is
	// neither a match nor a mismatch (PCRResult.Unverified says which
	// event and why).
	Unverifiable
)

func (s Status) String() string {
	switch s {
	case Match:
		return "match"
	case Differs:
		return "differs"
	case Unverifiable:
		return "unverifiable"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// MarshalText is the Status's String, for JSON reports.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// PCRResult is one PCR's comparison of the log with the Reference.
type PCRResult struct {
	PCR    int
	Status Status
	// Events is the number of predicted events of the PCR.
	Events int
	// Index is the position (among this PCR's events, from 0) of the first
	// event that differs in type or in a digest of a bank both have, or
	// where one list ends before the other; -1 when they match.
	Index int
	// Expected and Seen are the events at Index; nil where a list ended.
	Expected, Seen *eventlog.Event
	// Bank is the bank whose digest differs (empty when the type differs
	// or a list ended).
	Bank string
	// Chosen says, for each event the log had in one of its alternative
	// forms, which ("event 0: ... (consoles: serial COM1)").
	Chosen []string
	// Unverified says, for each machine-specific event the log has in a
	// form the prediction cannot check (Unverifiable), which and why
	// ("event 1: EV_EVENT_TAG tag 0xec223b8f Linux initrd ...: REASON").
	Unverified []string
}

// String is "PCR 4: match (5 events)" or "PCR 4: event 4 differs: ..."
// with the expected and the seen event, or "PCR 9: unverifiable (2
// events): ..." with the events that could not be checked.
func (r PCRResult) String() string {
	var s string
	if r.Status == Unverifiable {
		s = fmt.Sprintf("PCR %d: unverifiable (%d events): neither a match nor a mismatch; the other events match, these could not be checked offline:", r.PCR, r.Events)
		for _, u := range r.Unverified {
			s += "\n  " + u
		}
	} else {
		s = eventlog.PCRResult{PCR: r.PCR, Match: r.Status == Match, Index: r.Index, Expected: r.Expected,
			Seen: r.Seen, Bank: r.Bank, Events: r.Events}.String()
	}
	for _, c := range r.Chosen {
		s += "\n  as " + c
	}
	return s
}

// ValueResult is one TPM-reported value compared with the log's replay.
type ValueResult struct {
	PCR  int
	Bank pcr.Bank
	// Log is the log's replay, TPM the value the TPM reported.
	Log, TPM []byte
}

// Match reports whether the log replays to the TPM's value.
func (v ValueResult) Match() bool { return bytes.Equal(v.Log, v.TPM) }

// String is "PCR 11 sha256: the log replays to the quoted value" or says
// both values.
func (v ValueResult) String() string {
	if v.Match() {
		return fmt.Sprintf("PCR %d %s: the log replays to the quoted value", v.PCR, v.Bank.Name)
	}
	return fmt.Sprintf("PCR %d %s: the log replays to %x, the quote has %x", v.PCR, v.Bank.Name, v.Log, v.TPM)
}

// QuoteResult is what a quote attests. A quote whose signature or nonce
// does not verify is an error of Verify, not a result.
type QuoteResult struct {
	// Selection are the PCRs and banks the quote covers.
	Selection []quote.PCRSelection
	// Replays: the log replays to the quote's PCR digest.
	Replays bool
	// NotQuoted are PCRs the reference predicts (or the caller asked
	// about) that the quote does not cover: their events are not attested
	// by it.
	NotQuoted []int
}

// Report is the result of a verification.
type Report struct {
	// PCRs has one result per predicted PCR (none without a Reference).
	PCRs []PCRResult
	// Values compares Evidence.TPMValues with the log.
	Values []ValueResult
	// Quote is set when the evidence had a quote.
	Quote *QuoteResult
	// Systemd checks each record of the evidence's systemd log.
	Systemd []SystemdResult
}

// OK reports whether every PCR matches, the log replays to every value
// the TPM reported, and to the quote's PCR digest. An Unverifiable PCR is
// not a match: OK is false (Unverifiable lists them).
func (r *Report) OK() bool {
	for _, p := range r.PCRs {
		if p.Status != Match {
			return false
		}
	}
	return r.Replays() && r.SystemdOK()
}

// Unverifiable returns the PCRs that are neither a match nor a mismatch
// (Status Unverifiable).
func (r *Report) Unverifiable() []int {
	var out []int
	for _, p := range r.PCRs {
		if p.Status == Unverifiable {
			out = append(out, p.PCR)
		}
	}
	return out
}

// Differing returns the PCRs whose events differ from the reference
// (Status Differs).
func (r *Report) Differing() []int {
	var out []int
	for _, p := range r.PCRs {
		if p.Status == Differs {
			out = append(out, p.PCR)
		}
	}
	return out
}

// Replays reports whether the log replays to every value the TPM reported
// (Values) and to the quote's PCR digest, if any.
func (r *Report) Replays() bool {
	for _, v := range r.Values {
		if !v.Match() {
			return false
		}
	}
	return r.Quote == nil || r.Quote.Replays
}

// SystemdOK reports whether every record of the systemd log is what
// systemd measures (no SystemdResult has an Err).
func (r *Report) SystemdOK() bool {
	for _, s := range r.Systemd {
		if s.Err != nil {
			return false
		}
	}
	return true
}

// String lists the results, a line each (a differing PCR takes three).
func (r *Report) String() string {
	var b strings.Builder
	if q := r.Quote; q != nil {
		sel := make([]string, len(q.Selection))
		for i, s := range q.Selection {
			sel[i] = s.String()
		}
		if q.Replays {
			fmt.Fprintf(&b, "quote: signature and nonce verify, the log replays to its PCR digest over %s\n", strings.Join(sel, " "))
		} else {
			fmt.Fprintf(&b, "quote: signature and nonce verify, but the log does not replay to its PCR digest over %s\n", strings.Join(sel, " "))
		}
		for _, n := range q.NotQuoted {
			fmt.Fprintf(&b, "PCR %d: not in the quote, so its events are not attested by it\n", n)
		}
	}
	for _, v := range r.Values {
		fmt.Fprintln(&b, v)
	}
	for _, p := range r.PCRs {
		fmt.Fprintln(&b, p)
	}
	for _, s := range r.Systemd {
		fmt.Fprintln(&b, s)
	}
	return b.String()
}

// Verify compares the evidence with the reference: each predicted PCR's
// events with the log's, event by event (the first diverging event is
// reported), and, when the evidence has them, the log's replay with the
// values the TPM reported and with a quote's signed PCR digest. A log
// that does not parse, and a quote whose signature or nonce does not
// verify, are errors (wrapping quote.ErrSignature, quote.ErrNonce,
// ...); differences are in the Report.
func (r *Reference) Verify(ctx context.Context, ev Evidence) (*Report, error) {
	return verify(ctx, r, ev, r.PCRs)
}

// VerifyLog checks evidence without a prediction: the log's replay against
// the values the TPM reported and against a quote. pcrs are the PCRs the
// caller cares about: those the quote does not cover are reported.
func VerifyLog(ctx context.Context, ev Evidence, pcrs []int) (*Report, error) {
	return verify(ctx, nil, ev, pcrs)
}

func verify(ctx context.Context, ref *Reference, ev Evidence, pcrs []int) (*Report, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	seen, err := eventlog.Parse(ev.Log)
	if err != nil {
		return nil, &LogError{Err: err}
	}
	rep := &Report{}
	// firmware stays the firmware's events, compared with the reference;
	// seen, replayed against the TPM, gets systemd's records after them.
	firmware := seen
	if ev.SystemdLog != nil {
		major, err := systemdMajor(ev.SystemdVersion)
		if err != nil {
			return nil, err
		}
		sd, err := ParseSystemdLog(ev.SystemdLog)
		if err != nil {
			return nil, &SystemdLogError{Err: err}
		}
		seen = mergeSystemd(firmware, sd)
		rep.Systemd = checkSystemd(major, sd)
	}
	if q := ev.Quote; q != nil {
		info, err := quote.Parse(q.Quote)
		if err != nil {
			return nil, err
		}
		values, err := quote.Values(seen, info.Selection)
		if err != nil {
			return nil, fmt.Errorf("the event log and the quote: %w", err)
		}
		qr := &QuoteResult{Selection: info.Selection, Replays: true}
		if err := quote.VerifyParsed(info, q.Quote, q.AK, q.Nonce, values); errors.Is(err, quote.ErrPCRDigest) {
			qr.Replays = false
		} else if err != nil {
			return nil, err
		}
		for _, n := range pcrs {
			if !slices.ContainsFunc(info.Selection, func(s quote.PCRSelection) bool { return slices.Contains(s.PCRs, n) }) {
				qr.NotQuoted = append(qr.NotQuoted, n)
			}
		}
		rep.Quote = qr
	}
	for _, v := range ev.TPMValues {
		got, err := eventlog.Replay(seen, v.PCR, v.Bank)
		if err != nil {
			return nil, &LogError{Err: err}
		}
		rep.Values = append(rep.Values, ValueResult{PCR: v.PCR, Bank: v.Bank, Log: got, TPM: v.Digest})
	}
	if ref != nil {
		for _, p := range ref.PCRs {
			rep.PCRs = append(rep.PCRs, ref.compare(p, firmware))
		}
	}
	return rep, nil
}

// compare compares PCR p's predicted events with the log's, in order: the
// type and the digest in every bank both have must be equal (an event with
// alternatives matches when it or one of them does), and neither list may
// have more events (eventlog.CompareEvents' rule).
func (r *Reference) compare(p int, seen []eventlog.Event) PCRResult {
	var idx []int
	for i, ev := range r.events {
		if ev.PCR == p && ev.Type != eventlog.EvNoAction {
			idx = append(idx, i)
		}
	}
	got := eventlog.Select(seen, []int{p})
	res := PCRResult{PCR: p, Status: Match, Index: -1, Events: len(idx)}
	for n := 0; n < max(len(idx), len(got)); n++ {
		if n >= len(idx) || n >= len(got) {
			res.Status, res.Index, res.Unverified = Differs, n, nil
			if n < len(idx) {
				res.Expected = &r.events[idx[n]]
			}
			if n < len(got) {
				res.Seen = &got[n]
			}
			return res
		}
		e, g := &r.events[idx[n]], &got[n]
		ok, bank := sameEvent(e.Type, e.Digests, g)
		if ok {
			continue
		}
		if why, ms := r.machineSpecific[idx[n]]; ms && e.Type == g.Type && sameTag(e, g) {
			// What can be checked of it is: its type and, for an
			// EV_EVENT_TAG, its tag (the event data Linux logs).
			res.Unverified = append(res.Unverified, fmt.Sprintf("event %d: %s %s: %s", n, g.Type, g.Description, why))
			res.Status = Unverifiable
			continue
		}
		matched := false
		for _, a := range r.alts[idx[n]] {
			if m, _ := sameEvent(e.Type, a.Digests, g); m {
				res.Chosen = append(res.Chosen, fmt.Sprintf("event %d: %s", n, a.Description))
				matched = true
				break
			}
		}
		if !matched {
			res.Status, res.Index, res.Expected, res.Seen, res.Bank = Differs, n, e, g, bank
			res.Unverified = nil
			return res
		}
	}
	return res
}

// sameTag reports whether two EV_EVENT_TAG events have the same tag (their
// descriptions start "tag 0x..." as eventlog.Parse and eventlog.LinuxEvents
// write them); other events have no tag and agree.
func sameTag(e, g *eventlog.Event) bool {
	if e.Type != eventlog.EvEventTag {
		return true
	}
	tag := func(d string) string {
		f := strings.Fields(d)
		if len(f) < 2 || f[0] != "tag" {
			return ""
		}
		return f[1]
	}
	return tag(e.Description) != "" && tag(e.Description) == tag(g.Description)
}

// sameEvent reports whether g has type t and, in every bank both have (at
// least one), the digest of ds; bank names the first that differs.
func sameEvent(t eventlog.EventType, ds []pcr.Value, g *eventlog.Event) (bool, string) {
	if t != g.Type {
		return false, ""
	}
	common := 0
	for _, v := range ds {
		d, ok := g.Digest(v.Bank)
		if !ok {
			continue
		}
		common++
		if !bytes.Equal(d, v.Digest) {
			return false, v.Bank.Name
		}
	}
	return common > 0, ""
}

// LogError is an event log that cannot be read or replayed.
type LogError struct{ Err error }

func (e *LogError) Error() string { return "event log: " + e.Err.Error() }
func (e *LogError) Unwrap() error { return e.Err }

// LogBanks returns the banks of the event log's digests, in the order
// they first appear: the banks a prediction to compare with it needs.
func LogBanks(log []byte) ([]pcr.Bank, error) {
	seen, err := eventlog.Parse(log)
	if err != nil {
		return nil, err
	}
	var banks []pcr.Bank
	for _, ev := range seen {
		for _, v := range ev.Digests {
			if !slices.ContainsFunc(banks, func(b pcr.Bank) bool { return b.Name == v.Bank.Name }) {
				banks = append(banks, v.Bank)
			}
		}
	}
	return banks, nil
}
