package pcr

import (
	"bytes"
	"crypto/sha256"
	"slices"
	"testing"
)

func TestParsePhase(t *testing.T) {
	for in, want := range map[string]Phase{
		"":                          "",
		":":                         "",
		":::":                       "",
		"enter-initrd":              "enter-initrd",
		"::enter-initrd::ready:":    "enter-initrd:ready",
		`a\:b`:                      `a\:b`, // no escaping: the backslash is a character
		`"a:b"`:                     `"a:b"`,
		" a : b ":                   " a : b ",
		"unknown-word:another-one":  "unknown-word:another-one",
		"\xff:\t":                   "\xff:\t",
		"enter-initrd:leave-initrd": "enter-initrd:leave-initrd",
	} {
		got, err := ParsePhase(in)
		if err != nil || got != want {
			t.Errorf("ParsePhase(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParsePhase("a\x00b"); err == nil {
		t.Error("ParsePhase accepted a NUL byte")
	}
}

func TestParsePhases(t *testing.T) {
	got, err := ParsePhases(nil)
	if err != nil || !slices.Equal(got, DefaultPhases()) {
		t.Errorf("ParsePhases(nil) = %q, %v", got, err)
	}
	got, err = ParsePhases([]string{"b", ":", "a::", "", "b:", "B", "a:b", "\xff", "a"})
	want := []Phase{"", "B", "a", "a:b", "b", "\xff"}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("ParsePhases = %q, %v; want %q", got, err, want)
	}
	if _, err := ParsePhases([]string{"ok", "\x00"}); err == nil {
		t.Error("ParsePhases accepted a NUL byte")
	}
	// The defaults are sorted already, so sorting explicit defaults keeps them.
	var defaults []string
	for _, p := range slices.Backward(DefaultPhases()) {
		defaults = append(defaults, string(p))
	}
	if got, _ := ParsePhases(defaults); !slices.Equal(got, DefaultPhases()) {
		t.Errorf("ParsePhases(defaults) = %q", got)
	}
}

func TestPhaseWordsAndString(t *testing.T) {
	if w := Phase("").Words(); len(w) != 0 {
		t.Errorf("empty phase has words %q", w)
	}
	if w := Phase("a::b").Words(); !slices.Equal(w, []string{"a", "b"}) {
		t.Errorf("words %q", w)
	}
	if s := Phase("").String(); s != ":" {
		t.Errorf("empty phase prints as %q", s)
	}
	if s := Phase("a:b").String(); s != "a:b" {
		t.Errorf("phase prints as %q", s)
	}
}

func TestPhaseExtend(t *testing.T) {
	start := bytes.Repeat([]byte{7}, 32)
	orig := slices.Clone(start)
	got := Phase("enter-initrd:leave-initrd").Extend(SHA256, start)
	v := orig
	for _, w := range []string{"enter-initrd", "leave-initrd"} {
		hw := sha256.Sum256([]byte(w)) // no NUL byte
		e := sha256.Sum256(append(slices.Clone(v), hw[:]...))
		v = e[:]
	}
	if !bytes.Equal(got, v) {
		t.Errorf("Extend = %x, want %x", got, v)
	}
	if !bytes.Equal(start, orig) {
		t.Error("Extend modified its argument")
	}
	if got := Phase("").Extend(SHA256, start); !bytes.Equal(got, start) {
		t.Error("the empty phase changed the value")
	}
}
