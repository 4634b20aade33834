package attest_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/ukibuild/ukibuild/attest"
	"github.com/ukibuild/ukibuild/internal/reftools"
	"github.com/ukibuild/ukibuild/pcr"
	"github.com/ukibuild/ukibuild/uki"
)

// measureSections are the sections systemd-measure 262 takes as options
// (src/measure/measure.c, v262.1: --linux= ... --efifw=).
var measureSections = []string{"linux", "osrel", "cmdline", "initrd", "ucode", "splash", "dtb", "dtbauto",
	"uname", "sbat", "pcrpkey", "profile", "hwids", "efifw"}

// TestWriteText: the PCR 11 values WriteText writes for a UKI are those
// systemd-measure 262 calculates from the UKI's sections (no phase), the
// values WriteSystemdText writes after enter-initrd are those it
// calculates for that phase, each section's SHA-256 is among the events'
// digests, and the text lists every event of the reference.
func TestWriteText(t *testing.T) {
	tools := reftools.Locate(t)
	efi := buildUKI(t, "262")
	ref, err := attest.Predict(context.Background(), efi, attest.Machine{PCRs: []int{11}, Banks: []pcr.Bank{pcr.SHA256}})
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	if err := ref.WriteText(&text); err != nil {
		t.Fatal(err)
	}

	// The UKI's sections, as files for systemd-measure, and their digests.
	img, err := uki.OpenImage(efi)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	dir := t.TempDir()
	var args []string
	var digests []string
	for _, s := range img.Sections() {
		name := strings.TrimPrefix(s.Name, ".")
		if !slices.Contains(measureSections, name) {
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
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--"+name+"="+path)
		digests = append(digests, fmt.Sprintf("    sha256 %x\n", sha256.Sum256(b)))
	}
	if len(args) < 2 {
		t.Fatalf("the UKI has %d measured sections", len(args))
	}
	measure := func(phase string) string {
		out, err := tools.MeasureVersion(t, "262", append([]string{"calculate", "--bank=sha256", "--phase=" + phase}, args...)...).Output()
		if err != nil {
			t.Fatalf("systemd-measure --phase=%s: %v", phase, err)
		}
		return string(out)
	}

	values := regexp.MustCompile(`(?m)^[0-9]+:sha256=[0-9a-f]+\n`).FindAllString(text.String(), -1)
	if want := measure(":"); strings.Join(values, "") != want {
		t.Errorf("WriteText's values %q, systemd-measure calculates %q\n%s", values, want, text.String())
	}
	for _, d := range digests {
		if !strings.Contains(text.String(), d) {
			t.Errorf("no event with the section digest %q:\n%s", d, text.String())
		}
	}
	for i, ev := range ref.Events() {
		if !strings.Contains(text.String(), fmt.Sprintf(": %s %s\n", ev.Type, ev.Description)) {
			t.Errorf("event %d (%s) is not in the text:\n%s", i, ev.Description, text.String())
		}
	}

	var after bytes.Buffer
	if err := ref.WriteSystemdText(&after, "262.1", "enter-initrd"); err != nil {
		t.Fatal(err)
	}
	got := ""
	for _, m := range regexp.MustCompile(`(?m)^PCR ([0-9]+) after enter-initrd: (sha256=[0-9a-f]+)$`).FindAllStringSubmatch(after.String(), -1) {
		got += m[1] + ":" + m[2] + "\n"
	}
	if want := measure("enter-initrd"); got != want {
		t.Errorf("WriteSystemdText's values after enter-initrd %q, systemd-measure calculates %q\n%s", got, want, after.String())
	}
	if !strings.Contains(after.String(), "PCR 11 systemd event 0: phase \"enter-initrd\"\n") {
		t.Errorf("no enter-initrd event:\n%s", after.String())
	}
}
