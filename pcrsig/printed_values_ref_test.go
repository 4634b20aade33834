package pcrsig_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ukibuild/ukibuild/internal/reftools"
)

// TestExampleMatchesSystemdMeasure: the value ExamplePolicyPCRDigest prints
// is the "pol" systemd-measure 262.1 prints for the same input, so the
// example shows a real tool's value, not only ours.
func TestExampleMatchesSystemdMeasure(t *testing.T) {
	tools := reftools.Locate(t)
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := tools.MeasureVersion(t, "262", "policy-digest", "--linux="+empty, "--bank=sha256", "--phase=enter-initrd", "--json=short").Output()
	if err != nil {
		t.Fatalf("systemd-measure policy-digest: %v", err)
	}
	got := strings.TrimSpace(string(out))
	want := reftools.ExampleOutput(t, "policy_example_test.go")
	if len(want) != 1 || !strings.Contains(got, `"pol":"`+want[0]+`"`) {
		t.Errorf("ExamplePolicyPCRDigest prints %q; systemd-measure policy-digest prints %s", want, got)
	}
}
