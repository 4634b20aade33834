package pcrsig

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/big"

	"github.com/ukibuild/ukibuild/internal/pyjson"
	"github.com/ukibuild/ukibuild/internal/sdjson"
	"github.com/ukibuild/ukibuild/pcr"
)

// PolicyEntry is one PCR policy of a bank: an element of the bank's array in
// the JSON systemd-measure sign/policy-digest prints and ukify stores in the
// .pcrsig section. Its members appear in this order, those marked optional
// only when set:
//
//	"pcrs": [11]         the policy's PCRs
//	"pkfp": hex          optional: SHA-256 fingerprint of the public key
//	"ref":  string       optional: the policy reference
//	"pol":  hex          the PolicyPCR digest
//	"tbs":  hex          optional: the data to sign (policy-digest only)
//	"sig":  base64       optional: the RSASSA-PKCS1-v1_5 signature
//
// Hex is lowercase, base64 the standard alphabet with padding.
type PolicyEntry struct {
	PCRs        []uint32
	Fingerprint []byte // "pkfp", omitted when empty
	PolicyRef   string // "ref", omitted when empty
	Policy      []byte // "pol"
	ToBeSigned  []byte // "tbs", omitted when empty
	Signature   []byte // "sig", omitted when empty
}

type entryMember struct {
	key   string
	value any // string or []uint32
}

func (e PolicyEntry) members() []entryMember {
	pcrs := e.PCRs
	if pcrs == nil {
		pcrs = []uint32{}
	}
	m := []entryMember{{"pcrs", pcrs}}
	if len(e.Fingerprint) > 0 {
		m = append(m, entryMember{"pkfp", hex.EncodeToString(e.Fingerprint)})
	}
	if e.PolicyRef != "" {
		m = append(m, entryMember{"ref", e.PolicyRef})
	}
	m = append(m, entryMember{"pol", hex.EncodeToString(e.Policy)})
	if len(e.ToBeSigned) > 0 {
		m = append(m, entryMember{"tbs", hex.EncodeToString(e.ToBeSigned)})
	}
	if len(e.Signature) > 0 {
		m = append(m, entryMember{"sig", base64.StdEncoding.EncodeToString(e.Signature)})
	}
	return m
}

func (e PolicyEntry) sd() (*sdjson.Value, error) {
	o := &sdjson.Value{Kind: sdjson.Object}
	for _, m := range e.members() {
		var v *sdjson.Value
		switch x := m.value.(type) {
		case []uint32:
			v = &sdjson.Value{Kind: sdjson.Array, Elems: []*sdjson.Value{}}
			for _, p := range x {
				v.Elems = append(v.Elems, sdjson.NewUnsigned(uint64(p)))
			}
		case string:
			if !sdjson.ValidUTF8([]byte(x)) || bytes.IndexByte([]byte(x), 0) >= 0 {
				return nil, fmt.Errorf("pcrsig: %s %q is not valid UTF-8 text", m.key, x)
			}
			v = sdjson.NewString(x)
		}
		o.Members = append(o.Members, sdjson.Member{Key: m.key, Value: v})
	}
	return o, nil
}

// PolicyDocument is the JSON object systemd-measure sign and policy-digest
// print: bank names mapping to arrays of PolicyEntry objects, possibly after
// other members of a file given to --append=. It keeps sd-json's view of
// the data (member order, repeated keys, number types) so that its output is
// byte-identical to systemd-measure's.
type PolicyDocument struct {
	root *sdjson.Value // always an object
}

// NewPolicyDocument returns an empty document.
func NewPolicyDocument() *PolicyDocument {
	return &PolicyDocument{root: &sdjson.Value{Kind: sdjson.Object, Members: []sdjson.Member{}}}
}

// ParsePolicyDocument parses a file given to systemd-measure --append= the
// way systemd-measure 262 does (sd_json_parse_file with
// SD_JSON_PARSE_MUST_BE_OBJECT): the top level must be an object; NUL bytes,
// raw control characters and DEL in strings, \u0000, invalid UTF-8, Unicode
// noncharacters and lone surrogates are refused (so is, like in
// systemd-measure, its own output when a policy reference holds DEL, which
// sd-json writes unescaped); repeated keys are kept; numbers are read the
// way sd-json reads them, which differs from a correctly rounded conversion
// for many numbers with an exponent or many digits.
func ParsePolicyDocument(data []byte) (*PolicyDocument, error) {
	v, err := sdjson.Parse(data)
	if err != nil {
		return nil, err
	}
	if v.Kind != sdjson.Object {
		return nil, errors.New("pcrsig: the JSON to append to is not an object")
	}
	return &PolicyDocument{root: v}, nil
}

func (d *PolicyDocument) clone() *PolicyDocument {
	if d == nil || d.root == nil {
		return NewPolicyDocument()
	}
	return &PolicyDocument{root: d.root.Clone()}
}

