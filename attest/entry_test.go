package attest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestParseEntry reads entries as the Boot Loader Specification and
// systemd-boot 262's boot_entry_add_type1 / line_get_key_value read them:
// the expectations are spelled by hand from those rules.
func TestParseEntry(t *testing.T) {
	in := "# comment\r\n" +
		"  title   \"Fedora Linux\"  \n" +
		"\n" +
		"uki\t/EFI/Linux/fedora.efi\n" +
		"options quiet\n" +
		"extra /loader/x.cred\n" +
		"novalue\n" +
		"options 'rw splash'\n" +
		"extra \\loader\\y.sysext.raw\n" +
		"profile 2\n" +
		"sort-key fedora\n"
	e, err := ParseEntry(strings.NewReader(in), "a.conf")
	if err != nil {
		t.Fatal(err)
	}
	want := Entry{Title: "Fedora Linux", UKI: "/EFI/Linux/fedora.efi", Options: "quiet rw splash", Profile: 2,
		Extra: []string{"/loader/x.cred", `\loader\y.sysext.raw`}}
	if e.Title != want.Title || e.UKI != want.UKI || e.Options != want.Options || e.Profile != want.Profile || !slices.Equal(e.Extra, want.Extra) {
		t.Errorf("got %+v, want %+v", *e, want)
	}
	if got := e.loadOptions(); got != "@2 quiet rw splash" {
		t.Errorf("load options %q", got)
	}
	if got := (&Entry{Profile: 1}).loadOptions(); got != "@1" {
		t.Errorf("load options of a profile without options: %q", got)
	}
	if got, err := ESPPath("/esp", `\loader\y.sysext.raw`); err != nil || got != "/esp/loader/y.sysext.raw" {
		t.Errorf("ESPPath: %q, %v", got, err)
	}
	if got, err := ESPPath("/esp", `/loader/../x/./y`); err != nil || got != "/esp/x/y" {
		t.Errorf("ESPPath: %q, %v", got, err)
	}
	for _, p := range []string{"../../etc/x", `\loader\..\..\x`, "/a/../../x"} {
		if got, err := ESPPath("/esp", p); err == nil {
			t.Errorf("ESPPath(%q) = %q, want an error: it leaves the ESP", p, got)
		}
	}
}

func TestParseEntryErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"title x\nlinux /vmlinuz\n", `b.conf: no "uki" line`},
		{"uki /a.efi\nlinux /vmlinuz\n", `b.conf: both "uki" and "linux"`},
		{"uki /a.efi\nprofile one\n", `b.conf:2: profile "one" is not a decimal number`},
		{"uki /a.efi\nprofile -1\n", `b.conf:2: profile "-1"`},
		{"uki /a.efi\nextra ../../etc/x\n", `b.conf:2: extra "../../etc/x" leaves the ESP's root`},
		{"uki \\EFI\\..\\..\\a.efi\n", `b.conf:1: uki "\\EFI\\..\\..\\a.efi" leaves the ESP's root`},
		// "\r\n" is one line break, a lone '\r' another.
		{"# x\r\nuki /a.efi\r\n\r\nprofile one\r\n", `b.conf:4: profile "one"`},
		{"# x\ruki /a.efi\r\rprofile one\r", `b.conf:4: profile "one"`},
		{"# x\r\r\nuki /a.efi\nprofile one", `b.conf:4: profile "one"`},
	} {
		_, err := ParseEntry(strings.NewReader(c.in), "b.conf")
		var ee *EntryError
		if !errors.As(err, &ee) || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %s...", c.in, err, c.want)
		}
	}
}

// ExampleParseEntry reads an entry as "bootctl link" writes one; what it
// prints is the entry's lines, as the Boot Loader Specification reads them.
func ExampleParseEntry() {
	e, err := ParseEntry(strings.NewReader(`title Debian
uki /EFI/Linux/debian.efi
profile 1
options quiet
extra /loader/credentials/root.cred
`), "debian.conf")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s: %s profile %d options %q extra %v\n", e.Title, e.UKI, e.Profile, e.Options, e.Extra)
	// Output: Debian: /EFI/Linux/debian.efi profile 1 options "quiet" extra [/loader/credentials/root.cred]
}
