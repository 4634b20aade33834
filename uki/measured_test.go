package uki

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ukibuild/ukibuild/pcr"
)

// TestProfileSections: of a UKI with two .dtbauto and two .efifw
// sections (with the .hwids the stub matches .efifw against), the picked ones are measured and the others not; an unknown
// pick, a .efifw pick for a stub that never picks one, a stub version
// that cannot be read and a missing profile are refused with their types.
func TestProfileSections(t *testing.T) {
	path := filepath.Join(t.TempDir(), "uki.efi")
	if err := os.WriteFile(path, composeBytes(t,
		Section{".linux", Text("linux", "kernel")}, Section{".hwids", Text("hwids", "ids")},
		Section{".dtbauto", Text("dtbauto", "dtb zero")}, Section{".dtbauto", Text("dtbauto", "dtb one")},
		Section{".efifw", Text("efifw", "fw zero")}, Section{".efifw", Text("efifw", "fw one")},
	), 0o644); err != nil {
		t.Fatal(err)
	}
	img, err := OpenImage(path)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	one, zero, two, none := 1, 0, 2, -1
	content := func(secs []pcr.Section, name string) []string {
		var out []string
		for _, s := range secs {
			if s.Name != name {
				continue
			}
			r, err := s.Content.Open()
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(r)
			r.Close()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, string(b))
		}
		return out
	}
	secs, err := img.ProfileSections("262", 0, &one, &zero)
	if err != nil {
		t.Fatal(err)
	}
	if got := content(secs, ".dtbauto"); !slices.Equal(got, []string{"dtb one"}) {
		t.Errorf(".dtbauto measured: %q", got)
	}
	if got := content(secs, ".efifw"); !slices.Equal(got, []string{"fw zero"}) {
		t.Errorf(".efifw measured: %q", got)
	}
	if got := content(secs, ".linux"); !slices.Equal(got, []string{"kernel"}) {
		t.Errorf(".linux measured: %q", got)
	}
	if secs, err = img.ProfileSections("261", 0, &none, &none); err != nil || len(content(secs, ".dtbauto"))+len(content(secs, ".efifw")) != 0 {
		t.Errorf("none picked: %v, %d sections", err, len(secs))
	}

	var ce *CandidateError
	if _, err := img.ProfileSections("262", 0, nil, &zero); !errors.As(err, &ce) || ce.Section != ".dtbauto" || ce.Count != 2 {
		t.Errorf("no .dtbauto pick: %v", err)
	}
	if _, err := img.ProfileSections("262", 0, &zero, nil); !errors.As(err, &ce) || ce.Section != ".efifw" || ce.NeverSelects || ce.Count != 2 {
		t.Errorf("no .efifw pick for 262: %v", err)
	}
	if _, err := img.ProfileSections("261", 0, &zero, nil); err != nil {
		t.Errorf("no .efifw pick for 261, which picks none: %v", err)
	}
	if _, err := img.ProfileSections("261", 0, &zero, &one); !errors.As(err, &ce) || !ce.NeverSelects || ce.Pick != 1 {
		t.Errorf(".efifw pick for 261: %v", err)
	}
	var ve *StubVersionError
	if _, err := img.ProfileSections("x", 0, &zero, &zero); !errors.As(err, &ve) {
		t.Errorf("stub version x: %v", err)
	}
	if _, err := img.ProfileSections("262", 0, &zero, &one); err != nil {
		t.Error(err)
	}
	if _, err := img.ProfileSections("262", 0, &zero, &two); err == nil {
		t.Error(".efifw 2 of 2 picked")
	}
	var pe *ProfileError
	if _, err := img.ProfileSections("262", 1, &zero, &zero); !errors.As(err, &pe) || pe.Profile != 1 {
		t.Errorf("profile 1: %v", err)
	}
}
