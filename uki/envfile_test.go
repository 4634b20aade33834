package uki

import (
	"encoding/json"
	"testing"

	"github.com/ukibuild/ukibuild/internal/reftools"
)

// TestReadEnvFileMatchesUkify compares readEnvFile (which finds the ID of a
// profile for --sign-profile) with ukify 262.1's read_env_file.
func TestReadEnvFileMatchesUkify(t *testing.T) {
	in := []string{
		"ID=main",
		"ID=factory-reset\nTITLE=Factory Reset\n",
		"ID=\"quoted id\"\r\nTITLE='single'",
		"ID=\"a\"b'c'd e\nX=1",
		"ID=\"esc \\\" \\\\ \\n\"",
		"ID='no \\\" escapes'",
		"ID=\"x\"#comment",
		"ID=\"x\",y",
		"# comment\n\n  \nID=first\nID=second",
		"id=lower\nI=short\nID=ok",
		"ID=trailing   \t",
		"ID=a\x0bTITLE=vt\x1cX=fs\u2028Y=ls",
		"ID=\"ü\"é",
		"ID=\"\"",
		"ID=\"open",
		"ID=\"esc\\",
	}
	tools := reftools.Locate(t)
	req, _ := json.Marshal(in)
	out := tools.UkifyPython(t, `
res = []
for text in json.loads(sys.stdin.read()):
    try:
        res.append(ukify.read_env_file(text))
    except Exception as e:
        res.append(None)
sys.stdout.write(json.dumps(res))`, req)
	var want []map[string]string
	if err := json.Unmarshal(out, &want); err != nil || len(want) != len(in) {
		t.Fatalf("python output %q: %v", out, err)
	}
	for i, text := range in {
		got, err := readEnvFile(text, func(string, ...any) {})
		if want[i] == nil {
			if err == nil {
				t.Errorf("%q: ukify fails, we got %v", text, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v, ukify %v", text, err, want[i])
			continue
		}
		if len(got) != len(want[i]) {
			t.Errorf("%q: got %q, ukify %q", text, got, want[i])
			continue
		}
		for k, v := range want[i] {
			if got[k] != v {
				t.Errorf("%q: got %q, ukify %q", text, got, want[i])
				break
			}
		}
	}
}
