package creds

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInfoText: the fields of a null-key credential systemd-creds 262
// encrypted are what it was told (the name, the times, the payload's
// size, the null key), in the text and in the JSON form; the text
// lines are in Fields' order.
func TestInfoText(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "payload"), filepath.Join(dir, "greeting.cred")
	if err := os.WriteFile(in, []byte("hello, world"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, stderr, err := systemdCreds(t, "262", nil, "encrypt", "--with-key=null", "--name=greeting",
		"--timestamp=@1700000000", "--not-after=@1800000000", in, out); err != nil {
		t.Fatalf("systemd-creds encrypt: %v: %s", err, stderr)
	}
	cred, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	info, err := Inspect(bytes.NewReader(cred))
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	if err := info.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"keyType:       null",
		"name:          greeting",
		"timestamp:     2023-11-14T22:13:20Z",
		"notAfter:      2027-01-15T08:00:00Z",
		"size:          12",
	}
	lines := strings.Split(strings.TrimSuffix(text.String(), "\n"), "\n")
	for _, w := range want {
		if !strings.Contains(text.String(), w+"\n") {
			t.Errorf("no line %q in\n%s", w, text.String())
		}
	}
	if fields := info.Fields(); len(lines) != len(fields) || !strings.HasPrefix(lines[0], fields[0].Key+":") {
		t.Errorf("%d lines for %d fields:\n%s", len(lines), len(fields), text.String())
	}
	var js bytes.Buffer
	if err := info.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(js.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if m["keyType"] != "null" || m["name"] != "greeting" || m["size"] != float64(12) || m["notAfter"] != "2027-01-15T08:00:00Z" {
		t.Errorf("JSON %s", js.String())
	}
}
