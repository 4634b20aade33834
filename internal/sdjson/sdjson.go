// Package sdjson parses, compares and prints JSON as systemd's sd-json does, for
// the output and the --append input of systemd-measure.
//
// It emulates the parts of systemd's sd-json (src/libsystemd/sd-json/
// sd-json.c, systemd 262) that systemd-measure's sign and policy-digest
// verbs use: parsing the --append file, comparing entries
// (sd_json_variant_append_array_nodup), replacing a bank's array
// (sd_json_variant_set_field) and printing (sd_json_variant_dump).
package sdjson

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strconv"
	"unicode/utf8"

	"github.com/ukibuild/ukibuild/internal/pyjson"
)

type Kind uint8

const (
	Null Kind = iota
	Bool
	Integer  // int64
	Unsigned // uint64
	Real     // float64, never zero, NaN or infinite (see NewReal)
	String
	Array
	Object
)

// Value is one sd_json variant. Objects keep their members in order and
// may hold a key more than once, as sd_json's parser allows.
type Value struct {
	Kind    Kind
	b       bool
	i       int64
	u       uint64
	f       float64
	s       string
	Elems   []*Value
	Members []Member
	// zero marks the magic zero numbers (JSON_VARIANT_MAGIC_ZERO_*): they
	// compare equal to any number type.
	zero bool
}

type Member struct {
	Key   string
	Value *Value
}

func NewInteger(i int64) *Value {
	return &Value{Kind: Integer, i: i, zero: i == 0}
}

func NewUnsigned(u uint64) *Value {
	return &Value{Kind: Unsigned, u: u, zero: u == 0}
}

// NewReal mirrors sd_json_variant_new_real: NaN and infinities become
// null, both zeros become the magic zero real.
func NewReal(f float64) *Value {
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return &Value{Kind: Null}
	case f == 0:
		return &Value{Kind: Real, zero: true}
	}
	return &Value{Kind: Real, f: f}
}

func NewString(s string) *Value { return &Value{Kind: String, s: s} }

func (v *Value) Clone() *Value {
	c := *v
	if v.Elems != nil {
		c.Elems = make([]*Value, len(v.Elems))
		for i, e := range v.Elems {
			c.Elems[i] = e.Clone()
		}
	}
	if v.Members != nil {
		c.Members = make([]Member, len(v.Members))
		for i, m := range v.Members {
			c.Members[i] = Member{m.Key, m.Value.Clone()}
		}
	}
	return &c
}

// byKey mirrors sd_json_variant_by_key on an unsorted object: the first
// member with that key.
func (v *Value) ByKey(key string) *Value {
	if v == nil || v.Kind != Object {
		return nil
	}
	for _, m := range v.Members {
		if m.Key == key {
			return m.Value
		}
	}
	return nil
}

// setField mirrors sd_json_variant_set_field: every member called key is
// removed and key is appended at the end with value.
func (v *Value) SetField(key string, value *Value) {
	kept := v.Members[:0]
	for _, m := range v.Members {
		if m.Key != key {
			kept = append(kept, m)
		}
	}
	v.Members = append(kept, Member{key, value})
}

// hasType mirrors sd_json_variant_has_type for the comparisons of
// sd_json_variant_equal.
func (v *Value) hasType(t Kind) bool {
	if v.Kind == t {
		return true
	}
	number := func(k Kind) bool { return k == Integer || k == Unsigned || k == Real }
	if !number(v.Kind) || !number(t) {
		return false
	}
	if v.zero {
		return true
	}
	switch {
	case v.Kind == Integer && t == Unsigned:
		return v.i >= 0
	case v.Kind == Unsigned && t == Integer:
		return v.u <= math.MaxInt64
	case v.Kind == Integer && t == Real:
		f := float64(v.i) // (int64_t) (double) i == i, without C's overflow
		return f < 0x1p63 && int64(f) == v.i
	case v.Kind == Unsigned && t == Real:
		f := float64(v.u)
		return f < 0x1p64 && uint64(f) == v.u
	case v.Kind == Real && t == Integer:
		return v.f >= -0x1p63 && v.f < 0x1p63 && float64(int64(v.f)) == v.f
	case v.Kind == Real && t == Unsigned:
		return v.f >= 0 && v.f < 0x1p64 && float64(uint64(v.f)) == v.f
	}
	return false
}

