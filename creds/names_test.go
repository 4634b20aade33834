package creds

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestDefaultNameAndCheck(t *testing.T) {
	for _, c := range []struct{ in, out, want string }{
		{"secret.txt", "/etc/credstore/db-password.cred", "db-password"},
		{"secret.txt", "-", "secret.txt"},
		{"-", "-", ""},
		{"-", "out", "out"},
	} {
		if got := DefaultName(c.in, c.out); got != c.want {
			t.Errorf("DefaultName(%q, %q) = %q, want %q", c.in, c.out, got, c.want)
		}
	}
	for _, ok := range []string{"", "x.cred", "x"} {
		if err := CheckFileName(ok, "/run/x.cred"); err != nil {
			t.Errorf("CheckFileName(%q): %v", ok, err)
		}
	}
	var ne *NameMismatchError
	if err := CheckFileName("y", "/run/x.cred"); !errors.As(err, &ne) || ne.Expected != "x.cred" {
		t.Errorf("CheckFileName(y): %v", err)
	}
}

func TestParseTimeAndPCRList(t *testing.T) {
	for in, want := range map[string]time.Time{
		"": {}, "none": {}, "infinity": {}, "@86400": time.Unix(86400, 0),
		"2026-01-02T03:04:05Z": time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	} {
		if got, err := ParseTime(in); err != nil || !got.Equal(want) {
			t.Errorf("ParseTime(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"@-1", "@x", "yesterday", "2026-01-02"} {
		if _, err := ParseTime(in); !errors.Is(err, ErrTimeSyntax) {
			t.Errorf("ParseTime(%q): %v", in, err)
		}
	}
	if got, err := ParsePCRList("7+11,14"); err != nil || !slices.Equal(got, []uint32{7, 11, 14}) {
		t.Errorf("ParsePCRList = %v, %v", got, err)
	}
	var pe *PCRIndexError
	if _, err := ParsePCRList("7+24"); !errors.As(err, &pe) || pe.Entry != "24" {
		t.Errorf("ParsePCRList(7+24): %v", err)
	}
	if !KeyHostTPM2.UsesHostKey() || !KeyHostTPM2.UsesTPM() || KeyNull.UsesHostKey() || KeyHost.UsesTPM() {
		t.Error("UsesHostKey/UsesTPM")
	}
}
