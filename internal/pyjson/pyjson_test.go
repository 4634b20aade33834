package pyjson

import (
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// obj builds an *Object from alternating keys and values.
func obj(kv ...any) *Object {
	o := NewObject()
	for i := 0; i < len(kv); i += 2 {
		o.Set(kv[i].(string), kv[i+1])
	}
	return o
}

type (
	testString string
	testBool   bool
)

// The expected strings below were produced by CPython 3.11.2
// (/usr/bin/python3) evaluating the expression in the comment above each
// one, after "import json".
var marshalTests = []struct {
	name     string
	v        any
	compact  string
	indented string
}{
	{
		name: "nesting",
		v:    obj("a", []any{1, obj("b", []any{2, 3}, "c", obj("d", nil)), "x"}, "e", obj("f", []any{true, []any{false}})),
		// json.dumps({"a": [1, {"b": [2, 3], "c": {"d": None}}, "x"], "e": {"f": [True, [False]]}})
		compact: "{\"a\": [1, {\"b\": [2, 3], \"c\": {\"d\": null}}, \"x\"], \"e\": {\"f\": [true, [false]]}}",
		// json.dumps({"a": [1, {"b": [2, 3], "c": {"d": None}}, "x"], "e": {"f": [True, [False]]}}, indent=4)
		indented: "{\n    \"a\": [\n        1,\n        {\n            \"b\": [\n                2,\n                3\n            ],\n            \"c\": {\n                \"d\": null\n            }\n        },\n        \"x\"\n    ],\n    \"e\": {\n        \"f\": [\n            true,\n            [\n                false\n            ]\n        ]\n    }\n}",
	},
	{
		name: "empty containers at several depths",
		v:    obj("a", obj(), "b", []any{}, "c", []any{[]any{}, obj(), []any{[]any{}}, []*Object{obj()}}, "d", obj("e", obj("f", obj(), "g", []string{}))),
		// json.dumps({"a": {}, "b": [], "c": [[], {}, [[]], [{}]], "d": {"e": {"f": {}, "g": []}}})
		compact: "{\"a\": {}, \"b\": [], \"c\": [[], {}, [[]], [{}]], \"d\": {\"e\": {\"f\": {}, \"g\": []}}}",
		// json.dumps({"a": {}, "b": [], "c": [[], {}, [[]], [{}]], "d": {"e": {"f": {}, "g": []}}}, indent=4)
		indented: "{\n    \"a\": {},\n    \"b\": [],\n    \"c\": [\n        [],\n        {},\n        [\n            []\n        ],\n        [\n            {}\n        ]\n    ],\n    \"d\": {\n        \"e\": {\n            \"f\": {},\n            \"g\": []\n        }\n    }\n}",
	},
	{
		name: "top-level empty dict",
		v:    obj(),
		// json.dumps({})
		compact: "{}",
		// json.dumps({}, indent=4)
		indented: "{}",
	},
	{
		name: "top-level empty list",
		v:    []any{},
		// json.dumps([])
		compact: "[]",
		// json.dumps([], indent=4)
		indented: "[]",
	},
	{
		name: "nil slice is an empty list",
		v:    []any(nil),
		// json.dumps([])
		compact: "[]",
		// json.dumps([], indent=4)
		indented: "[]",
	},
	{
		name: "key order is insertion order",
		v:    obj("z", 1, "a", 2, "m", 3, "b", 4),
		// json.dumps({"z": 1, "a": 2, "m": 3, "b": 4})
		compact: "{\"z\": 1, \"a\": 2, \"m\": 3, \"b\": 4}",
		// json.dumps({"z": 1, "a": 2, "m": 3, "b": 4}, indent=4)
		indented: "{\n    \"z\": 1,\n    \"a\": 2,\n    \"m\": 3,\n    \"b\": 4\n}",
	},
	{
		name: "re-setting a key keeps its position",
		v:    obj("z", 1, "a", 2, "z", 3),
		// json.dumps(dict([("z", 1), ("a", 2), ("z", 3)]))
		compact: "{\"z\": 3, \"a\": 2}",
		// json.dumps(dict([("z", 1), ("a", 2), ("z", 3)]), indent=4)
		indented: "{\n    \"z\": 3,\n    \"a\": 2\n}",
	},
	{
		name: "escapes",
		v:    "\"\\/\b\f\n\r\t\x00\x01\x1f\x7f <>&'~ ",
		// json.dumps("\"\\/\b\f\n\r\t\x00\x01\x1f\x7f <>&'~ ")
		compact: "\"\\\"\\\\/\\b\\f\\n\\r\\t\\u0000\\u0001\\u001f\\u007f <>&'~ \"",
		// json.dumps("\"\\/\b\f\n\r\t\x00\x01\x1f\x7f <>&'~ ", indent=4)
		indented: "\"\\\"\\\\/\\b\\f\\n\\r\\t\\u0000\\u0001\\u001f\\u007f <>&'~ \"",
	},
	{
		name: "escaped keys",
		v:    obj("é\n\"", "k", "<&>", "€"),
		// json.dumps({"\u00e9\n\"": "k", "<&>": "\u20ac"})
		compact: "{\"\\u00e9\\n\\\"\": \"k\", \"<&>\": \"\\u20ac\"}",
		// json.dumps({"\u00e9\n\"": "k", "<&>": "\u20ac"}, indent=4)
		indented: "{\n    \"\\u00e9\\n\\\"\": \"k\",\n    \"<&>\": \"\\u20ac\"\n}",
	},
	{
		name: "BMP characters",
		v:    "\u0080é\u07ff\u0800€\ue000\ufeff\uffff",
		// json.dumps("\u0080\u00e9\u07ff\u0800\u20ac\ue000\ufeff\uffff")
		compact: "\"\\u0080\\u00e9\\u07ff\\u0800\\u20ac\\ue000\\ufeff\\uffff\"",
		// json.dumps("\u0080\u00e9\u07ff\u0800\u20ac\ue000\ufeff\uffff", indent=4)
		indented: "\"\\u0080\\u00e9\\u07ff\\u0800\\u20ac\\ue000\\ufeff\\uffff\"",
	},
	{
		name: "non-BMP characters",
		v:    "\U00010000 \U0001F600 \U0010FFFF",
		// json.dumps("\U00010000 \U0001F600 \U0010FFFF")
		compact: "\"\\ud800\\udc00 \\ud83d\\ude00 \\udbff\\udfff\"",
		// json.dumps("\U00010000 \U0001F600 \U0010FFFF", indent=4)
		indented: "\"\\ud800\\udc00 \\ud83d\\ude00 \\udbff\\udfff\"",
	},
	{
		name: "floats",
		v:    []any{1.0, -1.0, 0.0, math.Copysign(0, -1), 0.1, 1.0 / 3, 2.5, 100.0, 123456789.125, 1e15, 1e16, 9999999999999998.0, 1.2345e+17, 0.0001, 1e-05, 2.5e-05, 1.5e-07, 1e100, 1e-100, 5e-324, 1.7976931348623157e308},
		// json.dumps([1.0, -1.0, 0.0, -0.0, 0.1, 1/3, 2.5, 100.0, 123456789.125, 1e15, 1e16, 9999999999999998.0, 1.2345e+17, 0.0001, 1e-05, 2.5e-05, 1.5e-07, 1e100, 1e-100, 5e-324, 1.7976931348623157e308])
		compact: "[1.0, -1.0, 0.0, -0.0, 0.1, 0.3333333333333333, 2.5, 100.0, 123456789.125, 1000000000000000.0, 1e+16, 9999999999999998.0, 1.2345e+17, 0.0001, 1e-05, 2.5e-05, 1.5e-07, 1e+100, 1e-100, 5e-324, 1.7976931348623157e+308]",
		// json.dumps([1.0, -1.0, 0.0, -0.0, 0.1, 1/3, 2.5, 100.0, 123456789.125, 1e15, 1e16, 9999999999999998.0, 1.2345e+17, 0.0001, 1e-05, 2.5e-05, 1.5e-07, 1e100, 1e-100, 5e-324, 1.7976931348623157e308], indent=4)
		indented: "[\n    1.0,\n    -1.0,\n    0.0,\n    -0.0,\n    0.1,\n    0.3333333333333333,\n    2.5,\n    100.0,\n    123456789.125,\n    1000000000000000.0,\n    1e+16,\n    9999999999999998.0,\n    1.2345e+17,\n    0.0001,\n    1e-05,\n    2.5e-05,\n    1.5e-07,\n    1e+100,\n    1e-100,\n    5e-324,\n    1.7976931348623157e+308\n]",
	},
	{
		name: "non-finite floats",
		v:    []any{math.Inf(1), math.Inf(-1), math.NaN()},
		// json.dumps([float("inf"), float("-inf"), float("nan")])
		compact: "[Infinity, -Infinity, NaN]",
		// json.dumps([float("inf"), float("-inf"), float("nan")], indent=4)
		indented: "[\n    Infinity,\n    -Infinity,\n    NaN\n]",
	},
	{
		name: "ints",
		v:    []any{0, int8(1), int16(-1), uint8(255), int16(-32768), int32(2147483647), int64(9223372036854775807), int64(-9223372036854775808), uint64(18446744073709551615), new(big.Int).Lsh(big.NewInt(1), 100), new(big.Int).Neg(new(big.Int).Lsh(big.NewInt(1), 100))},
		// json.dumps([0, 1, -1, 255, -32768, 2147483647, 9223372036854775807, -9223372036854775808, 18446744073709551615, 2**100, -2**100])
		compact: "[0, 1, -1, 255, -32768, 2147483647, 9223372036854775807, -9223372036854775808, 18446744073709551615, 1267650600228229401496703205376, -1267650600228229401496703205376]",
		// json.dumps([0, 1, -1, 255, -32768, 2147483647, 9223372036854775807, -9223372036854775808, 18446744073709551615, 2**100, -2**100], indent=4)
		indented: "[\n    0,\n    1,\n    -1,\n    255,\n    -32768,\n    2147483647,\n    9223372036854775807,\n    -9223372036854775808,\n    18446744073709551615,\n    1267650600228229401496703205376,\n    -1267650600228229401496703205376\n]",
	},
	{
		name: "bool and null",
		v:    []any{true, false, nil},
		// json.dumps([True, False, None])
		compact: "[true, false, null]",
		// json.dumps([True, False, None], indent=4)
		indented: "[\n    true,\n    false,\n    null\n]",
	},
	{
		name: "typed slices and named types",
		v:    []any{[]string{"a", "b"}, []int{1, 2}, [1]float64{1.5}, []testString{"s"}, []testBool{true}},
		// json.dumps([["a", "b"], [1, 2], [1.5], ["s"], [True]])
		compact: "[[\"a\", \"b\"], [1, 2], [1.5], [\"s\"], [true]]",
		// json.dumps([["a", "b"], [1, 2], [1.5], ["s"], [True]], indent=4)
		indented: "[\n    [\n        \"a\",\n        \"b\"\n    ],\n    [\n        1,\n        2\n    ],\n    [\n        1.5\n    ],\n    [\n        \"s\"\n    ],\n    [\n        true\n    ]\n]",
	},
	{
		name: "top-level string",
		v:    "x",
		// json.dumps("x")
		compact: "\"x\"",
		// json.dumps("x", indent=4)
		indented: "\"x\"",
	},
	{
		name: "top-level int",
		v:    42,
		// json.dumps(42)
		compact: "42",
		// json.dumps(42, indent=4)
		indented: "42",
	},
	{
		name: "top-level null",
		v:    nil,
		// json.dumps(None)
		compact: "null",
		// json.dumps(None, indent=4)
		indented: "null",
	},
	{
		name: "pcrsig-like",
		v:    obj("sha256", []*Object{obj("pcrs", []int{11}, "pkfp", "abc", "pol", "def", "sig", "Zm9v")}, "sha1", []any{}),
		// json.dumps({"sha256": [{"pcrs": [11], "pkfp": "abc", "pol": "def", "sig": "Zm9v"}], "sha1": []})
		compact: "{\"sha256\": [{\"pcrs\": [11], \"pkfp\": \"abc\", \"pol\": \"def\", \"sig\": \"Zm9v\"}], \"sha1\": []}",
		// json.dumps({"sha256": [{"pcrs": [11], "pkfp": "abc", "pol": "def", "sig": "Zm9v"}], "sha1": []}, indent=4)
		indented: "{\n    \"sha256\": [\n        {\n            \"pcrs\": [\n                11\n            ],\n            \"pkfp\": \"abc\",\n            \"pol\": \"def\",\n            \"sig\": \"Zm9v\"\n        }\n    ],\n    \"sha1\": []\n}",
	},
}

func TestMarshal(t *testing.T) {
	for _, tt := range marshalTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Marshal(tt.v)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if string(got) != tt.compact {
				t.Errorf("Marshal:\n got %s\nwant %s", got, tt.compact)
			}
			got, err = MarshalIndent(tt.v, 4)
			if err != nil {
				t.Fatalf("MarshalIndent: %v", err)
			}
			if string(got) != tt.indented {
				t.Errorf("MarshalIndent:\n got %s\nwant %s", got, tt.indented)
			}
		})
	}
}