func (v *Value) asInteger() int64 {
	switch v.Kind {
	case Unsigned:
		return int64(v.u)
	case Real:
		return int64(v.f)
	}
	return v.i
}

func (v *Value) asUnsigned() uint64 {
	switch v.Kind {
	case Integer:
		return uint64(v.i)
	case Real:
		return uint64(v.f)
	}
	return v.u
}

func (v *Value) asReal() float64 {
	switch v.Kind {
	case Integer:
		return float64(v.i)
	case Unsigned:
		return float64(v.u)
	}
	return v.f
}

// Equal mirrors sd_json_variant_equal: numbers compare by value across
// types, objects compare as multisets of members (order does not matter).
func Equal(a, b *Value) bool {
	if !b.hasType(a.Kind) {
		return false
	}
	switch a.Kind {
	case Null:
		return true
	case Bool:
		return a.b == b.b
	case String:
		return a.s == b.s
	case Integer:
		return a.asInteger() == b.asInteger()
	case Unsigned:
		return a.asUnsigned() == b.asUnsigned()
	case Real:
		return a.asReal() == b.asReal()
	case Array:
		if len(a.Elems) != len(b.Elems) {
			return false
		}
		for i := range a.Elems {
			if !Equal(a.Elems[i], b.Elems[i]) {
				return false
			}
		}
		return true
	case Object:
		if len(a.Members) != len(b.Members) {
			return false
		}
		used := make([]bool, len(b.Members))
		for _, am := range a.Members {
			found := false
			for j, bm := range b.Members {
				if used[j] || am.Key != bm.Key || !Equal(am.Value, bm.Value) {
					continue
				}
				used[j], found = true, true
				break
			}
			if !found {
				return false
			}
		}
		return true
	}
	return false
}

// sdMaxDepth is sd-json's nesting limit (DEPTH_MAX).
const sdMaxDepth = 2048

// Parse parses data like sd_json_parse_file: a NUL byte anywhere is
// refused (read_full_file), whitespace is " \t\n\r", strings must be valid
// UTF-8 without control characters, DEL, noncharacters or \u0000, numbers
// become unsigned, signed or (with a fraction or exponent, or when they
// overflow) real values computed the way sd-json does.
func Parse(data []byte) (*Value, error) {
	if i := bytes.IndexByte(data, 0); i >= 0 {
		return nil, fmt.Errorf("JSON: NUL byte at offset %d", i)
	}
	p := &sdParser{data: data}
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos != len(p.data) {
		return nil, p.errorf("trailing data")
	}
	return v, nil
}

type sdParser struct {
	data []byte
	pos  int
}

func (p *sdParser) errorf(format string, args ...any) error {
	return fmt.Errorf("JSON: offset %d: %s", p.pos, fmt.Sprintf(format, args...))
}

func (p *sdParser) skipSpace() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *sdParser) peek() byte {
	if p.pos < len(p.data) {
		return p.data[p.pos]
	}
	return 0
}

func (p *sdParser) value(depth int) (*Value, error) {
	if depth >= sdMaxDepth {
		return nil, p.errorf("nested too deeply")
	}
	p.skipSpace()
	c := p.peek()
	switch {
	case c == '{':
		p.pos++
		obj := &Value{Kind: Object, Members: []Member{}}
		p.skipSpace()
		if p.peek() == '}' {
			p.pos++
			return obj, nil
		}
		for {
			p.skipSpace()
			if p.peek() != '"' {
				return nil, p.errorf("object key expected")
			}
			key, err := p.str()
			if err != nil {
				return nil, err
			}
			p.skipSpace()
			if p.peek() != ':' {
				return nil, p.errorf("':' expected")
			}
			p.pos++
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			obj.Members = append(obj.Members, Member{key, v})
			p.skipSpace()
			switch p.peek() {
			case ',':
				p.pos++
			case '}':
				p.pos++
				return obj, nil
			default:
				return nil, p.errorf("',' or '}' expected")
			}
		}
	case c == '[':
		p.pos++
		arr := &Value{Kind: Array, Elems: []*Value{}}
		p.skipSpace()
		if p.peek() == ']' {
			p.pos++
			return arr, nil
		}
		for {
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			arr.Elems = append(arr.Elems, v)
			p.skipSpace()
			switch p.peek() {
			case ',':
				p.pos++
			case ']':
				p.pos++
				return arr, nil
			default:
				return nil, p.errorf("',' or ']' expected")
			}
		}
	case c == '"':
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		return NewString(s), nil
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	}
	for _, lit := range []struct {
		text string
		v    Value
	}{{"true", Value{Kind: Bool, b: true}}, {"false", Value{Kind: Bool}}, {"null", Value{Kind: Null}}} {
		if bytes.HasPrefix(p.data[p.pos:], []byte(lit.text)) {
			p.pos += len(lit.text)
			v := lit.v
			return &v, nil
		}
	}
	return nil, p.errorf("value expected")
}

