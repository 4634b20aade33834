package uki

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ukibuild/ukibuild/internal/reftools"
)

// ukifyEval runs fn (a Python expression of one argument, a request item)
// through ukify 262.1 for each item of reqs and returns, per item, the hex
// of the bytes it returns or "ERR" when it raises.
func ukifyEval(t *testing.T, fn string, reqs []any) []string {
	t.Helper()
	tools := reftools.Locate(t)
	in, err := json.Marshal(reqs)
	if err != nil {
		t.Fatal(err)
	}
	out := tools.UkifyPython(t, `
from pathlib import Path
import uuid
f = lambda x: `+fn+`
res = []
for x in json.loads(sys.stdin.read()):
    try:
        res.append(f(x).hex())
    except Exception as e:
        res.append('ERR')
sys.stdout.write(json.dumps(res))`, in)
	var res []string
	if err := json.Unmarshal(out, &res); err != nil || len(res) != len(reqs) {
		t.Fatalf("python output %q: %v", out, err)
	}
	return res
}

// randomUUIDString writes u in one of the spellings Python's uuid.UUID
// accepts.
func randomUUIDString(r *rand.Rand, u [16]byte) string {
	h := hex.EncodeToString(u[:])
	canon := h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
	switch r.IntN(6) {
	case 0:
		return strings.ToUpper(canon)
	case 1:
		return "{" + canon + "}"
	case 2:
		return "urn:uuid:" + canon
	case 3:
		return h
	}
	return canon
}

