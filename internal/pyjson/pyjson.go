// Package pyjson encodes and decodes JSON exactly the way CPython 3.11's
// json module does with its default options.
//
// ukify (and systemd-measure, whose output ukify embeds) writes JSON with
// Python's json.dump/json.dumps, and ukibuild must reproduce that output
// byte for byte. The standard library's encoding/json cannot be used for
// that purpose:
//
//   - it escapes '<', '>' and '&' as \u003c, \u003e and \u0026, whereas
//     Python leaves them alone;
//   - it writes non-ASCII characters (and DEL) as raw UTF-8, whereas Python's
//     default ensure_ascii=True writes them as \uXXXX escapes with lowercase
//     hexadecimal digits, using UTF-16 surrogate pairs above U+FFFF;
//   - its separators differ: Python writes ", " and ": " on a single line
//     when no indent is given, and "," and ": " with indent;
//   - it formats floating point numbers differently from Python's
//     float.__repr__ (1e+16, 1.0, Infinity, NaN);
//   - Go maps are unordered, while Python dicts keep insertion order, which
//     json.dumps preserves (sort_keys=False).
//
// No maintained Go library reproduces CPython's json formatting, so this
// package implements it by hand.
//
// # Encoding
//
// Marshal corresponds to json.dumps(v) and MarshalIndent to
// json.dumps(v, indent=n). Supported values are:
//
//   - nil (null), bool, every Go integer type, *big.Int (Python int)
//   - float64 (Python float, formatted like float.__repr__; NaN and
//     infinities are written as NaN, Infinity and -Infinity as with Python's
//     default allow_nan=True)
//   - string, and *Object (Python dict with insertion order)
//   - []any, []string, []*Object and, through reflection, any other slice or
//     array whose elements are supported (Python list); named types whose
//     underlying kind is one of the above are accepted as well.
//
// Any other type (maps, structs, float32, []byte, pointers other than
// *Object and *big.Int, ...) makes Marshal return an error; it never panics.
// A nil *Object or nil *big.Int encodes as null, while a nil slice encodes
// as [] (a Python list is never "nil").
// Like Python, Marshal reports an error instead of recursing forever when a
// container (an *Object or a slice of interface values) contains itself,
// and it refuses to print integers with more than 4300 decimal digits
// (Python 3.11's default int max_str_digits limit).
//
// Go strings may hold bytes that are not valid UTF-8, which a Python str
// cannot. Marshal writes each such byte as \ufffd (U+FFFD, the replacement
// character), with one exception: a three-byte sequence that would encode a
// UTF-16 surrogate code point (ED A0..BF 80..BF, as produced by Unmarshal
// for lone surrogate escapes) is written as the \udXXX escape of that
// surrogate, which is what Python prints for a str holding a lone surrogate.
// Callers handling arbitrary bytes should decode them into proper text
// first.
//
// # Decoding
//
// Unmarshal corresponds to json.loads applied to bytes. JSON objects
// become *Object (keeping key order; a duplicate key keeps the position of
// its first occurrence and the value of its last, like a Python dict),
// arrays become []any, strings become string, integers become int64 or,
// when they do not fit, *big.Int, numbers with a fraction or exponent
// become float64, and NaN, Infinity and -Infinity are accepted. Encoding a
// decoded value with Marshal therefore prints the same text as
// json.dumps(json.loads(data)).
//
// Deviations from json.loads: the input must be UTF-8 (a leading UTF-8
// byte order mark is skipped, as Python does for bytes input, but UTF-16
// and UTF-32 input is rejected); nesting deeper than MaxDepth is rejected
// (Python's limit comes from its recursion limit and is lower); error
// offsets are byte offsets rather than character offsets. Lone surrogate
// escapes such as "\ud800" are stored in the Go string as the three-byte
// (WTF-8 style) encoding of the surrogate so that Marshal can print them
// back unchanged.
package pyjson

import (
	"iter"
	"slices"
)

// Object is a JSON object that keeps the insertion order of its keys, like
// a Python dict. The zero value is an empty object ready to use. An Object
// must not be copied after first use; pass *Object around instead.
type Object struct {
	keys []string
	vals map[string]any
}

// NewObject returns an empty object.
func NewObject() *Object {
	return &Object{}
}

// Set sets key to v. A new key is appended at the end; setting an existing
// key replaces its value but keeps its position, like assigning to a key of
// a Python dict.
func (o *Object) Set(key string, v any) {
	if o.vals == nil {
		o.vals = make(map[string]any)
	}
	if _, ok := o.vals[key]; !ok {
		o.keys = append(o.keys, key)
	}
	o.vals[key] = v
}

// Get returns the value stored under key and whether the key is present.
// It may be called on a nil *Object, which behaves as an empty object.
func (o *Object) Get(key string) (any, bool) {
	if o == nil {
		return nil, false
	}
	v, ok := o.vals[key]
	return v, ok
}

// Delete removes key and reports whether it was present. Setting the key
// again later appends it at the end, like del followed by assignment in
// Python.
func (o *Object) Delete(key string) bool {
	if o == nil {
		return false
	}
	if _, ok := o.vals[key]; !ok {
		return false
	}
	delete(o.vals, key)
	o.keys = slices.DeleteFunc(o.keys, func(k string) bool { return k == key })
	return true
}

// Keys returns a copy of the keys in insertion order.
func (o *Object) Keys() []string {
	if o == nil {
		return nil
	}
	return slices.Clone(o.keys)
}

// Len returns the number of keys.
func (o *Object) Len() int {
	if o == nil {
		return 0
	}
	return len(o.keys)
}

// All returns an iterator over the key/value pairs in insertion order. The
// keys are those present when iteration starts; keys deleted during the
// iteration are skipped and keys added during it are not visited.
func (o *Object) All() iter.Seq2[string, any] {
	return func(yield func(string, any) bool) {
		if o == nil {
			return
		}
		for _, k := range slices.Clone(o.keys) {
			v, ok := o.vals[k]
			if !ok {
				continue
			}
			if !yield(k, v) {
				return
			}
		}
	}
}
