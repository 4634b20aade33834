package attest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ukibuild/ukibuild/pcr"
)

// WriteText writes the reference for a reader: for each predicted PCR,
// its events in the order they extend it ("PCR N event K: TYPE
// DESCRIPTION", then a line per bank's digest, whether the event is
// machine-specific and its alternatives), then the PCR's values, a line
// "PCR:BANK=HEX" each (the form quote.ParseValues reads; a PCR with
// alternatives has several, one with a machine-specific event a line
// saying it cannot be predicted offline). The form is for people; the
// JSON form (MarshalJSON) is for programs.
func (r *Reference) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	for _, i := range r.PCRs {
		n := 0
		for k, ev := range r.events {
			if ev.PCR != i {
				continue
			}
			fmt.Fprintf(bw, "PCR %d event %d: %s %s\n", i, n, ev.Type, ev.Description)
			writeDigests(bw, ev.Digests)
			if why, ok := r.MachineSpecific(k); ok {
				fmt.Fprintf(bw, "  machine-specific (the digests are a boot's without it): %s\n", why)
			}
			for _, a := range r.alts[k] {
				fmt.Fprintf(bw, "  or %s\n", a.Description)
				writeDigests(bw, a.Digests)
			}
			n++
		}
		for _, b := range r.Banks {
			vs, err := r.Values(i, b)
			var ms *MachineSpecificError
			if errors.As(err, &ms) {
				fmt.Fprintf(bw, "%d:%s cannot be predicted offline (a machine-specific event)\n", i, b.Name)
				continue
			}
			if err != nil {
				return err
			}
			for _, v := range vs {
				fmt.Fprintf(bw, "%d:%s=%x\n", i, b.Name, v)
			}
		}
	}
	return bw.Flush()
}

// writeDigests writes an event's digests, a bank a line.
func writeDigests(w io.Writer, vs []pcr.Value) {
	for _, v := range vs {
		fmt.Fprintf(w, "    %s %x\n", v.Bank.Name, v.Digest)
	}
}

// WriteSystemdText writes, for each predicted PCR that systemd version
// extends up to the end of phase (PredictSystemd, in the Reference's
// banks), those events ("PCR N systemd event K: TYPE "STRING"" and a line
// per bank's digest) and the PCR's values after them ("PCR N after PHASE:
// BANK=HEX", for each of the PCR's predicted values): what the TPM holds
// once systemd has reached the end of that phase. PCRs no event extends
// are left out. Nothing is written when a value cannot be computed (an
// unexamined systemd version or an unknown phase word, ErrSystemdVersion;
// a PCR with a machine-specific event).
func (r *Reference) WriteSystemdText(w io.Writer, version string, phase pcr.Phase) error {
	events, err := PredictSystemd(version, phase, r.Banks)
	if err != nil {
		return err
	}
	var lines []string
	for _, i := range r.PCRs {
		n := 0
		for _, ev := range events {
			if ev.PCR != i {
				continue
			}
			if n == 0 {
				lines = append(lines, fmt.Sprintf("PCR %d after phase %s (systemd %s):\n", i, phase, version))
			}
			lines = append(lines, fmt.Sprintf("PCR %d systemd event %d: %s %q\n", i, n, ev.Type, ev.String))
			for _, d := range ev.Digests {
				lines = append(lines, fmt.Sprintf("    %s %x\n", d.Bank.Name, d.Digest))
			}
			n++
		}
		if n == 0 {
			continue
		}
		for _, b := range r.Banks {
			vs, err := r.Values(i, b)
			if err != nil {
				return err
			}
			for _, v := range vs {
				after, err := ExtendSystemd(v, i, b, events)
				if err != nil {
					return err
				}
				lines = append(lines, fmt.Sprintf("PCR %d after %s: %s=%x\n", i, phase, b.Name, after))
			}
		}
	}
	bw := bufio.NewWriter(w)
	for _, l := range lines {
		bw.WriteString(l)
	}
	return bw.Flush()
}

// WriteText says what the quote attests, naming its file (quote) and the
// attestation key's (ak): that the log replays, or not, to its PCR digest
// over its selection ("sha256:4,7,9"), then a line per PCR asked about
// that the quote does not cover. A nil QuoteResult (no quote) writes
// nothing.
func (q *QuoteResult) WriteText(w io.Writer, quote, ak string) error {
	if q == nil {
		return nil
	}
	bw := bufio.NewWriter(w)
	sel := make([]string, len(q.Selection))
	for i, s := range q.Selection {
		sel[i] = s.String()
	}
	if q.Replays {
		fmt.Fprintf(bw, "quote %s: signed by %s, nonce matches, the log replays to its PCR digest over %s\n", quote, ak, strings.Join(sel, " "))
	} else {
		fmt.Fprintf(bw, "quote %s: signed by %s, nonce matches, but the log does not replay to its PCR digest over %s\n", quote, ak, strings.Join(sel, " "))
	}
	for _, n := range q.NotQuoted {
		fmt.Fprintf(bw, "PCR %d: not in the quote, so its events are not attested by it\n", n)
	}
	return bw.Flush()
}

// WriteText writes the report for a reader, a result a line (a differing
// PCR takes three): what the quote attests (QuoteResult.WriteText, naming
// the quote's file and the attestation key's), the TPM's values against
// the log's replay, each PCR's result, and each record of systemd's log.
// (Report.String gives the same results in a shorter form.)
func (r *Report) WriteText(w io.Writer, quote, ak string) error {
	if r.Quote != nil {
		if err := r.Quote.WriteText(w, quote, ak); err != nil {
			return err
		}
	}
	bw := bufio.NewWriter(w)
	for _, v := range r.Values {
		fmt.Fprintln(bw, v)
	}
	for _, p := range r.PCRs {
		fmt.Fprintln(bw, p)
	}
	for _, s := range r.Systemd {
		fmt.Fprintln(bw, s)
	}
	return bw.Flush()
}