// TestHWIDsMatchUkify builds .hwids tables from random directories of
// device descriptions and from Debian sid's own hwids (arm64 laptops) and
// compares them with ukify 262.1's parse_hwid_dir.
func TestHWIDsMatchUkify(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	root := t.TempDir()
	names := []string{"Acer Aspire 1", "Lenovo ThinkPad X13s", "Dell XPS ünïcode", "a", "A", "z-device"}
	compat := []string{"acer,aspire1", "lenovo,thinkpad-x13s", "qcom,x1e80100", "ü,weird"}
	fwids := []string{"fw-a", "fw-b", "ÿ-fw"}
	// Paths whose order differs when compared as strings and as path
	// components ("a/b.json" < "a-c.json" by component only).
	paths := []string{"a/b.json", "a-c.json", "a.json", "z/y/x.json", ".hidden.json", "b.JSON", "notes.txt", "dir.json/inner.json", "a b.json"}
	var dirs []any
	for c := 0; c < 40; c++ {
		dir := filepath.Join(root, fmt.Sprintf("case%d", c))
		n := 1 + r.IntN(5)
		for i := 0; i < n; i++ {
			p := paths[r.IntN(len(paths))]
			dev := map[string]any{"name": names[r.IntN(len(names))]}
			if r.IntN(3) == 0 {
				dev["type"] = "uefi-fw"
				dev["fwid"] = fwids[r.IntN(len(fwids))]
			} else {
				dev["type"] = "devicetree"
				dev["compatible"] = compat[r.IntN(len(compat))]
			}
			ids := []string{}
			for k := r.IntN(5); k > 0; k-- {
				var u [16]byte
				for j := range u {
					u[j] = byte(r.IntN(3) * 0x7f) // few distinct values: repeats and ties
				}
				ids = append(ids, randomUUIDString(r, u))
			}
			dev["hwids"] = ids
			data, _ := json.MarshalIndent(dev, "", "  ")
			full := filepath.Join(dir, p)
			if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(full, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		dirs = append(dirs, dir)
	}
	tools := reftools.Locate(t)
	dirs = append(dirs, filepath.Join(tools.Path(t, "UKIBUILD_SID_ROOT"), "usr/lib/systemd/boot/hwids/aa64"))
	// A symbolic link given as the directory is followed.
	if err := os.Symlink(dirs[0].(string), filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	dirs = append(dirs, filepath.Join(root, "link"))
	ok := 0
	defer func() {
		if ok < len(dirs)/2 {
			t.Errorf("only %d of %d directories built a table", ok, len(dirs))
		}
	}()
	want := ukifyEval(t, "ukify.parse_hwid_dir(Path(x))", dirs)
	for i, d := range dirs {
		c, err := HWIDsFromDir(d.(string))
		if err != nil {
			if want[i] != "ERR" { // a directory named *.json fails in both
				t.Errorf("%s: %v (ukify: %.40s)", d, err, want[i])
			}
			continue
		}
		ok++
		got := hex.EncodeToString(mustRead(t, c))
		if got != want[i] {
			t.Errorf("%s:\nours:  %s\nukify: %s", d, got, want[i])
		}
	}
}

// TestHWIDsErrorsLikeUkify: malformed descriptions fail in both.
func TestHWIDsErrorsLikeUkify(t *testing.T) {
	root := t.TempDir()
	bad := []string{
		`{"type": "devicetree", "name": "x", "hwids": []}`,                                     // no compatible/fwid
		`{"type": "devicetree", "name": "x", "compatible": "c"}`,                               // no hwids
		`{"name": "x", "compatible": "c", "hwids": []}`,                                        // no type
		`{"type": "acpi", "name": "x", "compatible": "c", "hwids": []}`,                        // unknown type
		`{"type": "devicetree", "name": "x", "fwid": "f", "hwids": []}`,                        // wrong attribute
		`{"type": "uefi-fw", "name": "x", "compatible": "c", "hwids": []}`,                     // wrong attribute
		`{"type": "devicetree", "name": "x", "compatible": "c", "hwids": ["1234"]}`,            // bad UUID
		`{"type": "devicetree", "name": "x", "compatible": "c", "hwids": [5]}`,                 // not a string
		`{"type": "devicetree", "name": "x", "compatible": "c", "hwids": [] ,}`,                // bad JSON
		"{\"type\": \"devicetree\", \"name\": \"\xff\", \"compatible\": \"c\", \"hwids\": []}", // not UTF-8
	}
	var dirs []any
	for i, text := range bad {
		dir := filepath.Join(root, fmt.Sprint(i))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "d.json"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, dir)
	}
	want := ukifyEval(t, "ukify.parse_hwid_dir(Path(x))", dirs)
	for i, d := range dirs {
		if want[i] != "ERR" {
			t.Errorf("%s: ukify accepted %s", d, bad[i])
		}
		if _, err := HWIDsFromDir(d.(string)); err == nil {
			t.Errorf("%s: accepted %s", d, bad[i])
		} else if !strings.Contains(err.Error(), "d.json") {
			t.Errorf("%s: error %q does not name the file", d, err)
		}
	}
	if _, err := HWIDsFromDir(filepath.Join(root, "missing")); err == nil {
		t.Error("a missing directory was accepted")
	}
}

// TestParseUUIDMatchesPython compares ParseUUID with Python's uuid.UUID.
func TestParseUUIDMatchesPython(t *testing.T) {
	in := []string{
		"45d37dbe-40fb-57bd-a257-55f422d4dc0a", "45D37DBE40FB57BDA25755F422D4DC0A",
		"{45d37dbe-40fb-57bd-a257-55f422d4dc0a}", "urn:uuid:45d37dbe-40fb-57bd-a257-55f422d4dc0a",
		"{{45d37dbe40fb57bda25755f422d4dc0a}", "45d3-7dbe-40fb57bda25755f422d4dc0a-",
		"0x5d37dbe40fb57bda25755f422d4dc0a", "+45d37dbe40fb57bda25755f422d4dc0", " 45d37dbe40fb57bda25755f422d4dc0 ",
		"45d37dbe_40fb57bda25755f422d4dc0", "45d37dbe__0fb57bda25755f422d4dc0", "_45d37dbe40fb57bda25755f422d4dc0",
		"45d37dbe40fb57bda25755f422d4dc0_", "0x_5d37dbe40fb57bda25755f422d4dc0", "0x", "",
		"45d37dbe40fb57bda25755f422d4dc0g", "45d37dbe40fb57bda25755f422d4dc0", "45d37dbe40fb57bda25755f422d4dc0aa",
		"uuid:urn:45d37dbe40fb57bda25755f422d4dc0a", "+0x5d37dbe40fb57bda25755f422d4dc", "\t45d37dbe40fb57bda25755f422d4dc\n",
	}
	reqs := make([]any, len(in))
	for i, s := range in {
		reqs[i] = s
	}
	want := ukifyEval(t, "uuid.UUID(x).bytes", reqs)
	for i, s := range in {
		u, err := ParseUUID(s)
		got := hex.EncodeToString(u[:])
		if err != nil {
			got = "ERR"
		}
		if got != want[i] {
			t.Errorf("ParseUUID(%q) = %s, Python: %s", s, got, want[i])
		}
	}
}

// TestEncodeHWIDsLayout checks the record layout against chid.h: the
// descriptor, the mixed-endian GUID and the string offsets.
func TestEncodeHWIDsLayout(t *testing.T) {
	u, _ := ParseUUID("00112233-4455-6677-8899-aabbccddeeff")
	b, err := EncodeHWIDs([]HWIDDevice{{Type: HWIDFirmware, Name: "n", Match: "m", CHIDs: [][16]byte{u, u}}})
	if err != nil {
		t.Fatal(err)
	}
	want := "1c000020" + "33221100554477668899aabbccddeeff" + "3a000000" + "38000000" +
		strings.Repeat("00", 28) + "6d00" + "6e00"
	if got := hex.EncodeToString(b); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func mustRead(t *testing.T, c Content) []byte {
	t.Helper()
	b, err := readSmall(c, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