func TestMarshalIndentWidths(t *testing.T) {
	tests := []struct {
		v      any
		indent int
		want   string
	}{
		// json.dumps({"a": [1, {}, {"b": []}], "c": {"d": [2]}}, indent=0)
		{obj("a", []any{1, obj(), obj("b", []any{})}, "c", obj("d", []int{2})), 0, "{\n\"a\": [\n1,\n{},\n{\n\"b\": []\n}\n],\n\"c\": {\n\"d\": [\n2\n]\n}\n}"},
		// json.dumps({"a": [1, {}, {"b": []}], "c": {"d": [2]}}, indent=1)
		{obj("a", []any{1, obj(), obj("b", []any{})}, "c", obj("d", []int{2})), 1, "{\n \"a\": [\n  1,\n  {},\n  {\n   \"b\": []\n  }\n ],\n \"c\": {\n  \"d\": [\n   2\n  ]\n }\n}"},
		// json.dumps({"a": [1, {}, {"b": []}], "c": {"d": [2]}}, indent=2)
		{obj("a", []any{1, obj(), obj("b", []any{})}, "c", obj("d", []int{2})), 2, "{\n  \"a\": [\n    1,\n    {},\n    {\n      \"b\": []\n    }\n  ],\n  \"c\": {\n    \"d\": [\n      2\n    ]\n  }\n}"},
		// json.dumps({"a": [1, {}, {"b": []}], "c": {"d": [2]}}, indent=8)
		{obj("a", []any{1, obj(), obj("b", []any{})}, "c", obj("d", []int{2})), 8, "{\n        \"a\": [\n                1,\n                {},\n                {\n                        \"b\": []\n                }\n        ],\n        \"c\": {\n                \"d\": [\n                        2\n                ]\n        }\n}"},
		// json.dumps({"a": [1, {}, {"b": []}], "c": {"d": [2]}}, indent=-2)
		{obj("a", []any{1, obj(), obj("b", []any{})}, "c", obj("d", []int{2})), -2, "{\n\"a\": [\n1,\n{},\n{\n\"b\": []\n}\n],\n\"c\": {\n\"d\": [\n2\n]\n}\n}"},
	}
	for _, tt := range tests {
		got, err := MarshalIndent(tt.v, tt.indent)
		if err != nil {
			t.Fatalf("indent %d: %v", tt.indent, err)
		}
		if string(got) != tt.want {
			t.Errorf("indent %d:\n got %q\nwant %q", tt.indent, got, tt.want)
		}
	}
}

