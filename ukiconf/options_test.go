package ukiconf

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/ukibuild/ukibuild/uki"
)

// TestExampleConfigKeys: examples/kernel-install/uki.conf parses and uses
// only keys of ukify 262 that ukibuild implements for build.
func TestExampleConfigKeys(t *testing.T) {
	f, err := ReadFile("../examples/kernel-install/uki.conf")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range f.Sections {
		section := s.Name
		if i := strings.IndexByte(section, ':'); i >= 0 {
			section = section[:i+1]
		}
		for _, e := range s.Entries {
			item, ok := LookupItem(section + "/" + e.Key)
			if !ok || !slices.Contains(item.Commands, "build") {
				t.Errorf("line %d: [%s] %s is not a build key", e.Line, s.Name, e.Key)
			}
		}
	}
}

// TestSettings: the order, the skipped and the ignored keys, and errors that
// name the file, line, section and key and unwrap to the cause.
func TestSettings(t *testing.T) {
	f, err := Parse("u.conf", []byte("[UKI]\nInitrd = a  b\nSecureBootCertificateValidity=7\nSecureBootCertificateDir=/x\nNoSuchKey=1\n"+
		"[PCRSignature:one]\nPhases=enter-initrd, leave-initrd\n"))
	if err != nil {
		t.Fatal(err)
	}
	var warnings []string
	var got []string
	err = f.Settings("build", func(format string, args ...any) {
		warnings = append(warnings, format)
	}, func(s Setting) error {
		got = append(got, s.Section+"/"+s.Key+"="+strings.Join(s.Values, "|")+" group="+s.Group)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"UKI/Initrd=a|b group=", "PCRSignature:one/Phases=enter-initrd, leave-initrd group=one"}
	if !slices.Equal(got, want) {
		t.Errorf("settings %q, want %q", got, want)
	}
	if len(warnings) != 2 {
		t.Errorf("warnings %q, want the ignored and the unknown key", warnings)
	}

	bad, err := Parse("bad.conf", []byte("[UKI]\nSignKernel=maybe\n[PCRSignature:x]\nPhases=boot\n"))
	if err != nil {
		t.Fatal(err)
	}
	err = bad.Settings("build", nil, func(Setting) error { return nil })
	var se *SettingError
	if !errors.As(err, &se) || se.Line != 2 || se.Key != "SignKernel" || se.Path != "bad.conf" {
		t.Fatalf("error %v, want a *SettingError for line 2", err)
	}
	bad.Sections = bad.Sections[1:]
	err = bad.Settings("build", nil, func(Setting) error { return nil })
	var pe *uki.PhaseError
	if !errors.As(err, &pe) || pe.Phase != "boot" {
		t.Fatalf("error %v, want a *uki.PhaseError", err)
	}
}

func TestParseValues(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{{"sha256", []string{"sha256"}}, {" sha1 , sha256,", []string{"sha1", "sha256"}}, {"sha1\tsha384", []string{"sha1", "sha384"}}, {"", nil}} {
		got, err := ParseBanks(c.in)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("ParseBanks(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	if _, err := ParseBanks("sha1,,sha256"); err == nil {
		t.Error("ParseBanks accepts an empty entry")
	}
	for in, want := range map[string]int{" 1_000 ": 1000, "-5": -5, "+7": 7} {
		if n, err := ParseInt(in); err != nil || n != want {
			t.Errorf("ParseInt(%q) = %d, %v", in, n, err)
		}
	}
	for _, in := range []string{"1__0", "_1", "1_", "--1", "", "0x10"} {
		if _, err := ParseInt(in); err == nil {
			t.Errorf("ParseInt(%q) accepted", in)
		}
	}
	for in, want := range map[string]bool{"Yes": true, "off": false, "T": true, "0": false} {
		if b, err := ParseBool(in); err != nil || b != want {
			t.Errorf("ParseBool(%q) = %v, %v", in, b, err)
		}
	}
	if _, err := ParseBool("2"); err == nil {
		t.Error("ParseBool(2) accepted")
	}
}