// Append adds e to the array of bank as systemd-measure does for each policy
// it computes: the bank's current value (its first occurrence) must be
// missing, null or an array, anything else is an error; e is appended unless
// an equal entry is already there (sd-json equality: members in any order,
// numbers by value); then every member called bank is removed and bank is
// added at the end of the object with the new array.
func (d *PolicyDocument) Append(bank string, e PolicyEntry) error {
	if d.root == nil {
		d.root = &sdjson.Value{Kind: sdjson.Object, Members: []sdjson.Member{}}
	}
	ev, err := e.sd()
	if err != nil {
		return err
	}
	av := d.root.ByKey(bank)
	found := false
	if av != nil && av.Kind == sdjson.Array {
		for _, h := range av.Elems {
			if sdjson.Equal(h, ev) {
				found = true
				break
			}
		}
	}
	var nv *sdjson.Value
	switch {
	case found:
		nv = av.Clone()
	case av == nil || av.Kind == sdjson.Null:
		nv = &sdjson.Value{Kind: sdjson.Array, Elems: []*sdjson.Value{ev}}
	case av.Kind == sdjson.Array:
		nv = av.Clone()
		nv.Elems = append(nv.Elems, ev)
	default:
		return fmt.Errorf("pcrsig: cannot append a policy to %q: it is not an array", bank)
	}
	d.root.SetField(bank, nv)
	return nil
}

// JSON returns the document as systemd-measure prints it in style.
func (d *PolicyDocument) JSON(style pcr.MeasureJSON) []byte {
	return sdjson.Dump(d.clone().root, style == pcr.MeasureJSONPretty, style != pcr.MeasureJSONOff)
}

// object returns the document as ukify sees it: what Python's json.loads
// makes of systemd-measure's output.
func (d *PolicyDocument) object() (*pyjson.Object, error) {
	o, err := pyjson.UnmarshalObject(d.JSON(pcr.MeasureJSONShort))
	if err != nil {
		return nil, fmt.Errorf("pcrsig: %w", err)
	}
	return o, nil
}

// Combine merges the JSON texts of several systemd-measure runs
// (sign or policy-digest output) into the .pcrsig text exactly as ukify 262
// does (see combineSignatures), as Python's json.dumps writes it.
func Combine(texts ...[]byte) ([]byte, error) {
	objs := make([]*pyjson.Object, 0, len(texts))
	for i, t := range texts {
		o, err := pyjson.UnmarshalObject(t)
		if err != nil {
			return nil, fmt.Errorf("pcrsig: PCR signatures %d: not a JSON object: %w", i+1, err)
		}
		objs = append(objs, o)
	}
	c, err := combineSignatures(objs...)
	if err != nil {
		return nil, err
	}
	return pcrSigText(c)
}

// ApplySignatures copies offline-made signatures (the JSON object of signed
// policies) into an unsigned .pcrsig text and returns the new text, as
// ukify 262's apply_pcr_signatures does when it is given --pcrsig= (see
// applySignatures for the matching rules).
func ApplySignatures(section, signatures []byte) ([]byte, error) {
	p, err := pyjson.UnmarshalObject(section)
	if err != nil {
		return nil, fmt.Errorf(".pcrsig is not a JSON object: %w", err)
	}
	s, err := pyjson.UnmarshalObject(signatures)
	if err != nil {
		return nil, fmt.Errorf("signed policies: not a JSON object: %w", err)
	}
	if err := applySignatures(p, s); err != nil {
		return nil, err
	}
	return pcrSigText(p)
}

// combineSignatures merges the JSON objects of several systemd-measure runs
// into the .pcrsig object exactly as ukify 262's combine_signatures does:
// banks in the order they are first seen, each bank's entries in order with
// entries equal (by Python ==) to an earlier one of the same bank dropped. A
// bank whose array is empty is not created. Every bank's value must be an
// array.
func combineSignatures(docs ...*pyjson.Object) (*pyjson.Object, error) {
	combined := pyjson.NewObject()
	for _, doc := range docs {
		for bank, v := range doc.All() {
			sigs, ok := v.([]any)
			if !ok {
				return nil, fmt.Errorf("pcrsig: combining PCR signatures: %q is not an array", bank)
			}
			for _, sig := range sigs {
				cur, _ := combined.Get(bank)
				list, _ := cur.([]any)
				dup := false
				for _, have := range list {
					if pyEqual(have, sig) {
						dup = true
						break
					}
				}
				if !dup {
					combined.Set(bank, append(list, sig))
				}
			}
		}
	}
	return combined, nil
}

// pcrSigText returns the .pcrsig section content for obj as ukify writes it:
// Python's json.dumps(obj) (", " and ": " separators, non-ASCII escaped, no
// trailing newline).
func pcrSigText(obj *pyjson.Object) ([]byte, error) {
	b, err := pyjson.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("pcrsig: .pcrsig: %w", err)
	}
	return b, nil
}

