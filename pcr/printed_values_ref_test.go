package pcr_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ukibuild/ukibuild/internal/reftools"
)

// exampleOutput returns the lines after "// Output:" in the example file.
func exampleOutput(t *testing.T, file string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "// Output:\n")
	if !ok {
		t.Fatalf("%s has no // Output: block", file)
	}
	var out []string
	for _, l := range strings.Split(rest, "\n") {
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, "// ") {
			break
		}
		out = append(out, strings.TrimPrefix(l, "// "))
	}
	return out
}

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
	want := exampleOutput(t, "measure_example_test.go")
	got := run("calculate", "--linux="+file("linux", "kernel image"), "--osrel="+file("osrel", "ID=debian\n"),
		"--cmdline="+file("cmdline", "root=/dev/vda1"), "--bank=sha256", "--phase=:", "--phase=enter-initrd", "--json=short")
	if len(want) != 3 || got != want[2] {
		t.Errorf("ExamplePredict prints %q; systemd-measure calculate prints %q", want, got)
	}
}
