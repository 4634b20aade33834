package pcr

import (
	"encoding/hex"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/ukibuild/ukibuild/internal/pyjson"
	"github.com/ukibuild/ukibuild/internal/sdjson"
)

// kernelBootPCR is TPM2_PCR_KERNEL_BOOT, the PCR the stub measures into.
const kernelBootPCR = 11

// FormatCalculate writes what "systemd-measure calculate --json=MODE" writes
// for preds, byte for byte as systemd-measure 262.1 does when its output is
// not a terminal (no colors, no pager). MeasureJSONOff, calculate's default,
// is its text format.
//
// Text mode: for each prediction, the line "# PCR[11] Phase <PHASE>" (":"
// for the empty phase) goes to comments (systemd-measure writes it to
// stderr; nil drops it), then one line "11:BANK=HEX" per bank to w. When
// comments and w are the same writer, the lines interleave as on a terminal.
// Phases are written as they are, whatever bytes they hold.
//
// JSON modes: one object with a key per bank (lower case), each an array
// with one {"phase":...,"pcr":11,"hash":HEX} per prediction, "phase" left
// out for the empty phase; short is one line, pretty is systemd's sd_json
// layout (tab indentation, " : " between key and value); both end with a
// newline. A phase that is not valid UTF-8 (by systemd's rule, which also
// refuses the noncharacters U+FDD0..U+FDEF and U+xFFFE/U+xFFFF) is an error
// and nothing is written, as systemd-measure fails then ("Structure needs
// cleaning"). No predictions write nothing in any mode.
//
// systemd-measure 252, 254 and 257 write the same format (the same
// statements in src/boot/measure.c, v252 and v254, and src/measure/measure.c,
// v257, with the same JSON formatter in src/shared/json.c and
// src/libsystemd/sd-json/sd-json.c).
func FormatCalculate(w, comments io.Writer, preds []Prediction, mode MeasureJSON) error {
	switch mode {
	case MeasureJSONOff:
		return formatText(w, comments, preds)
	case MeasureJSONShort, MeasureJSONPretty:
		return formatJSON(w, preds, mode == MeasureJSONPretty)
	}
	return fmt.Errorf("format calculate: unknown JSON mode %d", int(mode))
}

func formatText(w, comments io.Writer, preds []Prediction) error {
	for _, p := range preds {
		if comments != nil {
			if _, err := fmt.Fprintf(comments, "# PCR[%d] Phase <%s>\n", kernelBootPCR, p.Phase.String()); err != nil {
				return fmt.Errorf("format calculate: %w", err)
			}
		}
		for _, v := range p.Values {
			if _, err := fmt.Fprintf(w, "%d:%s=%s\n", kernelBootPCR, v.Bank.Name, hex.EncodeToString(v.Digest)); err != nil {
				return fmt.Errorf("format calculate: %w", err)
			}
		}
	}
	return nil
}

func formatJSON(w io.Writer, preds []Prediction, pretty bool) error {
	for _, p := range preds {
		if !validSystemdUTF8(string(p.Phase)) {
			return fmt.Errorf("format calculate: phase %q is not valid UTF-8, which JSON output needs", string(p.Phase))
		}
	}
	if len(preds) == 0 {
		return nil
	}
	// systemd-measure appends each bank's entry and then re-sets the bank's
	// key with sd_json_variant_set_field, which moves the key to the end of
	// the object: the last prediction's bank order is the key order.
	obj := pyjson.NewObject()
	for _, p := range preds {
		for _, v := range p.Values {
			entry := pyjson.NewObject()
			if p.Phase != "" {
				entry.Set("phase", string(p.Phase))
			}
			entry.Set("pcr", kernelBootPCR)
			entry.Set("hash", hex.EncodeToString(v.Digest))
			list, _ := obj.Get(v.Bank.Name)
			entries, _ := list.([]any)
			obj.Delete(v.Bank.Name)
			obj.Set(v.Bank.Name, append(entries, entry))
		}
	}
	style := MeasureJSONShort
	if pretty {
		style = MeasureJSONPretty
	}
	b, err := formatMeasureJSON(obj, style)
	if err != nil {
		return fmt.Errorf("format calculate: %w", err)
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("format calculate: %w", err)
	}
	return nil
}

// validSystemdUTF8 applies systemd's utf8_is_valid_n (src/basic/utf8.c):
// well-formed UTF-8 without surrogates or code points past U+10FFFF (as Go
// checks), no NUL, and none of the noncharacters unichar_is_valid refuses.
func validSystemdUTF8(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r == 0 || (r >= 0xFDD0 && r <= 0xFDEF) || r&0xFFFE == 0xFFFE {
			return false
		}
	}
	return true
}

// MeasureJSON is an output format of systemd-measure's --json= option.
type MeasureJSON int

const (
	// MeasureJSONShort is --json=short, also systemd-measure's default when
	// its output is not a terminal: everything on one line, no spaces,
	// followed by "\n".
	MeasureJSONShort MeasureJSON = iota
	// MeasureJSONPretty is --json=pretty, the default on a terminal: one
	// member or element per line, indented with tabs, keys separated from
	// values by " : ", followed by "\n".
	MeasureJSONPretty
	// MeasureJSONOff is --json=off: sign and policy-digest still print JSON,
	// on one line like short but without the final newline (calculate
	// prints its text format instead, see FormatCalculate).
	MeasureJSONOff
)

// formatMeasureJSON formats v the way systemd's sd_json_variant_dump does in
// style: strings keep non-ASCII characters and DEL as they are and escape
// only '"', '\\' and control characters (\b \f \n \r \t, others as \u00XX);
// integers are printed in decimal, floating point numbers with printf's
// "%.21e" (zero as 0.000000000000000000000e+00, NaN and infinities as
// null). v may hold the values pyjson uses: nil, bool, integers, *big.Int
// within 64 bits, float64, string, slices and *pyjson.Object.
func formatMeasureJSON(v any, style MeasureJSON) ([]byte, error) {
	sv, err := sdjson.FromAny(v, 0)
	if err != nil {
		return nil, err
	}
	return dumpSD(sv, style), nil
}

func dumpSD(v *sdjson.Value, style MeasureJSON) []byte {
	return sdjson.Dump(v, style == MeasureJSONPretty, style != MeasureJSONOff)
}
