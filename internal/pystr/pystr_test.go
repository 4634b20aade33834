package pystr

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// The expected values in this file were produced by CPython 3.11.2
// (/usr/bin/python3); each row names the Python expression that produced it.

// pythonSpace lists every code point c for which chr(c).isspace() is true:
// [hex(c) for c in range(0x110000) if chr(c).isspace()]
// The same list results from using str.strip() and str.split() as the test.
var pythonSpace = []rune{
	0x9, 0xa, 0xb, 0xc, 0xd, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0,
	0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007,
	0x2008, 0x2009, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
}

// pythonLineBreaks lists every code point c that splits a line:
// [hex(c) for c in range(0x110000) if len(("a"+chr(c)+"b").splitlines()) == 2]
var pythonLineBreaks = []rune{
	0xa, 0xb, 0xc, 0xd, 0x1c, 0x1d, 0x1e, 0x85, 0x2028, 0x2029,
}

func TestIsSpaceAllCodePoints(t *testing.T) {
	want := map[rune]bool{}
	for _, r := range pythonSpace {
		want[r] = true
	}
	for r := rune(0); r <= utf8.MaxRune; r++ {
		if got := IsSpace(r); got != want[r] {
			t.Errorf("IsSpace(%U) = %v, want %v", r, got, want[r])
		}
	}
	if IsSpace(utf8.RuneError) || IsSpace(-1) || IsSpace(utf8.MaxRune+1) {
		t.Error("IsSpace true for RuneError or an out-of-range rune")
	}
}

func TestSplitLinesAllCodePoints(t *testing.T) {
	want := map[rune]bool{}
	for _, r := range pythonLineBreaks {
		want[r] = true
	}
	for r := rune(0); r <= utf8.MaxRune; r++ {
		if 0xd800 <= r && r <= 0xdfff {
			continue // surrogates cannot be encoded in UTF-8
		}
		s := "a" + string(r) + "b"
		got := len(SplitLines(s)) == 2
		if got != want[r] {
			t.Errorf("SplitLines(%q) splits = %v, want %v", s, got, want[r])
		}
	}
}

