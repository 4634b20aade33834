package sbat

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/ukibuild/ukibuild/internal/pystr"
)

// PESection is the contents of one .sbat section of an input PE file.
type PESection struct {
	// Source names where the section came from (usually the PE file's
	// path); it is used in warnings and errors.
	Source string
	// Data is the section's raw data as stored in the file (SizeOfRawData
	// bytes, as pefile's Section.get_data() returns it). Trailing NUL bytes
	// are ignored.
	Data []byte
}

// TextError reports an invalid user-supplied SBAT text (a --sbat argument).
type TextError struct {
	// Index is the 0-based position of the text in the userTexts argument
	// of MergeTexts.
	Index int
	// Err is the reason, usually a *SyntaxError.
	Err error
}

// Error names the --sbat argument (1-based) and the reason.
func (e *TextError) Error() string {
	return fmt.Sprintf("--sbat argument %d: invalid SBAT text: %v", e.Index+1, e.Err)
}

// Unwrap returns e.Err.
func (e *TextError) Unwrap() error { return e.Err }

// MergeTexts builds the contents of the .sbat section of a UKI or addon the
// way ukify 262.1's merge_sbat does, and returns it as text (to be stored in
// the section as its UTF-8 bytes).
//
// sections holds the .sbat sections of the input PE files in ukify's order:
// for a UKI, those of the stub and then those of the kernel; for an addon,
// none. A PE file without a .sbat section contributes nothing; a PE file with
// several contributes each, in section-table order. userTexts holds the SBAT
// texts given with --sbat (ukify's "@file" form must already be replaced by
// the file's contents); when none is given ukify uses DefaultUKI for a UKI and
// DefaultAddon for an addon, and so must the caller. warn, if not nil,
// receives warnings; MergeTexts never prints.
//
// The result is Header, then the lines of every section and of every user
// text except their first line, each followed by "\n". Like ukify, a
// section's data has its trailing NUL bytes removed, is decoded as UTF-8 and
// split with Python's str.splitlines (see pystr.SplitLines); a section whose
// first line does not start with "sbat," is skipped with a warning. The
// remaining lines are copied verbatim, even when they break the SBAT rules
// (they come from vendors; a warning is emitted), so the output matches
// ukify's byte for byte whenever ukify succeeds and the user texts are
// valid.
//
// Deliberate differences from ukify:
//
//   - A user text is validated with Parse; if that fails, MergeTexts returns
//     a *TextError (ukify would skip a text whose first line does not start
//     with "sbat," and copy any other text unchecked). A user text must also
//     start with the sbat record on its very first line (ukify skips it
//     otherwise) and must not contain NUL bytes (ukify would copy them into
//     the section, where shim stops reading at the first NUL).
//   - An empty section (empty or only NUL bytes) is skipped with a warning;
//     ukify crashes on it with an IndexError.
//   - A section that is not valid UTF-8 is an error; ukify crashes on it
//     with a UnicodeDecodeError.
func MergeTexts(sections []PESection, userTexts []string, warn func(format string, args ...any)) (string, error) {
	if warn == nil {
		warn = func(string, ...any) {}
	}

	// Validate the user texts first, so that nothing is reported for a call
	// that fails.
	userLines := make([][]string, len(userTexts))
	for i, t := range userTexts {
		lines, err := userTextLines(t)
		if err != nil {
			return "", &TextError{Index: i, Err: err}
		}
		userLines[i] = lines
	}

	var b strings.Builder
	b.WriteString(Header)
	b.WriteByte('\n')
	add := func(lines []string) {
		for _, l := range lines {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}

	for i, s := range sections {
		name := s.Source
		if name == "" {
			name = fmt.Sprintf("input PE %d", i+1)
		}
		data := bytes.TrimRight(s.Data, "\x00")
		if len(data) == 0 {
			warn("%s has an empty SBAT section, skipping.", name)
			continue
		}
		if !utf8.Valid(data) {
			return "", fmt.Errorf("sbat: %s: .sbat section is not valid UTF-8 (at byte offset %d)", name, invalidUTF8Offset(data))
		}
		lines := pystr.SplitLines(string(data))
		if !strings.HasPrefix(lines[0], "sbat,") {
			warn("%s does not contain a valid SBAT section, skipping.", name)
			continue
		}
		if _, err := Parse(s.Data); err != nil {
			warn("%s: .sbat section breaks the SBAT rules (merged unchanged): %v", name, err)
		}
		add(lines[1:])
	}
	for _, lines := range userLines {
		add(lines[1:])
	}
	return b.String(), nil
}

// userTextLines validates one user-supplied SBAT text and returns its lines as
// ukify splits them.
func userTextLines(t string) ([]string, error) {
	if i := strings.IndexByte(t, 0); i >= 0 {
		return nil, &SyntaxError{Rule: fmt.Sprintf("NUL byte at offset %d: a SBAT text must not contain NUL bytes", i)}
	}
	if _, err := Parse([]byte(t)); err != nil {
		return nil, err
	}
	// Parse ignores empty lines, ukify requires the sbat record on the
	// first line. Parse succeeded, so the text has at least one line.
	lines := pystr.SplitLines(t)
	if !strings.HasPrefix(lines[0], "sbat,") {
		return nil, &SyntaxError{Line: 1, Record: lines[0], Rule: "the sbat record must be on the first line (empty lines may not precede it)"}
	}
	return lines, nil
}

// invalidUTF8Offset returns the offset of the first byte of data that does
// not start a valid UTF-8 sequence.
func invalidUTF8Offset(data []byte) int {
	for i := 0; i < len(data); {
		r, w := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && w == 1 {
			return i
		}
		i += w
	}
	return len(data)
}