// str parses a string like json_parse_string and then checks it like
// sd_json_variant_new_string.
func (p *sdParser) str() (string, error) {
	p.pos++ // opening quote
	var out []byte
	for {
		if p.pos >= len(p.data) {
			return "", p.errorf("unterminated string")
		}
		c := p.data[p.pos]
		switch {
		case c < ' ' || c == 0x7f:
			return "", p.errorf("control character in string")
		case c == '"':
			p.pos++
			if !ValidUTF8(out) {
				return "", p.errorf("string is not valid UTF-8")
			}
			return string(out), nil
		case c == '\\':
			p.pos++
			if p.pos >= len(p.data) {
				return "", p.errorf("unterminated string")
			}
			e := p.data[p.pos]
			switch e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				x, ok := p.hex4(p.pos + 1)
				if !ok {
					return "", p.errorf("bad \\u escape")
				}
				p.pos += 5
				r := rune(x)
				switch {
				case x >= 0xdc00 && x <= 0xdfff:
					return "", p.errorf("lone low surrogate")
				case x >= 0xd800 && x <= 0xdbff:
					if p.pos+1 >= len(p.data) || p.data[p.pos] != '\\' || p.data[p.pos+1] != 'u' {
						return "", p.errorf("lone high surrogate")
					}
					y, ok := p.hex4(p.pos + 2)
					if !ok {
						return "", p.errorf("bad \\u escape")
					}
					if y < 0xdc00 || y > 0xdfff {
						return "", p.errorf("bad surrogate pair")
					}
					p.pos += 6
					r = 0x10000 + (rune(x)-0xd800)<<10 + (rune(y) - 0xdc00)
				}
				out = utf8.AppendRune(out, r)
				continue
			default:
				return "", p.errorf("bad escape")
			}
			p.pos++
		default:
			n := sdRuneLen(p.data[p.pos:])
			if n < 0 {
				return "", p.errorf("invalid UTF-8")
			}
			out = append(out, p.data[p.pos:p.pos+n]...)
			p.pos += n
		}
	}
}

// hex4 decodes four hex digits at i; like sd-json's unhex_ucs2 it refuses
// \u0000.
func (p *sdParser) hex4(i int) (uint16, bool) {
	if i+4 > len(p.data) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(p.data[i:i+4]), 16, 16)
	if err != nil || v == 0 {
		return 0, false
	}
	return uint16(v), true
}

// sdRuneLen returns the length of the valid UTF-8 character at the start of
// b, as systemd's utf8_encoded_valid_unichar, or -1.
func sdRuneLen(b []byte) int {
	r, n := utf8.DecodeRune(b)
	if r == utf8.RuneError && n <= 1 || !sdValidRune(r) {
		return -1
	}
	return n
}

// sdValidRune is systemd's unichar_is_valid: no surrogates, nothing above
// U+10FFFF, and no noncharacters U+FDD0..U+FDEF or U+xxFFFE/U+xxFFFF.
func sdValidRune(r rune) bool {
	return r >= 0 && r < 0x110000 && r&^0x7ff != 0xd800 && (r < 0xfdd0 || r > 0xfdef) && r&0xfffe != 0xfffe
}

func ValidUTF8(b []byte) bool {
	for len(b) > 0 {
		n := sdRuneLen(b)
		if n < 0 {
			return false
		}
		b = b[n:]
	}
	return true
}

