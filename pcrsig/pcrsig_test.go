package pcrsig

import (
	"bytes"
	"encoding/json"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/ukibuild/ukibuild/internal/pyjson"
	"github.com/ukibuild/ukibuild/internal/reftools"
	"github.com/ukibuild/ukibuild/pcr"
)

func TestPolicyDocumentAppend(t *testing.T) {
	doc, err := ParsePolicyDocument([]byte(`{"sha256":[1],"other":true,"sha256":[2]}`))
	if err != nil {
		t.Fatal(err)
	}
	e := PolicyEntry{PCRs: []uint32{11}, Policy: []byte{0xab}}
	if err := doc.Append("sha256", e); err != nil {
		t.Fatal(err)
	}
	if err := doc.Append("sha256", e); err != nil { // a duplicate: dropped
		t.Fatal(err)
	}
	if got, want := string(doc.JSON(pcr.MeasureJSONOff)), `{"other":true,"sha256":[1,{"pcrs":[11],"pol":"ab"}]}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if err := doc.Append("other", e); err == nil {
		t.Error("appending to a boolean was accepted")
	}
	if _, err := ParsePolicyDocument([]byte(`[]`)); err == nil {
		t.Error("an array was accepted as document")
	}
	var nilDoc *PolicyDocument
	if got := string(nilDoc.JSON(pcr.MeasureJSONShort)); got != "{}\n" {
		t.Errorf("nil document: %q", got)
	}
}

// ukifyPython runs a Python snippet with ukify 262.1 imported as module
// "ukify"; the request is passed as JSON on standard input.
func ukifyPython(t *testing.T, tools *reftools.Tools, script string, request any) []byte {
	t.Helper()
	ukify := tools.Path(t, "UKIBUILD_UKIFY")
	req, err := json.Marshal(request)
	if err != nil {
		t.Fatal(err)
	}
	prog := `import importlib.machinery, importlib.util, json, sys
loader = importlib.machinery.SourceFileLoader('ukify', sys.argv[1])
spec = importlib.util.spec_from_loader('ukify', loader)
ukify = importlib.util.module_from_spec(spec)
loader.exec_module(ukify)
req = json.loads(sys.stdin.read())
` + script
	cmd := exec.Command("/usr/bin/python3", "-c", prog, ukify)
	cmd.Env = append(os.Environ(), "PYTHONPATH="+tools.Var("UKIBUILD_SID_PYTHONPATH"), "PYTHONDONTWRITEBYTECODE=1")
	cmd.Stdin = bytes.NewReader(req)
	out, err := sigRunTool(cmd)
	if err != nil {
		t.Fatalf("python3 with ukify: %v", err)
	}
	return out
}

// sigRandomDocs returns the JSON text of systemd-measure documents made by
// Sign for random inputs, some of them repeating the same policies.
func sigRandomDocs(t *testing.T, rng *mrand.Rand, n int, digest bool) []string {
	t.Helper()
	keys := sigTestKeys(t)
	var out []string
	for i := 0; i < n; i++ {
		var inputs []PolicyInput
		phases := []string{"enter-initrd", "enter-initrd:leave-initrd", "ß"}[:1+rng.IntN(3)]
		for _, p := range phases {
			for _, b := range pcr.AllBanks() {
				if rng.IntN(2) == 0 {
					inputs = append(inputs, PolicyInput{Phase: p, Bank: b, Value: sigTestPCR(b, sigTestSections{{".linux", []byte{byte(rng.IntN(3))}}}, p)})
				}
			}
		}
		opts := SignOptions{PolicyDigest: digest, PolicyRef: []string{"", "initrd", "é"}[rng.IntN(3)]}
		k := keys[rng.IntN(len(keys))]
		if digest {
			opts.PublicKey = &k.priv.PublicKey
		} else {
			opts.Signer = k.priv
		}
		doc, err := Sign(inputs, opts)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(doc.JSON(pcr.MeasureJSONShort)))
	}
	return out
}

func sigParseObjects(t *testing.T, texts []string) []*pyjson.Object {
	t.Helper()
	var objs []*pyjson.Object
	for _, s := range texts {
		o, err := pyjson.UnmarshalObject([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, o)
	}
	return objs
}

// TestCombineSignaturesMatchesUkify compares CombineSignatures, PCRSigText
// and Pad with ukify 262.1's combine_signatures and its padding.
func TestCombineSignaturesMatchesUkify(t *testing.T) {
	tools := sigLocateForPython(t)
	rng := mrand.New(mrand.NewPCG(11, 12))
	var rounds [][]json.RawMessage
	var wants [][]byte
	for round := 0; round < 8; round++ {
		texts := sigRandomDocs(t, rng, 1+rng.IntN(4), round%2 == 1)
		if len(texts) > 1 {
			texts = append(texts, texts[0]) // exact duplicates are dropped
		}
		// Hand-made documents: reordered keys, 11.0 for 11, an empty bank.
		texts = append(texts,
			`{"sha1":[],"sha256":[{"pol":"00","pcrs":[11.0]},{"pcrs":[11],"pol":"00"},{"pcrs":[11],"pol":"00","x":"\u00e9"}]}`,
			`{"zz":[{"a":[1,2]}],"sha256":[{"pcrs":[11],"pol":"00","x":"é"}]}`)
		rounds = append(rounds, texts2any(texts))
		combined, err := combineSignatures(sigParseObjects(t, texts)...)
		if err != nil {
			t.Fatal(err)
		}
		text, err := pcrSigText(combined)
		if err != nil {
			t.Fatal(err)
		}
		wants = append(wants, Pad(text))
	}
	var got []string
	out := ukifyPython(t, tools, `
res = []
for docs in req:
    out = ukify.combine_signatures(docs)
    out += ' ' * 1024 * out.count('"pol":')
    res.append(out)
sys.stdout.write(json.dumps(res))`, rounds)
	if err := json.Unmarshal(out, &got); err != nil || len(got) != len(wants) {
		t.Fatalf("python output %q: %v", out, err)
	}
	for i := range wants {
		if string(wants[i]) != got[i] {
			t.Errorf("round %d:\nours:  %s\nukify: %s", i, wants[i], got[i])
		}
	}
	if _, err := combineSignatures(sigParseObjects(t, []string{`{"sha1":5}`})...); err == nil {
		t.Error("a bank that is not an array was accepted")
	}
}

// texts2any turns JSON texts into values for the request (decoded by Python).
func texts2any(texts []string) []json.RawMessage {
	out := make([]json.RawMessage, len(texts))
	for i, s := range texts {
		out[i] = json.RawMessage(s)
	}
	return out
}

// TestApplySignaturesMatchesUkify compares ApplySignatures with ukify
// 262.1's apply_pcr_signatures: an unsigned .pcrsig (policy-digest output)
// receives the signatures of signed documents.
func TestApplySignaturesMatchesUkify(t *testing.T) {
	tools := sigLocateForPython(t)
	keys := sigTestKeys(t)
	rng := mrand.New(mrand.NewPCG(21, 22))
	var rounds [][]json.RawMessage
	var wants [][]byte
	for round := 0; round < 8; round++ {
		var inputs []PolicyInput
		for _, p := range []string{"enter-initrd", "enter-initrd:leave-initrd"} {
			for _, b := range []pcr.Bank{pcr.SHA1, pcr.SHA256} {
				inputs = append(inputs, PolicyInput{Phase: p, Bank: b, Value: sigTestPCR(b, sigTestSections{{".linux", []byte{byte(round)}}}, p)})
			}
		}
		ref := []string{"", "initrd"}[round%2]
		k := keys[rng.IntN(len(keys))]
		unsigned, err := Sign(inputs, SignOptions{PolicyDigest: true, PublicKey: &k.priv.PublicKey, PolicyRef: ref})
		if err != nil {
			t.Fatal(err)
		}
		// The signatures come from a sign run over some of the inputs, or
		// (from round 4 on) from policy-digest entries signed offline,
		// which carry "tbs" and are matched by it.
		var some []PolicyInput
		for _, in := range inputs {
			if rng.IntN(3) != 0 {
				some = append(some, in)
			}
		}
		signed, err := Sign(some, SignOptions{Signer: k.priv, PolicyRef: ref, PolicyDigest: round >= 4})
		if err != nil {
			t.Fatal(err)
		}
		utext, stext := string(unsigned.JSON(pcr.MeasureJSONShort)), string(signed.JSON(pcr.MeasureJSONShort))
		rounds = append(rounds, texts2any([]string{utext, stext}))
		objs := sigParseObjects(t, []string{utext, stext})
		if err := applySignatures(objs[0], objs[1]); err != nil {
			t.Fatal(err)
		}
		text, err := pcrSigText(objs[0])
		if err != nil {
			t.Fatal(err)
		}
		if len(some) > 0 && !strings.Contains(string(text), `"sig": "`) {
			t.Errorf("round %d: no signature was applied: %s", round, text)
		}
		wants = append(wants, text)
	}
	var got []string
	out := ukifyPython(t, tools, `
res = []
for j, sigs in req:
    ukify.apply_pcr_signatures(j, sigs)
    res.append(json.dumps(j))
sys.stdout.write(json.dumps(res))`, rounds)
	if err := json.Unmarshal(out, &got); err != nil || len(got) != len(wants) {
		t.Fatalf("python output %q: %v", out, err)
	}
	for i := range wants {
		if string(wants[i]) != got[i] {
			t.Errorf("round %d:\nours:  %s\nukify: %s", i, wants[i], got[i])
		}
	}
	objs := sigParseObjects(t, []string{`{"sha1":[{"pol":"00"}]}`, `{"sha1":[{"pol":"00"}]}`})
	if err := applySignatures(objs[0], objs[1]); err == nil {
		t.Error("a matching policy without signature was accepted")
	}
}

func sigLocateForPython(t *testing.T) *reftools.Tools {
	t.Helper()
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Fatalf("python3 is needed to run ukify: %v", err)
	}
	return reftools.Locate(t)
}
