package pcrsig

import (
	"bytes"
	"testing"

	"github.com/ukibuild/ukibuild/internal/pyjson"
	"github.com/ukibuild/ukibuild/pcr"
)

// FuzzParsePolicyDocument feeds arbitrary --append files to the parser and
// appends a policy to what it accepts: no panic, and the output of every
// style parses back to a document that holds the policy.
func FuzzParsePolicyDocument(f *testing.F) {
	for _, s := range []string{
		`{}`,
		`{"sha256":[{"pcrs":[11],"pkfp":"ab","pol":"cd","sig":"AA=="}]}`,
		`{"sha256":null,"sha1":[],"x":{"y":[1,2.5e300,-0,true,false,null,"\u00e9\ud83d\ude00"]}}`,
		`{"sha256":1}`,
		`{"a":1,"a":2}`,
		"{\"s\":\"\x7f\"}",
		`[1]`,
		`{"n":123456789012345678901234567890,"f":1e-400}`,
	} {
		f.Add([]byte(s))
	}
	entry := PolicyEntry{PCRs: []uint32{11}, Fingerprint: []byte{1, 2}, PolicyRef: "ref", Policy: []byte{3, 4}, Signature: []byte{5}}
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := ParsePolicyDocument(data)
		if err != nil {
			return
		}
		if err := doc.Append("sha256", entry); err != nil {
			return
		}
		for _, style := range []pcr.MeasureJSON{pcr.MeasureJSONShort, pcr.MeasureJSONPretty, pcr.MeasureJSONOff} {
			out := doc.JSON(style)
			back, err := ParsePolicyDocument(out)
			if err != nil {
				// sd-json writes DEL unescaped and refuses it when
				// reading, as systemd-measure does.
				if bytes.IndexByte(data, 0x7f) >= 0 {
					continue
				}
				t.Fatalf("style %v output %q does not parse: %v", style, out, err)
			}
			if style != pcr.MeasureJSONShort {
				continue
			}
			// Appending the same policy again adds nothing. (Numbers
			// may change: sd-json does not read them back exactly.)
			if err := back.Append("sha256", entry); err != nil {
				t.Fatalf("re-appending to %q: %v", out, err)
			}
			pol := []byte(`"pol":"0304"`)
			if n, m := bytes.Count(out, pol), bytes.Count(back.JSON(style), pol); n == 0 || n != m {
				t.Fatalf("the policy appears %d times in %q and %d times after appending it again", n, out, m)
			}
		}
	})
}

// FuzzApplySignatures feeds arbitrary .pcrsig and --pcrsig objects to
// ApplySignatures, as --join-pcrsig does: no panic, and the result still
// encodes as the .pcrsig text.
func FuzzApplySignatures(f *testing.F) {
	unsigned := `{"sha256": [{"pcrs": [11], "pkfp": "ab", "pol": "cd", "tbs": "ef"}], "sha1": [{"pcrs": [11], "pol": "01", "ref": "r"}]}`
	f.Add([]byte(unsigned), []byte(`{"sha256": [{"tbs": "ef", "sig": "AAAA"}], "sha1": [{"pol": "01", "ref": "r", "sig": "BB"}]}`))
	f.Add([]byte(unsigned), []byte(`{"sha256": [{"tbs": "ef"}]}`))
	f.Add([]byte(unsigned), []byte(`{"sha1": [{"pol": 1.0, "sig": 1}], "sha256": [{"pol": "cd", "ref": null, "sig": []}]}`))
	f.Add([]byte(`{"sha256": 1}`), []byte(`{"sha256": [{"pol": 1}]}`))
	f.Add([]byte(`{"a": [{"pol": [1, {"x": true}]}]}`), []byte(`{"a": [{"pol": [1.0, {"x": 1}], "sig": "s"}]}`))
	f.Fuzz(func(t *testing.T, pcrsig, signatures []byte) {
		p, err := pyjson.UnmarshalObject(pcrsig)
		if err != nil {
			return
		}
		s, err := pyjson.UnmarshalObject(signatures)
		if err != nil {
			return
		}
		if err := applySignatures(p, s); err != nil {
			return
		}
		text, err := pcrSigText(p)
		if err != nil {
			t.Fatalf("PCRSigText after ApplySignatures: %v", err)
		}
		if _, err := pyjson.UnmarshalObject(text); err != nil {
			t.Fatalf(".pcrsig text %q does not parse: %v", text, err)
		}
	})
}