func TestSplitLines(t *testing.T) {
	tests := []struct {
		in       string
		want     []string
		wantKeep []string
	}{
		{"", []string{}, []string{}},                                       // ''.splitlines(), ''.splitlines(True)
		{"a", []string{"a"}, []string{"a"}},                                // 'a'.splitlines(), 'a'.splitlines(True)
		{"a\n", []string{"a"}, []string{"a\n"}},                            // 'a\n'.splitlines(), 'a\n'.splitlines(True)
		{"a\nb", []string{"a", "b"}, []string{"a\n", "b"}},                 // 'a\nb'.splitlines(), 'a\nb'.splitlines(True)
		{"a\r\nb", []string{"a", "b"}, []string{"a\r\n", "b"}},             // 'a\r\nb'.splitlines(), 'a\r\nb'.splitlines(True)
		{"a\rb", []string{"a", "b"}, []string{"a\r", "b"}},                 // 'a\rb'.splitlines(), 'a\rb'.splitlines(True)
		{"a\r\r\nb", []string{"a", "", "b"}, []string{"a\r", "\r\n", "b"}}, // 'a\r\r\nb'.splitlines(), 'a\r\r\nb'.splitlines(True)
		{"\n", []string{""}, []string{"\n"}},                               // '\n'.splitlines(), '\n'.splitlines(True)
		{"\n\n", []string{"", ""}, []string{"\n", "\n"}},                   // '\n\n'.splitlines(), '\n\n'.splitlines(True)
		{"\r\n\r\n", []string{"", ""}, []string{"\r\n", "\r\n"}},           // '\r\n\r\n'.splitlines(), '\r\n\r\n'.splitlines(True)
		{"a\n\r", []string{"a", ""}, []string{"a\n", "\r"}},                // 'a\n\r'.splitlines(), 'a\n\r'.splitlines(True)
		{"abc\r", []string{"abc"}, []string{"abc\r"}},                      // 'abc\r'.splitlines(), 'abc\r'.splitlines(True)
		{"a\vb\fc\x1cd\x1de\x1ef\x1fg", []string{"a", "b", "c", "d", "e", "f\x1fg"}, []string{"a\v", "b\f", "c\x1c", "d\x1d", "e\x1e", "f\x1fg"}}, // 'a\x0bb\x0cc\x1cd\x1de\x1ef\x1fg'.splitlines(), 'a\x0bb\x0cc\x1cd\x1de\x1ef\x1fg'.splitlines(True)
		{"a\u0085b\u2028c\u2029d", []string{"a", "b", "c", "d"}, []string{"a\u0085", "b\u2028", "c\u2029", "d"}},                                  // 'a\x85b\u2028c\u2029d'.splitlines(), 'a\x85b\u2028c\u2029d'.splitlines(True)
		{"tab\tsep\x00nul", []string{"tab\tsep\x00nul"}, []string{"tab\tsep\x00nul"}},                                                             // 'tab\tsep\x00nul'.splitlines(), 'tab\tsep\x00nul'.splitlines(True)
		{"\n\nx\n\n", []string{"", "", "x", ""}, []string{"\n", "\n", "x\n", "\n"}},                                                               // '\n\nx\n\n'.splitlines(), '\n\nx\n\n'.splitlines(True)
		{"x\r\n", []string{"x"}, []string{"x\r\n"}},                                                                                               // 'x\r\n'.splitlines(), 'x\r\n'.splitlines(True)
		{"\u00e9\u2029", []string{"\u00e9"}, []string{"\u00e9\u2029"}},                                                                            // 'é\u2029'.splitlines(), 'é\u2029'.splitlines(True)
	}
	for _, tt := range tests {
		if got := SplitLines(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("SplitLines(%q) = %q, want %q", tt.in, got, tt.want)
		}
		got := SplitLinesKeepEnds(tt.in)
		if !reflect.DeepEqual(got, tt.wantKeep) {
			t.Errorf("SplitLinesKeepEnds(%q) = %q, want %q", tt.in, got, tt.wantKeep)
		}
		if j := strings.Join(got, ""); j != tt.in {
			t.Errorf("Join(SplitLinesKeepEnds(%q)) = %q", tt.in, j)
		}
	}
}

func TestStrip(t *testing.T) {
	tests := []struct{ in, strip, rstrip, lstrip string }{
		{"", "", "", ""},                                                             // ''.strip(), ''.rstrip(), ''.lstrip()
		{"   ", "", "", ""},                                                          // '   '.strip(), '   '.rstrip(), '   '.lstrip()
		{" \t a b \n", "a b", " \t a b", "a b \n"},                                   // ' \t a b \n'.strip(), ' \t a b \n'.rstrip(), ' \t a b \n'.lstrip()
		{"\u3000x\u00a0", "x", "\u3000x", "x\u00a0"},                                 // '\u3000x\xa0'.strip(), '\u3000x\xa0'.rstrip(), '\u3000x\xa0'.lstrip()
		{"\x1fx\x1c", "x", "\x1fx", "x\x1c"},                                         // '\x1fx\x1c'.strip(), '\x1fx\x1c'.rstrip(), '\x1fx\x1c'.lstrip()
		{"\u200bx\u200b", "\u200bx\u200b", "\u200bx\u200b", "\u200bx\u200b"},         // '\u200bx\u200b'.strip(), '\u200bx\u200b'.rstrip(), '\u200bx\u200b'.lstrip()
		{"x\u0085", "x", "x", "x\u0085"},                                             // 'x\x85'.strip(), 'x\x85'.rstrip(), 'x\x85'.lstrip()
		{"\u2000\u200ax y\u202f\u205f", "x y", "\u2000\u200ax y", "x y\u202f\u205f"}, // '\u2000\u200ax y\u202f\u205f'.strip(), '\u2000\u200ax y\u202f\u205f'.rstrip(), '\u2000\u200ax y\u202f\u205f'.lstrip()
		{"\x00 x \x00", "\x00 x \x00", "\x00 x \x00", "\x00 x \x00"},                 // '\x00 x \x00'.strip(), '\x00 x \x00'.rstrip(), '\x00 x \x00'.lstrip()
		{"\u1680\u180ex", "\u180ex", "\u1680\u180ex", "\u180ex"},                     // '\u1680\u180ex'.strip(), '\u1680\u180ex'.rstrip(), '\u1680\u180ex'.lstrip()
	}
	for _, tt := range tests {
		if got := Strip(tt.in); got != tt.strip {
			t.Errorf("Strip(%q) = %q, want %q", tt.in, got, tt.strip)
		}
		if got := RStrip(tt.in); got != tt.rstrip {
			t.Errorf("RStrip(%q) = %q, want %q", tt.in, got, tt.rstrip)
		}
		if got := LStrip(tt.in); got != tt.lstrip {
			t.Errorf("LStrip(%q) = %q, want %q", tt.in, got, tt.lstrip)
		}
	}
}

