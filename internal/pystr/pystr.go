// Package pystr reproduces the exact semantics of a few Python 3.11 str
// methods (and textwrap.indent) that ukify relies on, so that ukibuild can
// produce byte-identical output.
//
// Go's standard library differs from Python in small but observable ways:
// strings.Fields and unicode.IsSpace do not treat U+001C..U+001F as
// whitespace, and bufio.ScanLines knows only "\n" and "\r\n", whereas Python's
// str.splitlines also breaks at "\r", "\v", "\f", U+001C..U+001E, U+0085,
// U+2028 and U+2029. The functions here follow Python exactly.
//
// All functions take and return Go strings, which are expected to hold valid
// UTF-8 (the equivalent of a Python str). Invalid UTF-8 is tolerated, never
// panics and is passed through unchanged: an invalid byte is never treated as
// whitespace or as a line boundary. (Python has no equivalent: such bytes
// cannot occur in a str, except as surrogateescape code points, which are not
// whitespace or line boundaries either.)
package pystr

import (
	"strings"
	"unicode/utf8"
)

// IsSpace reports whether r is whitespace according to Python's str.isspace
// (a character whose bidirectional class is WS, B or S, or whose general
// category is Zs). This is also the set used by str.strip, str.rstrip and
// str.split when called without arguments.
//
// Unlike unicode.IsSpace it includes U+001C..U+001F (the ASCII information
// separators) and excludes nothing else.
func IsSpace(r rune) bool {
	switch {
	case r <= 0x7f:
		return r == ' ' || ('\t' <= r && r <= '\r') || (0x1c <= r && r <= 0x1f)
	case r == 0x85, r == 0xa0, r == 0x1680:
		return true
	case 0x2000 <= r && r <= 0x200a:
		return true
	case r == 0x2028, r == 0x2029, r == 0x202f, r == 0x205f, r == 0x3000:
		return true
	}
	return false
}

// isLineBreak reports whether r ends a line for str.splitlines.
func isLineBreak(r rune) bool {
	switch r {
	case '\n', '\r', '\v', '\f', 0x1c, 0x1d, 0x1e, 0x85, 0x2028, 0x2029:
		return true
	}
	return false
}

// decode returns the rune at the start of s and its width. Invalid UTF-8
// yields utf8.RuneError, which is neither whitespace nor a line break.
func decode(s string) (rune, int) {
	if s[0] < utf8.RuneSelf {
		return rune(s[0]), 1
	}
	return utf8.DecodeRuneInString(s)
}

// decodeLast is like decode for the last rune of s.
func decodeLast(s string) (rune, int) {
	if c := s[len(s)-1]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeLastRuneInString(s)
}

// splitLines implements str.splitlines for both values of keepends.
func splitLines(s string, keepEnds bool) []string {
	lines := []string{}
	start := 0
	for i := 0; i < len(s); {
		r, w := decode(s[i:])
		if !isLineBreak(r) {
			i += w
			continue
		}
		end := i + w
		if r == '\r' && end < len(s) && s[end] == '\n' {
			end++
		}
		if keepEnds {
			lines = append(lines, s[start:end])
		} else {
			lines = append(lines, s[start:i])
		}
		start, i = end, end
	}
	if start < len(s) {
		lines = append(lines, s[start:])
	}
	return lines
}

// SplitLines returns the lines of s like Python's s.splitlines(): the line
// boundaries "\n", "\r", "\r\n", "\v", "\f", "\x1c", "\x1d", "\x1e", U+0085,
// U+2028 and U+2029 are removed; a boundary at the very end of s does not
// produce a trailing empty line. SplitLines("") returns an empty, non-nil
// slice.
func SplitLines(s string) []string {
	return splitLines(s, false)
}

// SplitLinesKeepEnds is Python's s.splitlines(keepends=True): like
// SplitLines, but every line keeps its boundary, so that
// strings.Join(SplitLinesKeepEnds(s), "") == s.
func SplitLinesKeepEnds(s string) []string {
	return splitLines(s, true)
}

// RStrip is Python's s.rstrip(): it removes trailing whitespace as defined by
// IsSpace.
func RStrip(s string) string {
	for len(s) > 0 {
		r, w := decodeLast(s)
		if !IsSpace(r) {
			break
		}
		s = s[:len(s)-w]
	}
	return s
}

// LStrip is Python's s.lstrip(): it removes leading whitespace as defined by
// IsSpace.
func LStrip(s string) string {
	for len(s) > 0 {
		r, w := decode(s)
		if !IsSpace(r) {
			break
		}
		s = s[w:]
	}
	return s
}

// Strip is Python's s.strip(): it removes leading and trailing whitespace as
// defined by IsSpace.
func Strip(s string) string {
	return LStrip(RStrip(s))
}

// Fields is Python's s.split() without arguments: it splits s around runs of
// whitespace (as defined by IsSpace) and drops leading and trailing
// whitespace, so it never returns empty strings. A string that is empty or all
// whitespace yields an empty, non-nil slice.
func Fields(s string) []string {
	fields := []string{}
	start := -1
	for i := 0; i < len(s); {
		r, w := decode(s[i:])
		if IsSpace(r) {
			if start >= 0 {
				fields = append(fields, s[start:i])
				start = -1
			}
		} else if start < 0 {
			start = i
		}
		i += w
	}
	if start >= 0 {
		fields = append(fields, s[start:])
	}
	return fields
}

// Indent is Python 3.11's textwrap.indent(text, prefix) with the default
// predicate: prefix is added to the beginning of every line of text (as split
// by SplitLinesKeepEnds) that does not consist solely of whitespace.
func Indent(text, prefix string) string {
	var b strings.Builder
	b.Grow(len(text))
	for _, line := range SplitLinesKeepEnds(text) {
		if Strip(line) != "" {
			b.WriteString(prefix)
		}
		b.WriteString(line)
	}
	return b.String()
}