// number mirrors json_parse_number: integers that fit become unsigned (or,
// when negative, signed) values; anything else is computed in doubles as
// ±(intpart + frac/10^k) * sdPow10(±exp), with each digit accumulated by
// x = 10*x + d. (Checked against systemd-measure 262.1 with thousands of
// random numbers, see TestSignAppendNumbers.)
func (p *sdParser) number() (*Value, error) {
	neg, expNeg, isReal := false, false, false
	var x, y, exponent, shift float64 = 0, 0, 0, 1
	var i int64
	var u uint64
	digit := func() bool { c := p.peek(); return c >= '0' && c <= '9' }

	if p.peek() == '-' {
		neg = true
		p.pos++
	}
	if p.peek() == '0' {
		p.pos++
	} else {
		if !digit() {
			return nil, p.errorf("digit expected")
		}
		for digit() {
			d := int64(p.peek() - '0')
			if !isReal {
				if neg {
					if i < math.MinInt64/10 {
						isReal = true
					} else if t := 10 * i; t < math.MinInt64+d {
						isReal = true
					} else {
						i = t - d
					}
				} else {
					if u > math.MaxUint64/10 {
						isReal = true
					} else if t := 10 * u; t > math.MaxUint64-uint64(d) {
						isReal = true
					} else {
						u = t + uint64(d)
					}
				}
			}
			x = float64(10*x) + float64(d)
			p.pos++
		}
	}
	if p.peek() == '.' {
		isReal = true
		p.pos++
		if !digit() {
			return nil, p.errorf("digit expected")
		}
		for digit() {
			y = float64(10*y) + float64(p.peek()-'0')
			shift = float64(10 * shift)
			p.pos++
		}
	}
	if c := p.peek(); c == 'e' || c == 'E' {
		isReal = true
		p.pos++
		switch p.peek() {
		case '-':
			expNeg = true
			p.pos++
		case '+':
			p.pos++
		}
		if !digit() {
			return nil, p.errorf("digit expected")
		}
		for digit() {
			exponent = float64(10*exponent) + float64(p.peek()-'0')
			p.pos++
		}
	}
	switch {
	case isReal:
		sign := 1.0
		if neg {
			sign = -1
		}
		if expNeg {
			exponent = -exponent
		}
		m := float64(sign * float64(x+float64(y/shift)))
		return NewReal(float64(m * sdPow10(exponent))), nil
	case neg:
		return NewInteger(i), nil
	default:
		return NewUnsigned(u), nil
	}
}

// sdPow10 returns the power of ten sd-json 262 scales a number's mantissa
// with: 10 multiplied by itself |e| times in doubles (infinite from 10^309
// on), and for negative exponents the reciprocal of that, so that 1e-309
// and smaller become zero. (This is not a correctly rounded 10^e: 1e23 and
// 1e62 differ from what strtod reads, for instance.)
func sdPow10(e float64) float64 {
	n := math.Abs(e)
	p := 1.0
	for i := 0.0; i < n && i < 400; i++ {
		p = float64(p * 10)
	}
	if e < 0 {
		return 1 / p
	}
	return p
}

// Format mirrors sd_json_variant_dump's json_format: compact output uses
// "," and ":" without spaces; pretty output puts every element on its own
// line indented with tabs and separates keys from values with " : ".
func Format(buf *bytes.Buffer, v *Value, pretty bool, prefix string) {
	switch v.Kind {
	case Null:
		buf.WriteString("null")
	case Bool:
		buf.WriteString(strconv.FormatBool(v.b))
	case Integer:
		buf.WriteString(strconv.FormatInt(v.i, 10))
	case Unsigned:
		buf.WriteString(strconv.FormatUint(v.u, 10))
	case Real:
		// printf("%.*e", DECIMAL_DIG, ...) with DECIMAL_DIG = 21.
		buf.WriteString(strconv.FormatFloat(v.f, 'e', 21, 64))
	case String:
		formatSDString(buf, v.s)
	case Array, Object:
		open, closing := byte('['), byte(']')
		n := len(v.Elems)
		if v.Kind == Object {
			open, closing, n = '{', '}', len(v.Members)
		}
		if n == 0 {
			buf.WriteByte(open)
			buf.WriteByte(closing)
			return
		}
		inner := prefix
		buf.WriteByte(open)
		if pretty {
			inner = prefix + "\t"
			buf.WriteByte('\n')
		}
		for i := 0; i < n; i++ {
			if i > 0 {
				buf.WriteByte(',')
				if pretty {
					buf.WriteByte('\n')
				}
			}
			if pretty {
				buf.WriteString(inner)
			}
			if v.Kind == Array {
				Format(buf, v.Elems[i], pretty, inner)
				continue
			}
			formatSDString(buf, v.Members[i].Key)
			if pretty {
				buf.WriteString(" : ")
			} else {
				buf.WriteByte(':')
			}
			Format(buf, v.Members[i].Value, pretty, inner)
		}
		if pretty {
			buf.WriteByte('\n')
			buf.WriteString(prefix)
		}
		buf.WriteByte(closing)
	}
}

