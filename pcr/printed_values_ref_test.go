package pcr_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ukibuild/ukibuild/internal/reftools"
)

// TestExamplesMatchSystemdMeasure: the values ExamplePredict prints are
// those systemd-measure 262.1 prints for the same inputs, so the examples show a real tool's values, not only
// ours.
func TestExamplesMatchSystemdMeasure(t *testing.T) {
	tools := reftools.Locate(t)
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	run := func(args ...string) string {
		out, err := tools.MeasureVersion(t, "262", args...).Output()
		if err != nil {
			t.Fatalf("systemd-measure %v: %v", args, err)
		}
		return strings.TrimSpace(string(out))
	}
	want := reftools.ExampleOutput(t, "measure_example_test.go")
	got := run("calculate", "--linux="+file("linux", "kernel image"), "--osrel="+file("osrel", "ID=debian\n"),
		"--cmdline="+file("cmdline", "root=/dev/vda1"), "--bank=sha256", "--phase=:", "--phase=enter-initrd", "--json=short")
	if len(want) != 3 || got != want[2] {
		t.Errorf("ExamplePredict prints %q; systemd-measure calculate prints %q", want, got)
	}
}
