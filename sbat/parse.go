package sbat

import (
	"bytes"
	"fmt"
	"strconv"
)

// SyntaxError reports SBAT data that breaks one of the rules checked by
// Parse. Callers usually wrap it with the name of the file the data came
// from.
type SyntaxError struct {
	// Line is the 1-based number of the offending line, counting "\n",
	// "\r\n" and "\r" as line terminators, or 0 if the error concerns the
	// data as a whole.
	Line int
	// Record is the text of the offending line (without its terminator);
	// empty if Line is 0.
	Record string
	// Rule describes the rule that was broken.
	Rule string
}

// Error formats the error as `line N "record text": rule`, or just the rule
// when no single line is at fault. The record is quoted with Go's ASCII-only
// quoting (%+q), so non-ASCII and control bytes are visible as escapes.
func (e *SyntaxError) Error() string {
	if e.Line == 0 {
		return e.Rule
	}
	return fmt.Sprintf("line %d %+q: %s", e.Line, e.Record, e.Rule)
}

// Parse parses and strictly validates SBAT data, such as the contents of a
// .sbat section or a user-supplied SBAT CSV file, and returns its records in
// order. Any violation is reported as a *SyntaxError.
//
// The rules follow shim's reader (parse_sbat_section and parse_csv_data),
// and are stricter where shim silently accepts something that is almost
// certainly a mistake:
//
//   - The data ends at the first NUL byte; anything after it must be NUL
//     padding as well (shim stops reading at the first NUL, so anything else
//     would be silently ignored).
//   - The data must be printable ASCII (0x20..0x7e) apart from line
//     terminators. SBAT.md specifies ASCII. Shim also skips a leading UTF-8
//     byte order mark and passes tabs and other control characters through;
//     Parse rejects them, since a stray invisible byte in a component name
//     makes revocation silently fail to match.
//   - Records are separated by "\n", "\r\n" or a lone "\r": shim treats any
//     run of CR and LF bytes as one separator, and Python's str.splitlines
//     (used by ukify) also breaks lines at each of them. A final terminator
//     is optional.
//   - Empty lines are ignored, as shim skips them.
//   - Every record has exactly six comma-separated fields, none empty. Shim
//     rejects fewer fields and empty fields, but silently drops a seventh and
//     later fields; Parse rejects them, since SBAT has no quoting and an extra
//     comma means a field was cut in two. Fields are taken verbatim: spaces
//     are significant and are not trimmed, exactly as in shim.
//   - The generation (second field) is a decimal integer in 1..65535 made
//     only of the digits 0-9: no sign, no spaces, no hexadecimal. Shim reads
//     it with atoi into a 16-bit integer, so larger values would wrap and
//     unparsable ones would count as 0. Leading zeros are accepted because
//     shim's atoi reads "01" as 1; Format writes such a generation without
//     them.
//   - The first record is the "sbat" record (component name "sbat"; see
//     Header) and no later record is named "sbat". Data with no records at
//     all is therefore an error.
func Parse(data []byte) ([]Record, error) {
	if i := bytes.IndexByte(data, 0); i >= 0 {
		for j := i + 1; j < len(data); j++ {
			if data[j] != 0 {
				return nil, &SyntaxError{Rule: fmt.Sprintf(
					"trailing garbage after the first NUL byte (offset %d): byte 0x%02x at offset %d, only NUL padding may follow",
					i, data[j], j)}
			}
		}
		data = data[:i]
	}

	var records []Record
	lineNo := 0
	for len(data) > 0 {
		// Split off one line; "\r\n", "\r" and "\n" all end a line.
		end := bytes.IndexAny(data, "\r\n")
		var line []byte
		if end < 0 {
			line, data = data, nil
		} else {
			line = data[:end]
			next := end + 1
			if data[end] == '\r' && next < len(data) && data[next] == '\n' {
				next++
			}
			data = data[next:]
		}
		lineNo++
		if len(line) == 0 {
			continue
		}
		r, rule := parseRecord(line)
		if rule == "" {
			switch {
			case len(records) == 0 && r.Component != "sbat":
				rule = fmt.Sprintf("the first record must be the sbat record (%q), got component_name %q", Header, r.Component)
			case len(records) > 0 && r.Component == "sbat":
				rule = `only the first record may have component_name "sbat"`
			}
		}
		if rule != "" {
			return nil, &SyntaxError{Line: lineNo, Record: string(line), Rule: rule}
		}
		records = append(records, r)
	}
	if len(records) == 0 {
		return nil, &SyntaxError{Rule: fmt.Sprintf("no records: the first record must be the sbat record (%q)", Header)}
	}
	return records, nil
}

// parseRecord parses one non-empty line holding no line terminator or NUL.
// It returns the record, or a description of the rule the line breaks.
func parseRecord(line []byte) (Record, string) {
	for i, c := range line {
		switch {
		case c >= 0x80:
			return Record{}, fmt.Sprintf("non-ASCII byte 0x%02x at column %d: SBAT data must be ASCII", c, i+1)
		case c < 0x20 || c == 0x7f:
			return Record{}, fmt.Sprintf("control character 0x%02x at column %d: SBAT fields must be printable ASCII", c, i+1)
		}
	}
	fields := bytes.Split(line, []byte(","))
	if len(fields) != numFields {
		return Record{}, fmt.Sprintf("has %d fields, want %d (%s)", len(fields), numFields, fieldList)
	}
	for i, f := range fields {
		if len(f) == 0 {
			return Record{}, fmt.Sprintf("field %d (%s) is empty", i+1, fieldName(i))
		}
	}
	gen, ok := parseGeneration(fields[1])
	if !ok {
		return Record{}, fmt.Sprintf("generation %q is not an integer in 1..%d", fields[1], MaxGeneration)
	}
	return Record{
		Component:     string(fields[0]),
		Generation:    gen,
		VendorName:    string(fields[2]),
		VendorPackage: string(fields[3]),
		VendorVersion: string(fields[4]),
		VendorURL:     string(fields[5]),
	}, ""
}

// parseGeneration parses a string of decimal digits (leading zeros allowed)
// holding a value in 1..MaxGeneration.
func parseGeneration(s []byte) (int, bool) {
	if len(s) == 0 {
		return 0, false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	s = bytes.TrimLeft(s, "0")
	if len(s) == 0 || len(s) > len(strconv.Itoa(MaxGeneration)) {
		return 0, false
	}
	n, err := strconv.Atoi(string(s))
	if err != nil || n > MaxGeneration {
		return 0, false
	}
	return n, true
}
