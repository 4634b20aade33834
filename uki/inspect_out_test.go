package uki

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInspectSectionOutput: --section NAME@OUT writes the section's data
// atomically: the file holds exactly the data, nothing else is left in its
// directory, and a failure names the file.
func TestInspectSectionOutput(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "uki.efi")
	if err := os.WriteFile(img, composeBytes(t, Section{".cmdline", Text("cmdline", "quiet splash")},
		Section{".linux", Bytes("kernel", fuzzKernelBytes())}), 0o644); err != nil {
		t.Fatal(err)
	}
	outDir := t.TempDir()
	for _, mode := range []string{"text", "binary"} {
		out := filepath.Join(outDir, "cmdline."+mode)
		if err := os.WriteFile(out, []byte("previous, longer content"), 0o600); err != nil {
			t.Fatal(err)
		}
		var w bytes.Buffer
		err := Inspect(&w, img, InspectOptions{JSON: "off", Sections: []InspectSection{{Name: ".cmdline", Mode: mode, Out: out}}})
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(out); string(b) != "quiet splash" {
			t.Errorf("%s: %s holds %q", mode, out, b)
		}
	}
	if ents, _ := os.ReadDir(outDir); len(ents) != 2 {
		t.Errorf("output directory holds %v", ents)
	}
	missing := filepath.Join(outDir, "no-such-dir", "x")
	var w bytes.Buffer
	err := Inspect(&w, img, InspectOptions{JSON: "off", Sections: []InspectSection{{Name: ".linux", Out: missing}}})
	if err == nil || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), img) {
		t.Fatalf("writing into a missing directory: %v", err)
	}
}
