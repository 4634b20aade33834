package uki

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ukibuild/ukibuild/internal/reftools"
	"github.com/ukibuild/ukibuild/pcr"
)

// TestWriteMeasure: for a UKI of one variant, WriteMeasure writes what
// systemd-measure 262 calculate prints for the plan's sections, in text
// and in JSON, then an empty line, as ukify's --measure does.
func TestWriteMeasure(t *testing.T) {
	tools := reftools.Locate(t)
	uname := "6.1.0-test"
	plan, err := Prepare(context.Background(), Config{Stub: tools.Path(t, "UKIBUILD_STUB_262"), Linux: tools.Path(t, "UKIBUILD_KERNEL"),
		Uname: &uname, Cmdline: Text("cmdline", "quiet"), OSRelease: Text("os-release", "ID=test\n")})
	if err != nil {
		t.Fatal(err)
	}
	defer plan.Close()
	if len(plan.Variants) != 1 {
		t.Fatalf("%d variants", len(plan.Variants))
	}
	dir := t.TempDir()
	var args []string
	for _, s := range plan.Sections {
		name := strings.TrimPrefix(s.Name, ".")
		switch name {
		case "linux", "osrel", "cmdline", "uname", "sbat":
		default:
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
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--"+name+"="+p)
	}
	if len(args) != 5 {
		t.Fatalf("sections %v", args)
	}
	for mode, flag := range map[pcr.MeasureJSON]string{pcr.MeasureJSONOff: "off", pcr.MeasureJSONShort: "short"} {
		want, err := tools.MeasureVersion(t, "262", append([]string{"calculate", "--bank=sha256", "--phase=enter-initrd", "--json=" + flag}, args...)...).Output()
		if err != nil {
			t.Fatal(err)
		}
		var out, comments bytes.Buffer
		if err := plan.WriteMeasure(context.Background(), &out, &comments, []pcr.Bank{pcr.SHA256}, []string{"enter-initrd"}, mode); err != nil {
			t.Fatal(err)
		}
		if got := out.String(); got != string(want)+"\n" {
			t.Errorf("--json=%s: WriteMeasure %q, systemd-measure %q and an empty line", flag, got, want)
		}
	}
}