// TestMarshalInvalidUTF8 checks the documented handling of Go strings that
// are not valid UTF-8 (Python strings cannot hold them).
func TestMarshalInvalidUTF8(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a\xffb", `"a\ufffdb"`},
		{"\xc3", `"\ufffd"`},
		{"\xe2\x82", `"\ufffd\ufffd"`},
		// Generalized UTF-8 encodings of surrogates come out as \udXXX,
		// like a Python str holding lone surrogates:
		// json.dumps("\ud800\udc00 \udfff") == '"\\ud800\\udc00 \\udfff"'
		{"\xed\xa0\x80\xed\xb0\x80 \xed\xbf\xbf", `"\ud800\udc00 \udfff"`},
		{"\xed\xa0", `"\ufffd\ufffd"`},
	}
	for _, tt := range tests {
		got, err := Marshal(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tt.want {
			t.Errorf("Marshal(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestMarshalErrors(t *testing.T) {
	self := NewObject()
	self.Set("a", []any{1, self})
	list := []any{1, nil}
	list[1] = list
	huge, _ := new(big.Int).SetString(strings.Repeat("9", 4301), 10)
	tests := []struct {
		name string
		v    any
	}{
		{"map", map[string]any{"a": 1}},
		{"struct", struct{ A int }{1}},
		{"float32", float32(1.5)},
		{"bytes", []byte("abc")},
		{"nested unsupported", []any{1, obj("a", []any{complex(1, 2)})}},
		{"pointer", new(int)},
		{"channel", make(chan int)},
		{"func", func() {}},
		{"Object value", Object{}},
		// json.dumps(d) with d = {}; d["a"] = [1, d] raises
		// ValueError: Circular reference detected
		{"cyclic object", self},
		{"cyclic list", list},
		// json.dumps(int("9" * 4301)) raises ValueError: Exceeds the limit
		// (4300 digits) for integer string conversion
		{"int with more than 4300 digits", huge},
	}
	for _, tt := range tests {
		for _, indent := range []int{-1, 4} {
			var err error
			if indent < 0 {
				_, err = Marshal(tt.v)
			} else {
				_, err = MarshalIndent(tt.v, indent)
			}
			if err == nil {
				t.Errorf("%s: no error", tt.name)
			}
		}
	}
	_, err := Marshal(map[string]int{})
	var ute *UnsupportedTypeError
	if !errors.As(err, &ute) {
		t.Errorf("map: error %v is not an *UnsupportedTypeError", err)
	}
}

func TestMarshalSharedNotCyclic(t *testing.T) {
	// A container referenced twice without a cycle is fine, as in Python:
	// json.dumps([d, d, {"x": d}]) with d = {"a": [1]}
	shared := obj("a", []any{1})
	sharedList := []any{shared}
	v := []any{shared, shared, obj("x", shared), sharedList, sharedList}
	got, err := Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	const want = `[{"a": [1]}, {"a": [1]}, {"x": {"a": [1]}}, [{"a": [1]}], [{"a": [1]}]]`
	if string(got) != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestMarshalMaxDigits(t *testing.T) {
	// json.dumps(int("9" * 4300)) succeeds; one more digit fails.
	n, _ := new(big.Int).SetString("-"+strings.Repeat("9", 4300), 10)
	got, err := Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != n.String() {
		t.Errorf("got %.20s..., want %.20s...", got, n.String())
	}
}

func TestMarshalNilValues(t *testing.T) {
	var o *Object
	var b *big.Int
	got, err := Marshal([]any{o, b, []string(nil), []*Object(nil), []int(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if want := `[null, null, [], [], []]`; string(got) != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestObject(t *testing.T) {
	o := NewObject()
	o.Set("b", 1)
	o.Set("a", 2)
	o.Set("c", 3)
	o.Set("b", 4)
	if got, want := o.Keys(), []string{"b", "a", "c"}; !slices.Equal(got, want) {
		t.Errorf("Keys() = %v, want %v", got, want)
	}
	if v, ok := o.Get("b"); !ok || v != 4 {
		t.Errorf("Get(b) = %v, %v", v, ok)
	}
	if _, ok := o.Get("x"); ok {
		t.Errorf("Get(x) found a value")
	}
	if !o.Delete("b") || o.Delete("b") {
		t.Errorf("Delete(b) misreported presence")
	}
	o.Set("b", 5) // re-inserted at the end, like del d["b"]; d["b"] = 5
	if o.Len() != 3 {
		t.Errorf("Len() = %d", o.Len())
	}
	var keys []string
	var vals []any
	for k, v := range o.All() {
		keys = append(keys, k)
		vals = append(vals, v)
	}
	if !slices.Equal(keys, []string{"a", "c", "b"}) || !slices.Equal(vals, []any{2, 3, 5}) {
		t.Errorf("All() = %v %v", keys, vals)
	}
	// d = {"b": 1, "a": 2, "c": 3}; d["b"] = 4; del d["b"]; d["b"] = 5
	// json.dumps(d) == '{"a": 2, "c": 3, "b": 5}'
	got, _ := Marshal(o)
	if want := `{"a": 2, "c": 3, "b": 5}`; string(got) != want {
		t.Errorf("Marshal = %s, want %s", got, want)
	}

	var zero Object
	zero.Set("k", "v")
	if zero.Len() != 1 {
		t.Errorf("zero Object not usable")
	}
	var nilObj *Object
	if nilObj.Len() != 0 || nilObj.Keys() != nil || nilObj.Delete("k") {
		t.Errorf("nil *Object does not behave as empty")
	}
	if _, ok := nilObj.Get("k"); ok {
		t.Errorf("nil *Object has a key")
	}
	for range nilObj.All() {
		t.Errorf("nil *Object yields a key")
	}
}

// Each input is decoded and re-encoded; the expected string is what
// CPython 3.11.2 (/usr/bin/python3) prints for the expression in the
// comment.
var unmarshalTests = []struct {
	in   string
	want string
}{
	// json.dumps(json.loads(b'{"b": 1, "a": [1, 2.50, -0, -0.0, 1E400, -1e400, 1e-400, 1E+2, 0.5e-3, NaN, Infinity, -Infinity]}'))
	{"{\"b\": 1, \"a\": [1, 2.50, -0, -0.0, 1E400, -1e400, 1e-400, 1E+2, 0.5e-3, NaN, Infinity, -Infinity]}", "{\"b\": 1, \"a\": [1, 2.5, 0, -0.0, Infinity, -Infinity, 0.0, 100.0, 0.0005, NaN, Infinity, -Infinity]}"},
	// json.dumps(json.loads(b'{"x": 1, "y": 2, "x": 3, "z": {"q": 1, "q": [1]}}'))
	{"{\"x\": 1, \"y\": 2, \"x\": 3, \"z\": {\"q\": 1, \"q\": [1]}}", "{\"x\": 3, \"y\": 2, \"z\": {\"q\": [1]}}"},
	// json.dumps(json.loads(b' \t\n\r{ "k" : [ ] , "\\u00e9\\/\\b\\f\\n\\r\\t\\"\\\\" : { } } \n\r\t '))
	{" \t\n\r{ \"k\" : [ ] , \"\\u00e9\\/\\b\\f\\n\\r\\t\\\"\\\\\" : { } } \n\r\t ", "{\"k\": [], \"\\u00e9/\\b\\f\\n\\r\\t\\\"\\\\\": {}}"},
	// json.dumps(json.loads(b'[123456789012345678901234567890, -123456789012345678901234567890, 9223372036854775807, 9223372036854775808, -9223372036854775808, -9223372036854775809]'))
	{"[123456789012345678901234567890, -123456789012345678901234567890, 9223372036854775807, 9223372036854775808, -9223372036854775808, -9223372036854775809]", "[123456789012345678901234567890, -123456789012345678901234567890, 9223372036854775807, 9223372036854775808, -9223372036854775808, -9223372036854775809]"},
	// json.dumps(json.loads(b'"\\ud83d\\ude00 \\ud800 x \\udc00 \\ud800\\u0041 \\uDBFF\\uDFFF"'))
	{"\"\\ud83d\\ude00 \\ud800 x \\udc00 \\ud800\\u0041 \\uDBFF\\uDFFF\"", "\"\\ud83d\\ude00 \\ud800 x \\udc00 \\ud800A \\udbff\\udfff\""},
	// json.dumps(json.loads(b'"raw UTF-8: \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\x7f"'))
	{"\"raw UTF-8: \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\x7f\"", "\"raw UTF-8: \\u00e9\\u20ac\\ud83d\\ude00\\u007f\""},
	// json.dumps(json.loads(b'[[[{"a": [[{}]]}], []], {}]'))
	{"[[[{\"a\": [[{}]]}], []], {}]", "[[[{\"a\": [[{}]]}], []], {}]"},
	// json.dumps(json.loads(b'\xef\xbb\xbf{"bom": true}'))
	{"\xef\xbb\xbf{\"bom\": true}", "{\"bom\": true}"},
	// json.dumps(json.loads(b'{"sha256": [{"pcrs": [11], "pkfp": "ab", "pol": "cd", "sig": "ef"}]}'))
	{"{\"sha256\": [{\"pcrs\": [11], \"pkfp\": \"ab\", \"pol\": \"cd\", \"sig\": \"ef\"}]}", "{\"sha256\": [{\"pcrs\": [11], \"pkfp\": \"ab\", \"pol\": \"cd\", \"sig\": \"ef\"}]}"},
	// json.dumps(json.loads(b'"\xed\xa0\x80\xed\xb0\x80 \xed\xbf\xbf"'))
	{"\"\xed\xa0\x80\xed\xb0\x80 \xed\xbf\xbf\"", "\"\\ud800\\udc00 \\udfff\""},
}

func TestUnmarshal(t *testing.T) {
	for _, tt := range unmarshalTests {
		v, err := Unmarshal([]byte(tt.in))
		if err != nil {
			t.Errorf("Unmarshal(%q): %v", tt.in, err)
			continue
		}
		got, err := Marshal(v)
		if err != nil {
			t.Errorf("Marshal(Unmarshal(%q)): %v", tt.in, err)
			continue
		}
		if string(got) != tt.want {
			t.Errorf("Marshal(Unmarshal(%q)):\n got %s\nwant %s", tt.in, got, tt.want)
		}
	}
}

func TestUnmarshalTypes(t *testing.T) {
	v, err := Unmarshal([]byte(`[1, -9223372036854775808, 9223372036854775808, 1.0, 1e2, "s", true, null, {}, []]`))
	if err != nil {
		t.Fatal(err)
	}
	l := v.([]any)
	if l[0] != int64(1) || l[1] != int64(math.MinInt64) {
		t.Errorf("small integers not decoded as int64: %#v %#v", l[0], l[1])
	}
	if b, ok := l[2].(*big.Int); !ok || b.String() != "9223372036854775808" {
		t.Errorf("large integer not decoded as *big.Int: %#v", l[2])
	}
	if l[3] != 1.0 || l[4] != 100.0 {
		t.Errorf("floats: %#v %#v", l[3], l[4])
	}
	if l[5] != "s" || l[6] != true || l[7] != nil {
		t.Errorf("scalars: %#v %#v %#v", l[5], l[6], l[7])
	}
	if o, ok := l[8].(*Object); !ok || o.Len() != 0 {
		t.Errorf("object: %#v", l[8])
	}
	if a, ok := l[9].([]any); !ok || a == nil || len(a) != 0 {
		t.Errorf("array: %#v", l[9])
	}
}

func TestUnmarshalObject(t *testing.T) {
	o, err := UnmarshalObject([]byte(`{"z": [1], "a": {"q": "x"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(o.Keys(), []string{"z", "a"}) {
		t.Errorf("keys %v", o.Keys())
	}
	// Modify and write back, like ukify does with json.loads/json.dumps:
	// d = json.loads('{"z": [1], "a": {"q": "x"}}'); d["z"].append(2);
	// d["new"] = None; json.dumps(d, indent=4)
	z, _ := o.Get("z")
	o.Set("z", append(z.([]any), 2))
	o.Set("new", nil)
	got, err := MarshalIndent(o, 4)
	if err != nil {
		t.Fatal(err)
	}
	const want = "{\n    \"z\": [\n        1,\n        2\n    ],\n    \"a\": {\n        \"q\": \"x\"\n    },\n    \"new\": null\n}"
	if string(got) != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
	for _, in := range []string{`[]`, `"x"`, `1`, `null`} {
		if _, err := UnmarshalObject([]byte(in)); err == nil {
			t.Errorf("UnmarshalObject(%s): no error", in)
		}
	}
}

// Python's json.loads rejects all of these.
var unmarshalErrorTests = []string{
	"",                   // json.loads(b'') raises JSONDecodeError
	" ",                  // json.loads(b' ') raises JSONDecodeError
	"[1,]",               // json.loads(b'[1,]') raises JSONDecodeError
	"{\"a\": 1,}",        // json.loads(b'{"a": 1,}') raises JSONDecodeError
	"{'a': 1}",           // json.loads(b"{'a': 1}") raises JSONDecodeError
	"[1 2]",              // json.loads(b'[1 2]') raises JSONDecodeError
	"{\"a\" 1}",          // json.loads(b'{"a" 1}') raises JSONDecodeError
	"{\"a\": }",          // json.loads(b'{"a": }') raises JSONDecodeError
	"01",                 // json.loads(b'01') raises JSONDecodeError
	"1.",                 // json.loads(b'1.') raises JSONDecodeError
	".5",                 // json.loads(b'.5') raises JSONDecodeError
	"+1",                 // json.loads(b'+1') raises JSONDecodeError
	"-",                  // json.loads(b'-') raises JSONDecodeError
	"1 2",                // json.loads(b'1 2') raises JSONDecodeError
	"1e",                 // json.loads(b'1e') raises JSONDecodeError
	"[1.]",               // json.loads(b'[1.]') raises JSONDecodeError
	"\"\x01\"",           // json.loads(b'"\x01"') raises JSONDecodeError
	"\"a\tb\"",           // json.loads(b'"a\tb"') raises JSONDecodeError
	"\"\\x\"",            // json.loads(b'"\\x"') raises JSONDecodeError
	"\"\\u12\"",          // json.loads(b'"\\u12"') raises JSONDecodeError
	"\"\\u12G4\"",        // json.loads(b'"\\u12G4"') raises JSONDecodeError
	"\"\\ud800\\uZZZZ\"", // json.loads(b'"\\ud800\\uZZZZ"') raises JSONDecodeError
	"[",                  // json.loads(b'[') raises JSONDecodeError
	"{",                  // json.loads(b'{') raises JSONDecodeError
	"\"abc",              // json.loads(b'"abc') raises JSONDecodeError
	"\"abc\\",            // json.loads(b'"abc\\') raises JSONDecodeError
	"nul",                // json.loads(b'nul') raises JSONDecodeError
	"tru",                // json.loads(b'tru') raises JSONDecodeError
	"-NaN",               // json.loads(b'-NaN') raises JSONDecodeError
	"nan",                // json.loads(b'nan') raises JSONDecodeError
	"inf",                // json.loads(b'inf') raises JSONDecodeError
	"[NaN,]",             // json.loads(b'[NaN,]') raises JSONDecodeError
	"{1: 2}",             // json.loads(b'{1: 2}') raises JSONDecodeError
	"[\"a\"]]",           // json.loads(b'["a"]]') raises JSONDecodeError
	"\"\xff\"",           // json.loads(b'"\xff"') raises UnicodeDecodeError
	"\"\xc3\"",           // json.loads(b'"\xc3"') raises UnicodeDecodeError
	"\"\xed\xa0\"",       // json.loads(b'"\xed\xa0"') raises UnicodeDecodeError
	"[1]\xff",            // json.loads(b'[1]\xff') raises UnicodeDecodeError
	// json.loads("1" * 4301) raises ValueError: Exceeds the limit (4300
	// digits) for integer string conversion
	strings.Repeat("1", 4301),
	"-" + strings.Repeat("1", 4301),
	// Deeper than MaxDepth.
	strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1),
}

func TestUnmarshalErrors(t *testing.T) {
	for _, in := range unmarshalErrorTests {
		v, err := Unmarshal([]byte(in))
		if err == nil {
			t.Errorf("Unmarshal(%.40q) = %v, want error", in, v)
		}
	}
	// json.loads("1" * 4300) and json.loads("-" + "1" * 4300) succeed.
	for _, in := range []string{strings.Repeat("1", 4300), "-" + strings.Repeat("1", 4300)} {
		if _, err := Unmarshal([]byte(in)); err != nil {
			t.Errorf("Unmarshal(%.10q...): %v", in, err)
		}
	}
	deep := strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth)
	if _, err := Unmarshal([]byte(deep)); err != nil {
		t.Errorf("MaxDepth levels rejected: %v", err)
	}
}

func TestSyntaxError(t *testing.T) {
	// json.loads('{"a": 1,\n  "b" 2}') raises
	// json.decoder.JSONDecodeError: Expecting ':' delimiter: line 2 column 7 (char 15)
	_, err := Unmarshal([]byte("{\"a\": 1,\n  \"b\" 2}"))
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("error %v is not a *SyntaxError", err)
	}
	if se.Msg != "Expecting ':' delimiter" || se.Line != 2 || se.Column != 7 || se.Offset != 15 {
		t.Errorf("got %+v", *se)
	}
}

func TestRoundTrip(t *testing.T) {
	for _, tt := range marshalTests {
		for _, indent := range []int{-1, 0, 4} {
			var want []byte
			var err error
			enc := func(v any) ([]byte, error) {
				if indent < 0 {
					return Marshal(v)
				}
				return MarshalIndent(v, indent)
			}
			if want, err = enc(tt.v); err != nil {
				t.Fatal(err)
			}
			v, err := Unmarshal(want)
			if err != nil {
				t.Fatalf("%s: Unmarshal(%s): %v", tt.name, want, err)
			}
			got, err := enc(v)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Errorf("%s, indent %d: round trip changed\n%s\ninto\n%s", tt.name, indent, want, got)
			}
		}
	}
}

func FuzzMarshalString(f *testing.F) {
	for _, s := range []string{"", "a", "\"\\/\b\f\n\r\t\x00\x7f", "é€\U0001F600", "<>&", "\xff", "\xed\xa0\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range b {
			if c < 0x20 || c >= 0x7f {
				t.Fatalf("Marshal(%q) = %q contains a non-printable or non-ASCII byte", s, b)
			}
		}
		if utf8.ValidString(s) {
			var dec string
			if err := json.Unmarshal(b, &dec); err != nil {
				t.Fatalf("encoding/json cannot decode Marshal(%q) = %s: %v", s, b, err)
			}
			if dec != s {
				t.Fatalf("encoding/json decodes Marshal(%q) = %s as %q", s, b, dec)
			}
		}
		v, err := Unmarshal(b)
		if err != nil {
			t.Fatalf("Unmarshal(Marshal(%q) = %s): %v", s, b, err)
		}
		if utf8.ValidString(s) && v != s {
			t.Fatalf("Unmarshal(Marshal(%q)) = %q", s, v)
		}
		b2, err := Marshal(v)
		if err != nil || string(b2) != string(b) {
			t.Fatalf("re-encoding of %q: %s, want %s (%v)", s, b2, b, err)
		}
	})
}

func FuzzUnmarshal(f *testing.F) {
	for _, tt := range unmarshalTests {
		f.Add([]byte(tt.in))
	}
	for _, in := range unmarshalErrorTests[:10] {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Unmarshal(data)
		if err != nil {
			return
		}
		for _, indent := range []int{-1, 2} {
			enc := func(v any) ([]byte, error) {
				if indent < 0 {
					return Marshal(v)
				}
				return MarshalIndent(v, indent)
			}
			b, err := enc(v)
			if err != nil {
				t.Fatalf("Marshal(Unmarshal(%q)): %v", data, err)
			}
			v2, err := Unmarshal(b)
			if err != nil {
				t.Fatalf("Unmarshal(%q): %v", b, err)
			}
			b2, err := enc(v2)
			if err != nil || string(b2) != string(b) {
				t.Fatalf("round trip of %q: %q != %q (%v)", data, b2, b, err)
			}
		}
	})
}
