package eventlog_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ukibuild/ukibuild/internal/reftools"
)

// TestCompareEventsExampleValues: the values ExampleCompareEvents prints
// are not taken from our own output. PCR 11 is what systemd-measure 262.1
// computes for the same two sections (before any phase); PCR 4 is replayed
// here by hand from the events EDK2 logs (TCG PC Client Platform Firmware
// Profile, PCR[4]: EV_EFI_ACTION "Calling EFI Application from Boot
// Option" hashed without a NUL, EV_SEPARATOR over four zero bytes, the
// application's Authenticode digest); the digests in the comparison are
// the SHA-256 of the example's strings.
func TestCompareEventsExampleValues(t *testing.T) {
	tools := reftools.Locate(t)
	out := reftools.ExampleOutput(t, "event_example_test.go")
	find := func(prefix string) string {
		for _, l := range out {
			if v, ok := strings.CutPrefix(l, prefix); ok {
				return v
			}
		}
		t.Fatalf("ExampleCompareEvents prints no line starting %q: %q", prefix, out)
		return ""
	}

	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	got, err := tools.MeasureVersion(t, "262", "calculate", "--linux="+file("linux", "kernel image"),
		"--cmdline="+file("cmdline", "root=/dev/vda1"), "--bank=sha256", "--phase=:", "--json=short").Output()
	if err != nil {
		t.Fatalf("systemd-measure calculate: %v", err)
	}
	if want := `"hash":"` + find("PCR 11 = ") + `"`; !strings.Contains(string(got), want) {
		t.Errorf("ExampleCompareEvents prints PCR 11 = %s; systemd-measure calculate prints %s", find("PCR 11 = "), got)
	}

	extend := func(v []byte, d []byte) []byte {
		h := sha256.Sum256(append(append([]byte(nil), v...), d...))
		return h[:]
	}
	digest := func(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }
	app := digest("stand-in for the UKI's Authenticode digest")
	v := make([]byte, 32)
	v = extend(v, digest("Calling EFI Application from Boot Option"))
	v = extend(v, digest("\x00\x00\x00\x00"))
	v = extend(v, app)
	if got := find("PCR 4 = "); got != hex.EncodeToString(v) {
		t.Errorf("ExampleCompareEvents prints PCR 4 = %s; replayed by hand: %x", got, v)
	}
	if got := find("  expected EV_EFI_BOOT_SERVICES_APPLICATION sha256:"); !strings.HasPrefix(got, hex.EncodeToString(app)+" ") {
		t.Errorf("expected digest %s, want %x", got, app)
	}
	if got := find("  seen     EV_EFI_BOOT_SERVICES_APPLICATION sha256:"); !strings.HasPrefix(got, hex.EncodeToString(digest("another UKI"))+" ") {
		t.Errorf("seen digest %s, want %x", got, digest("another UKI"))
	}
}
