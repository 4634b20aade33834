package ukiconf

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os/exec"
	"reflect"
	"strings"
	"testing"
)

// pythonReader parses each input with Python's configparser set up exactly
// as ukify 262 sets it up, and prints, per input, either the error class or
// the items() as [[section, [[key, value], ...]], ...].
const pythonReader = `
import configparser, io, json, sys
out = []
for text in json.load(sys.stdin):
    cp = configparser.ConfigParser(comment_prefixes='#', inline_comment_prefixes='#', delimiters='=',
                                   empty_lines_in_values=False, interpolation=None, strict=False)
    cp.optionxform = lambda option: option
    try:
        # Read the text as cp.read(filename) reads a file: universal newlines.
        cp.read_file(io.TextIOWrapper(io.BytesIO(text.encode()), encoding='utf-8'), 'f')
        out.append({'items': [[name, [[k, v] for k, v in sec.items()]] for name, sec in cp.items()]})
    except configparser.Error as e:
        out.append({'error': type(e).__name__})
json.dump(out, sys.stdout)
`

type pyResult struct {
	Items [][]json.RawMessage `json:"items"`
	Error string              `json:"error"`
}

func runPython(t *testing.T, inputs []string) []pyResult {
	t.Helper()
	in, err := json.Marshal(inputs)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("python3", "-c", pythonReader)
	cmd.Stdin = strings.NewReader(string(in))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3 (apt-get install python3): %v", err)
	}
	var res []pyResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	return res
}

// ours renders Items() like the Python reader.
func ours(text string) (items [][2]any, err error) {
	f, err := Parse("f", []byte(text))
	if err != nil {
		return nil, err
	}
	for _, s := range f.Items() {
		kv := [][2]string{}
		for _, e := range s.Entries {
			kv = append(kv, [2]string{e.Key, e.Value})
		}
		items = append(items, [2]any{s.Name, kv})
	}
	return items, nil
}

func compare(t *testing.T, inputs []string) {
	t.Helper()
	want := runPython(t, inputs)
	for i, text := range inputs {
		got, err := ours(text)
		if want[i].Error != "" {
			if err == nil {
				t.Errorf("input %q: Python fails (%s), we parse it", text, want[i].Error)
			}
			continue
		}
		if err != nil {
			t.Errorf("input %q: we fail (%v), Python parses it", text, err)
			continue
		}
		var w [][2]any
		for _, it := range want[i].Items {
			var name string
			var kv [][2]string
			if json.Unmarshal(it[0], &name) != nil || json.Unmarshal(it[1], &kv) != nil {
				t.Fatalf("bad python output %s", it)
			}
			if kv == nil {
				kv = [][2]string{}
			}
			w = append(w, [2]any{name, kv})
		}
		if !reflect.DeepEqual(got, w) {
			t.Errorf("input %q:\n got %q\nwant %q", text, got, w)
		}
	}
}

// TestMatchesPython compares hand-written cases and many random
// combinations of tricky lines with Python's configparser.
func TestMatchesPython(t *testing.T) {
	cases := []string{
		"",
		"[UKI]\nLinux=/boot/vmlinuz\n",
		"[UKI]\r\nLinux = a b  \r\nCmdline=quiet #comment\r\n",
		"[UKI]\rLinux=a\rInitrd=x\r  y\r",
		"Linux=a\n",
		"# comment\n[UKI]\n",
		"[UKI]\nCmdline=a#b # c\n",
		"[UKI]\nCmdline=#x\n",
		"[UKI]\nCmdline=\t#x\n",
		"[UKI]\nSBAT=sbat,1\n  foo,2\n\n  bar\n",
		"[UKI]\nSBAT=sbat,1\n  # c\n  bar\n",
		"[UKI]\nSBAT=sbat,1\n\tfoo\n\t\tbar # c\n",
		"[UKI]\nnovalue\n",
		"[UKI]\n=x\n",
		"[UKI] trailing\nA=1\n",
		"[a]b]\nA=1\n",
		"[]\n",
		"[]]\nA=1\n",
		"[UKI]\nA=1\n[UKI]\nB=2\nA=3\n",
		"[DEFAULT]\nX=1\n[UKI]\nA=1\n[PCRSignature:one]\nX=2\n",
		"[UKI]\nA=1\n[DEFAULT]\nB=2\n",
		"[UKI]\nKey With Space = v = w\n",
		"[UKI]\nA\x1c=\x1cv\x1c\n",
		"[UKI]\nA=v\u00a0#c\n",
		"[UKI]\n  A=1\n B=2\n",
		"[UKI]\nA=1\n  [PCRSignature:x]\n",
		"  [UKI]\nA=1\n",
		"[UKI]\nA=\n  cont\n",
		"[UKI]\nA=1\nbad\n  cont\n",
		"[UKI]\n\ufeffA=1\n",
		"\ufeff[UKI]\nA=1\n",
		"[UKI]\nA=1\n\n",
		"[UKI]\nA=1\x0bB=2\n",
		"[UKI]\nA==1\n",
	}
	compare(t, cases)

	fragments := []string{
		"[UKI]", "[PCRSignature:a]", "[DEFAULT]", "[x] y", "Linux=a", "Initrd = b c", "A=1 # c", "A=1#c",
		"# full", "  # indented comment", "", "  ", "  cont", "\tcont2", "    deep # c", "bad", "=v",
		"Key=", "K = v = w", "[UKI]#x", "\x1cK=v", "SBAT=sbat,1,x",
	}
	seps := []string{"\n", "\r\n", "\r"}
	r := rand.New(rand.NewPCG(1, 2))
	var inputs []string
	for range 3000 {
		var b strings.Builder
		n := 1 + r.IntN(8)
		for range n {
			b.WriteString(fragments[r.IntN(len(fragments))])
			b.WriteString(seps[r.IntN(len(seps))])
		}
		inputs = append(inputs, b.String())
	}
	compare(t, inputs)
}

func TestErrorsNameFileAndLine(t *testing.T) {
	_, err := Parse("/etc/kernel/uki.conf", []byte("[UKI]\nLinux=a\nbogus\nok=1\nworse\n"))
	var e *Error
	if !errors.As(err, &e) || e.Path != "/etc/kernel/uki.conf" || e.Line != 3 {
		t.Fatalf("got %v", err)
	}
	if !strings.Contains(err.Error(), "uki.conf:5:") {
		t.Errorf("second bad line not reported: %v", err)
	}
	_, err = Parse("f.conf", []byte("Linux=a\n"))
	if err == nil || !strings.Contains(err.Error(), "f.conf:1:") {
		t.Errorf("missing section header: %v", err)
	}
}