// formatSDString mirrors json_format_string: only '"', '\\' and the C0
// control characters are escaped; everything else, DEL and non-ASCII
// included, is written as it is.
func formatSDString(buf *bytes.Buffer, s string) {
	buf.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			buf.WriteString(`\"`)
		case '\\':
			buf.WriteString(`\\`)
		case '\b':
			buf.WriteString(`\b`)
		case '\f':
			buf.WriteString(`\f`)
		case '\n':
			buf.WriteString(`\n`)
		case '\r':
			buf.WriteString(`\r`)
		case '\t':
			buf.WriteString(`\t`)
		default:
			if c < ' ' {
				fmt.Fprintf(buf, `\u%04x`, c)
			} else {
				buf.WriteByte(c)
			}
		}
	}
	buf.WriteByte('"')
}

// FromAny converts the values pyjson uses (nil, bool, integers, float64,
// *big.Int, string, slices, *pyjson.Object) into sd_json variants, as
// sd_json would store them when built from C values.
func FromAny(v any, depth int) (*Value, error) {
	if depth >= sdMaxDepth {
		return nil, errors.New("JSON value nested too deeply")
	}
	switch x := v.(type) {
	case nil:
		return &Value{Kind: Null}, nil
	case *Value:
		return x.Clone(), nil
	case bool:
		return &Value{Kind: Bool, b: x}, nil
	case string:
		if !ValidUTF8([]byte(x)) || bytes.IndexByte([]byte(x), 0) >= 0 {
			return nil, fmt.Errorf("JSON string %q is not valid for systemd's JSON", x)
		}
		return NewString(x), nil
	case float64:
		return NewReal(x), nil
	case *big.Int:
		switch {
		case x == nil:
			return &Value{Kind: Null}, nil
		case x.IsUint64():
			return NewUnsigned(x.Uint64()), nil
		case x.IsInt64():
			return NewInteger(x.Int64()), nil
		}
		return nil, fmt.Errorf("JSON: integer %v does not fit in 64 bits", x)
	case *pyjson.Object:
		if x == nil {
			return &Value{Kind: Null}, nil
		}
		obj := &Value{Kind: Object, Members: []Member{}}
		for k, e := range x.All() {
			ev, err := FromAny(e, depth+1)
			if err != nil {
				return nil, err
			}
			obj.Members = append(obj.Members, Member{k, ev})
		}
		return obj, nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if rv.Int() >= 0 {
			return NewUnsigned(uint64(rv.Int())), nil
		}
		return NewInteger(rv.Int()), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return NewUnsigned(rv.Uint()), nil
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() == reflect.Uint8 {
			return nil, errors.New("JSON: []byte has no JSON form (encode it as hex or base64 first)")
		}
		arr := &Value{Kind: Array, Elems: make([]*Value, 0, rv.Len())}
		for i := 0; i < rv.Len(); i++ {
			ev, err := FromAny(rv.Index(i).Interface(), depth+1)
			if err != nil {
				return nil, err
			}
			arr.Elems = append(arr.Elems, ev)
		}
		return arr, nil
	}
	return nil, fmt.Errorf("JSON: %T has no JSON form", v)
}

// Dump returns v as sd_json_variant_dump prints it: on one line, or pretty
// (one member or element per line, indented with tabs), followed by "\n"
// when newline is set.
func Dump(v *Value, pretty, newline bool) []byte {
	var buf bytes.Buffer
	Format(&buf, v, pretty, "")
	if newline {
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}