func TestFields(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", []string{}},      // ''.split()
		{"  \n ", []string{}}, // '  \n '.split()
		{"a", []string{"a"}},  // 'a'.split()
		{" a  b\tc\u2003d ", []string{"a", "b", "c", "d"}}, // ' a  b\tc\u2003d '.split()
		{"\x1ca\x1fb", []string{"a", "b"}},                 // '\x1ca\x1fb'.split()
		{"a\u200bb c", []string{"a\u200bb", "c"}},          // 'a\u200bb c'.split()
		{"x\u3000\u3000y\r\nz", []string{"x", "y", "z"}},   // 'x\u3000\u3000y\r\nz'.split()
	}
	for _, tt := range tests {
		if got := Fields(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Fields(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestIndent(t *testing.T) {
	tests := []struct{ text, prefix, want string }{
		{"", "> ", ""},     // textwrap.indent('', '> ')
		{"x", "> ", "> x"}, // textwrap.indent('x', '> ')
		{"hello\n\n \nworld\n", "  ", "  hello\n\n \n  world\n"}, // textwrap.indent('hello\n\n \nworld\n', '  ')
		{"a\r\nb\rc", "# ", "# a\r\n# b\r# c"},                   // textwrap.indent('a\r\nb\rc', '# ')
		{"  \t\n\u3000\nz", "-", "  \t\n\u3000\n-z"},             // textwrap.indent('  \t\n\u3000\nz', '-')
		{"a\u2028b\x1c\x1c", "> ", "> a\u2028> b\x1c\x1c"},       // textwrap.indent('a\u2028b\x1c\x1c', '> ')
		{"one\ntwo", "", "one\ntwo"},                             // textwrap.indent('one\ntwo', '')
	}
	for _, tt := range tests {
		if got := Indent(tt.text, tt.prefix); got != tt.want {
			t.Errorf("Indent(%q, %q) = %q, want %q", tt.text, tt.prefix, got, tt.want)
		}
	}
}

// TestInvalidUTF8 pins the documented Go-specific behaviour (Python strs
// cannot hold invalid UTF-8, so there is no oracle): invalid bytes are kept
// unchanged and are never whitespace or line boundaries. In particular the
// lone byte 0x85 is not U+0085 (NEXT LINE) and 0xa0 is not U+00A0.
func TestInvalidUTF8(t *testing.T) {
	if got, want := SplitLines("a\x85b\xff\nc\xe2\x80"), []string{"a\x85b\xff", "c\xe2\x80"}; !reflect.DeepEqual(got, want) {
		t.Errorf("SplitLines = %q, want %q", got, want)
	}
	if got, want := SplitLinesKeepEnds("\xff\r\n\xfe"), []string{"\xff\r\n", "\xfe"}; !reflect.DeepEqual(got, want) {
		t.Errorf("SplitLinesKeepEnds = %q, want %q", got, want)
	}
	if got, want := Strip(" \xa0x\x85 "), "\xa0x\x85"; got != want {
		t.Errorf("Strip = %q, want %q", got, want)
	}
	if got, want := RStrip("x\xe3\x80"), "x\xe3\x80"; got != want {
		t.Errorf("RStrip = %q, want %q", got, want)
	}
	if got, want := Fields("a\xa0b \xff"), []string{"a\xa0b", "\xff"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Fields = %q, want %q", got, want)
	}
	if got, want := Indent("\xff\n \n", "> "), "> \xff\n \n"; got != want {
		t.Errorf("Indent = %q, want %q", got, want)
	}
}
