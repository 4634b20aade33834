package uefi

import (
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/ukibuild/ukibuild/internal/reftools"
)

// TestGUIDLayoutMatchesPython: the stored bytes of each GUID equal what
// Python's uuid.UUID(text).bytes_le gives (the layout ukify writes CHIDs
// in), and String gives the text back.
func TestGUIDLayoutMatchesPython(t *testing.T) {
	tools := reftools.Locate(t)
	texts := []string{
		"8be4df61-93ca-11d2-aa0d-00e098032b8c",
		"D719B2CB-3D3A-4596-A3BC-DAD00E67656F",
		"4a67b082-0a4c-41cf-b6c7-440b29bb8c4f",
		"00000000-0000-0000-0000-000000000000",
		"ffffffff-ffff-ffff-ffff-ffffffffffff",
	}
	out := tools.UkifyPython(t, `import uuid
for line in sys.stdin:
    print(uuid.UUID(line.strip()).bytes_le.hex())
`, []byte(strings.Join(texts, "\n")+"\n"))
	want := strings.Fields(string(out))
	if len(want) != len(texts) {
		t.Fatalf("python printed %q", out)
	}
	for i, s := range texts {
		g, err := ParseGUID(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(g[:]); got != want[i] {
			t.Errorf("%s: stored as %s, python's bytes_le %s", s, got, want[i])
		}
		if g.String() != strings.ToLower(s) {
			t.Errorf("%s: String %s", s, g)
		}
	}
}

func TestParseGUIDRefuses(t *testing.T) {
	for _, s := range []string{
		"",
		"8be4df61-93ca-11d2-aa0d-00e098032b8",    // short
		"8be4df61-93ca-11d2-aa0d-00e098032b8c0",  // long
		"8be4df6193ca-11d2-aa0d-00e098032b8c-",   // hyphens elsewhere
		"8be4df61-93ca-11d2-aa0d-00e098032b8g",   // not hex
		"{8be4df61-93ca-11d2-aa0d-00e098032b8c}", // braces
		"+be4df61-93ca-11d2-aa0d-00e098032b8c",
	} {
		if g, err := ParseGUID(s); err == nil {
			t.Errorf("%q: parsed as %s", s, g)
		}
	}
}

func TestGUIDJSON(t *testing.T) {
	g := GlobalVariable
	b, err := json.Marshal(map[string]GUID{"v": g})
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"v":"8be4df61-93ca-11d2-aa0d-00e098032b8c"}` {
		t.Fatalf("%s", b)
	}
	var m map[string]GUID
	if err := json.Unmarshal(b, &m); err != nil || m["v"] != g {
		t.Fatalf("%v %v", m, err)
	}
	if err := json.Unmarshal([]byte(`{"v":"nope"}`), &m); err == nil {
		t.Fatal("a malformed GUID was accepted")
	}
}
