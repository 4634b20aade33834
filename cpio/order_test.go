package cpio

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// pySortNames sorts NUL-separated names (sys.stdin) as Path objects and
// prints them NUL-separated: Python's order of the names of one directory.
const pySortNames = `import os, sys
from pathlib import PurePosixPath
names = [os.fsdecode(n) for n in sys.stdin.buffer.read().split(b"\0")]
out = sorted(PurePosixPath(n) for n in names)
sys.stdout.buffer.write(b"\0".join(os.fsencode(p) for p in out))
`

// TestNameOrderMatchesPython sorts random names made of bytes that matter
// for the order (ASCII, UTF-8 lead and continuation bytes, bytes never
// valid in UTF-8, encoded surrogates) with pyCompare and with Python.
func TestNameOrderMatchesPython(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	pieces := []string{"a", "b", "-", ".", " ", "\n", "\x01", "\x7f", "é", "\u0800", "\ud7ff", "\ue000", "\uffff", "😀", "\U0010ffff",
		"\x80", "\xbf", "\xc0", "\xc1", "\xc2", "\xdf", "\xe0", "\xed", "\xee", "\xef", "\xf0", "\xf4", "\xf5", "\xff",
		"\xed\xa0\x80", "\xed\xbf\xbf", "\xe0\xa0", "\xf0\x90", "\xef\xbf\xbd"}
	seen := map[string]bool{}
	var names []string
	for len(names) < 4000 {
		var sb strings.Builder
		for range 1 + rng.IntN(5) {
			sb.WriteString(pieces[rng.IntN(len(pieces))])
		}
		n := sb.String()
		if n == "." || n == ".." || seen[n] {
			continue
		}
		seen[n] = true
		names = append(names, n)
	}
	want := strings.Split(string(python(t, pySortNames, []byte(strings.Join(names, "\x00")))), "\x00")
	got := slices.Clone(names)
	slices.SortFunc(got, pyCompare)
	if !slices.Equal(got, want) {
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("position %d: %q, Python has %q", i, got[i], want[i])
			}
		}
		t.Fatalf("%d names sorted, Python gave %d", len(got), len(want))
	}
	// Byte order would not do.
	byBytes := slices.Clone(names)
	slices.Sort(byBytes)
	if slices.Equal(byBytes, want) {
		t.Error("the names sort the same by bytes: the test does not tell the orders apart")
	}
}

// FuzzNameOrder checks that pyCompare is a total order consistent with
// equality and with the decoded code points compared as a slice.
func FuzzNameOrder(f *testing.F) {
	f.Add("a-b", "a.b")
	f.Add("\x80", "é")
	f.Add("\xed\xa0\x80", "\ud7ff")
	f.Fuzz(func(t *testing.T, a, b string) {
		c := pyCompare(a, b)
		if c != -pyCompare(b, a) {
			t.Fatalf("pyCompare(%q, %q) = %d but reversed %d", a, b, c, pyCompare(b, a))
		}
		if (c == 0) != (a == b) {
			t.Fatalf("pyCompare(%q, %q) = %d", a, b, c)
		}
		if want := slices.Compare(codePoints(a), codePoints(b)); c != want {
			t.Fatalf("pyCompare(%q, %q) = %d, code points compare %d", a, b, c, want)
		}
	})
}

// codePoints decodes s as os.fsdecode does, the slow way: the shortest
// valid UTF-8 prefix at each position is one code point; a byte that starts
// none is U+DC00 plus the byte.
func codePoints(s string) []rune {
	var out []rune
	for i := 0; i < len(s); {
		n := 0
		for l := 1; l <= utf8.UTFMax && i+l <= len(s); l++ {
			if utf8.ValidString(s[i : i+l]) {
				n = l
				break
			}
		}
		if n == 0 {
			out = append(out, 0xdc00+rune(s[i]))
			i++
			continue
		}
		out = append(out, []rune(s[i:i+n])...)
		i += n
	}
	return out
}

// pyEpoch prints, for each NUL-separated value on stdin, what mkosi makes
// of it as SOURCE_DATE_EPOCH (config_parse_source_date_epoch): the number,
// "none" or "error".
const pyEpoch = `import os, sys
out = []
for v in sys.stdin.buffer.read().split(b"\0"):
    v = os.fsdecode(v)
    if not v:
        out.append("none"); continue
    try:
        n = int(v)
    except ValueError:
        out.append("error"); continue
    out.append("error" if n < 0 else str(n))
sys.stdout.write("\n".join(out))
`

// TestParseSourceDateEpochMatchesMkosi compares ParseSourceDateEpoch with
// mkosi's parsing of the value, run by Python.
func TestParseSourceDateEpochMatchesMkosi(t *testing.T) {
	values := []string{"", "0", "1700000000", "007", "+5", "-0", "-1", " 12 ", "\t12\n", "\u00a012", "\u300012", "\x8512",
		"\x1c12", "12\x1f", "1_000", "1__0", "_1", "1_", "0x10", "1e3", "1.0", "12a", "abc", " ", "+", "-", "+-1",
		"9223372036854775807", "\xff", "12\u200b"}
	want := strings.Split(string(python(t, pyEpoch, []byte(strings.Join(values, "\x00")))), "\n")
	if len(want) != len(values) {
		t.Fatalf("python printed %d answers for %d values", len(want), len(values))
	}
	for i, v := range values {
		tm, err := ParseSourceDateEpoch(v)
		var got string
		switch {
		case err != nil:
			got = "error"
		case tm.IsZero():
			got = "none"
		default:
			got = strconv.FormatInt(tm.Unix(), 10)
		}
		if got != want[i] {
			t.Errorf("ParseSourceDateEpoch(%q) = %s (%v), mkosi: %s", v, got, err, want[i])
		}
	}
	// Python's int() takes other scripts' digits; ParseSourceDateEpoch
	// does not (documented).
	if _, err := ParseSourceDateEpoch("\u0661\u0662"); err == nil {
		t.Error("Arabic-Indic digits were accepted")
	}
	if got := python(t, pyEpoch, []byte("\u0661\u0662")); !bytes.Equal(got, []byte("12")) {
		t.Errorf("python's int() of Arabic-Indic 12: %q", got)
	}
}