// Section returns the .pcrsig section content ukify 262 builds from
// the output of its systemd-measure runs (one sign run per PCR key group,
// plus the "initrd" one of --sign-initrd-pcrs; or the policy-digest runs of
// --policy-digest, in which case padded should be set to leave room for the
// signatures): combineSignatures, pcrSigText and, when padded, Pad.
func Section(padded bool, docs ...*PolicyDocument) ([]byte, error) {
	objs := make([]*pyjson.Object, 0, len(docs))
	for _, d := range docs {
		o, err := d.object()
		if err != nil {
			return nil, err
		}
		objs = append(objs, o)
	}
	combined, err := combineSignatures(objs...)
	if err != nil {
		return nil, err
	}
	text, err := pcrSigText(combined)
	if err != nil || !padded {
		return text, err
	}
	return Pad(text), nil
}

// Pad appends the room ukify --policy-digest leaves in an unsigned
// .pcrsig section for signatures added later: 1024 spaces for every
// occurrence of `"pol":` in text.
func Pad(text []byte) []byte {
	n := bytes.Count(text, []byte(`"pol":`))
	out := make([]byte, 0, len(text)+1024*n)
	out = append(out, text...)
	return append(out, bytes.Repeat([]byte(" "), 1024*n)...)
}

// applySignatures copies offline-made signatures into an unsigned .pcrsig
// object in place, as ukify 262's apply_pcr_signatures does when it is given
// --pcrsig=: for every bank present in both objects, every policy of pcrsig
// takes the "sig" of each policy of signatures that matches it, the last
// match winning. Two policies match when both have "tbs" and their "tbs" are
// equal, otherwise when their ("pol", "ref") pairs are equal (a missing
// "ref" equals a missing "ref"). A matching policy without "sig", or a
// policy without "pol" that needs comparing by it, is an error, as in ukify.
func applySignatures(pcrsig, signatures *pyjson.Object) error {
	for bank, pv := range pcrsig.All() {
		for inBank, iv := range signatures.All() {
			if inBank != bank {
				continue
			}
			policies, err := policyList(pv, bank)
			if err != nil {
				return err
			}
			inputs, err := policyList(iv, bank)
			if err != nil {
				return err
			}
			for _, p := range policies {
				for _, in := range inputs {
					var match bool
					pt, ptOK := p.Get("tbs")
					it, itOK := in.Get("tbs")
					if ptOK && itOK {
						match = pyEqual(pt, it)
					} else {
						pp, ok1 := p.Get("pol")
						ip, ok2 := in.Get("pol")
						if !ok1 || !ok2 {
							return fmt.Errorf("pcrsig: applying PCR signatures: a %s policy has no \"pol\"", bank)
						}
						pr, _ := p.Get("ref")
						ir, _ := in.Get("ref")
						match = pyEqual(pp, ip) && pyEqual(pr, ir)
					}
					if !match {
						continue
					}
					sig, ok := in.Get("sig")
					if !ok {
						return fmt.Errorf("pcrsig: applying PCR signatures: a matching %s policy has no \"sig\"", bank)
					}
					p.Set("sig", sig)
				}
			}
		}
	}
	return nil
}

func policyList(v any, bank string) ([]*pyjson.Object, error) {
	l, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("pcrsig: %q is not an array of policies", bank)
	}
	out := make([]*pyjson.Object, len(l))
	for i, e := range l {
		o, ok := e.(*pyjson.Object)
		if !ok {
			return nil, fmt.Errorf("pcrsig: %q has an element that is not an object", bank)
		}
		out[i] = o
	}
	return out, nil
}

// pyEqual is Python's == for the values pyjson decodes: numbers compare by
// value across int, float and bool, dicts regardless of key order.
func pyEqual(a, b any) bool {
	if x, ok := a.(float64); ok && math.IsInf(x, 0) {
		y, ok := b.(float64)
		return ok && x == y
	}
	if ra, ok := pyNumber(a); ok {
		rb, ok := pyNumber(b)
		return ok && ra != nil && rb != nil && ra.Cmp(rb) == 0
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !pyEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case *pyjson.Object:
		y, ok := b.(*pyjson.Object)
		if !ok || x.Len() != y.Len() {
			return false
		}
		for k, xv := range x.All() {
			yv, ok := y.Get(k)
			if !ok || !pyEqual(xv, yv) {
				return false
			}
		}
		return true
	}
	return false
}

// pyNumber returns the exact value of a Python number (nil for NaN and
// infinities, which equal nothing here) and whether a is a number.
func pyNumber(a any) (*big.Rat, bool) {
	switch x := a.(type) {
	case bool:
		if x {
			return big.NewRat(1, 1), true
		}
		return new(big.Rat), true
	case int64:
		return new(big.Rat).SetInt64(x), true
	case *big.Int:
		if x == nil {
			return nil, false
		}
		return new(big.Rat).SetInt(x), true
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, true
		}
		return new(big.Rat).SetFloat64(x), true
	}
	return nil, false
}
