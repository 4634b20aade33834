package pcr

// This file emulates the parts of systemd's sd-json (src/libsystemd/sd-json/
// sd-json.c, systemd 262) that systemd-measure's sign and policy-digest
// verbs use: parsing the --append file, comparing entries
// (sd_json_variant_append_array_nodup), replacing a bank's array
// (sd_json_variant_set_field) and printing (sd_json_variant_dump).

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

type sdKind uint8

const (
	sdNull sdKind = iota
	sdBool
	sdInteger  // int64
	sdUnsigned // uint64
	sdReal     // float64, never zero, NaN or infinite (see newSDReal)
	sdString
	sdArray
	sdObject
)

// sdValue is one sd_json variant. Objects keep their members in order and
// may hold a key more than once, as sd_json's parser allows.
type sdValue struct {
	kind    sdKind
	b       bool
	i       int64
	u       uint64
	f       float64
	s       string
	elems   []*sdValue
	members []sdMember
	// zero marks the magic zero numbers (JSON_VARIANT_MAGIC_ZERO_*): they
	// compare equal to any number type.
	zero bool
}

type sdMember struct {
	key   string
	value *sdValue
}

func newSDInteger(i int64) *sdValue {
	return &sdValue{kind: sdInteger, i: i, zero: i == 0}
}

func newSDUnsigned(u uint64) *sdValue {
	return &sdValue{kind: sdUnsigned, u: u, zero: u == 0}
}

// newSDReal mirrors sd_json_variant_new_real: NaN and infinities become
// null, both zeros become the magic zero real.
func newSDReal(f float64) *sdValue {
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return &sdValue{kind: sdNull}
	case f == 0:
		return &sdValue{kind: sdReal, zero: true}
	}
	return &sdValue{kind: sdReal, f: f}
}

func newSDString(s string) *sdValue { return &sdValue{kind: sdString, s: s} }

func (v *sdValue) clone() *sdValue {
	c := *v
	if v.elems != nil {
		c.elems = make([]*sdValue, len(v.elems))
		for i, e := range v.elems {
			c.elems[i] = e.clone()
		}
	}
	if v.members != nil {
		c.members = make([]sdMember, len(v.members))
		for i, m := range v.members {
			c.members[i] = sdMember{m.key, m.value.clone()}
		}
	}
	return &c
}

// byKey mirrors sd_json_variant_by_key on an unsorted object: the first
// member with that key.
func (v *sdValue) byKey(key string) *sdValue {
	if v == nil || v.kind != sdObject {
		return nil
	}
	for _, m := range v.members {
		if m.key == key {
			return m.value
		}
	}
	return nil
}

// setField mirrors sd_json_variant_set_field: every member called key is
// removed and key is appended at the end with value.
func (v *sdValue) setField(key string, value *sdValue) {
	kept := v.members[:0]
	for _, m := range v.members {
		if m.key != key {
			kept = append(kept, m)
		}
	}
	v.members = append(kept, sdMember{key, value})
}

// hasType mirrors sd_json_variant_has_type for the comparisons of
// sd_json_variant_equal.
func (v *sdValue) hasType(t sdKind) bool {
	if v.kind == t {
		return true
	}
	number := func(k sdKind) bool { return k == sdInteger || k == sdUnsigned || k == sdReal }
	if !number(v.kind) || !number(t) {
		return false
	}
	if v.zero {
		return true
	}
	switch {
	case v.kind == sdInteger && t == sdUnsigned:
		return v.i >= 0
	case v.kind == sdUnsigned && t == sdInteger:
		return v.u <= math.MaxInt64
	case v.kind == sdInteger && t == sdReal:
		f := float64(v.i) // (int64_t) (double) i == i, without C's overflow
		return f < 0x1p63 && int64(f) == v.i
	case v.kind == sdUnsigned && t == sdReal:
		f := float64(v.u)
		return f < 0x1p64 && uint64(f) == v.u
	case v.kind == sdReal && t == sdInteger:
		return v.f >= -0x1p63 && v.f < 0x1p63 && float64(int64(v.f)) == v.f
	case v.kind == sdReal && t == sdUnsigned:
		return v.f >= 0 && v.f < 0x1p64 && float64(uint64(v.f)) == v.f
	}
	return false
}

func (v *sdValue) asInteger() int64 {
	switch v.kind {
	case sdUnsigned:
		return int64(v.u)
	case sdReal:
		return int64(v.f)
	}
	return v.i
}

func (v *sdValue) asUnsigned() uint64 {
	switch v.kind {
	case sdInteger:
		return uint64(v.i)
	case sdReal:
		return uint64(v.f)
	}
	return v.u
}

func (v *sdValue) asReal() float64 {
	switch v.kind {
	case sdInteger:
		return float64(v.i)
	case sdUnsigned:
		return float64(v.u)
	}
	return v.f
}

// sdEqual mirrors sd_json_variant_equal: numbers compare by value across
// types, objects compare as multisets of members (order does not matter).
func sdEqual(a, b *sdValue) bool {
	if !b.hasType(a.kind) {
		return false
	}
	switch a.kind {
	case sdNull:
		return true
	case sdBool:
		return a.b == b.b
	case sdString:
		return a.s == b.s
	case sdInteger:
		return a.asInteger() == b.asInteger()
	case sdUnsigned:
		return a.asUnsigned() == b.asUnsigned()
	case sdReal:
		return a.asReal() == b.asReal()
	case sdArray:
		if len(a.elems) != len(b.elems) {
			return false
		}
		for i := range a.elems {
			if !sdEqual(a.elems[i], b.elems[i]) {
				return false
			}
		}
		return true
	case sdObject:
		if len(a.members) != len(b.members) {
			return false
		}
		used := make([]bool, len(b.members))
		for _, am := range a.members {
			found := false
			for j, bm := range b.members {
				if used[j] || am.key != bm.key || !sdEqual(am.value, bm.value) {
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

// parseSD parses data like sd_json_parse_file: a NUL byte anywhere is
// refused (read_full_file), whitespace is " \t\n\r", strings must be valid
// UTF-8 without control characters, DEL, noncharacters or \u0000, numbers
// become unsigned, signed or (with a fraction or exponent, or when they
// overflow) real values computed the way sd-json does.
func parseSD(data []byte) (*sdValue, error) {
	if i := bytes.IndexByte(data, 0); i >= 0 {
		return nil, fmt.Errorf("pcr: JSON: NUL byte at offset %d", i)
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
	return fmt.Errorf("pcr: JSON: offset %d: %s", p.pos, fmt.Sprintf(format, args...))
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

func (p *sdParser) value(depth int) (*sdValue, error) {
	if depth >= sdMaxDepth {
		return nil, p.errorf("nested too deeply")
	}
	p.skipSpace()
	c := p.peek()
	switch {
	case c == '{':
		p.pos++
		obj := &sdValue{kind: sdObject, members: []sdMember{}}
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
			obj.members = append(obj.members, sdMember{key, v})
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
		arr := &sdValue{kind: sdArray, elems: []*sdValue{}}
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
			arr.elems = append(arr.elems, v)
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
		return newSDString(s), nil
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	}
	for _, lit := range []struct {
		text string
		v    sdValue
	}{{"true", sdValue{kind: sdBool, b: true}}, {"false", sdValue{kind: sdBool}}, {"null", sdValue{kind: sdNull}}} {
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
			if !sdValidUTF8(out) {
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

func sdValidUTF8(b []byte) bool {
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
func (p *sdParser) number() (*sdValue, error) {
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
		return newSDReal(float64(m * sdPow10(exponent))), nil
	case neg:
		return newSDInteger(i), nil
	default:
		return newSDUnsigned(u), nil
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

// formatSD mirrors sd_json_variant_dump's json_format: compact output uses
// "," and ":" without spaces; pretty output puts every element on its own
// line indented with tabs and separates keys from values with " : ".
func formatSD(buf *bytes.Buffer, v *sdValue, pretty bool, prefix string) {
	switch v.kind {
	case sdNull:
		buf.WriteString("null")
	case sdBool:
		buf.WriteString(strconv.FormatBool(v.b))
	case sdInteger:
		buf.WriteString(strconv.FormatInt(v.i, 10))
	case sdUnsigned:
		buf.WriteString(strconv.FormatUint(v.u, 10))
	case sdReal:
		// printf("%.*e", DECIMAL_DIG, ...) with DECIMAL_DIG = 21.
		buf.WriteString(strconv.FormatFloat(v.f, 'e', 21, 64))
	case sdString:
		formatSDString(buf, v.s)
	case sdArray, sdObject:
		open, closing := byte('['), byte(']')
		n := len(v.elems)
		if v.kind == sdObject {
			open, closing, n = '{', '}', len(v.members)
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
			if v.kind == sdArray {
				formatSD(buf, v.elems[i], pretty, inner)
				continue
			}
			formatSDString(buf, v.members[i].key)
			if pretty {
				buf.WriteString(" : ")
			} else {
				buf.WriteByte(':')
			}
			formatSD(buf, v.members[i].value, pretty, inner)
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

// sdFromAny converts the values pyjson uses (nil, bool, integers, float64,
// *big.Int, string, slices, *pyjson.Object) into sd_json variants, as
// sd_json would store them when built from C values.
func sdFromAny(v any, depth int) (*sdValue, error) {
	if depth >= sdMaxDepth {
		return nil, errors.New("pcr: JSON value nested too deeply")
	}
	switch x := v.(type) {
	case nil:
		return &sdValue{kind: sdNull}, nil
	case *sdValue:
		return x.clone(), nil
	case bool:
		return &sdValue{kind: sdBool, b: x}, nil
	case string:
		if !sdValidUTF8([]byte(x)) || bytes.IndexByte([]byte(x), 0) >= 0 {
			return nil, fmt.Errorf("pcr: JSON string %q is not valid for sd-json", x)
		}
		return newSDString(x), nil
	case float64:
		return newSDReal(x), nil
	case *big.Int:
		switch {
		case x == nil:
			return &sdValue{kind: sdNull}, nil
		case x.IsUint64():
			return newSDUnsigned(x.Uint64()), nil
		case x.IsInt64():
			return newSDInteger(x.Int64()), nil
		}
		return nil, fmt.Errorf("pcr: integer %v does not fit in 64 bits", x)
	case *pyjson.Object:
		if x == nil {
			return &sdValue{kind: sdNull}, nil
		}
		obj := &sdValue{kind: sdObject, members: []sdMember{}}
		for k, e := range x.All() {
			ev, err := sdFromAny(e, depth+1)
			if err != nil {
				return nil, err
			}
			obj.members = append(obj.members, sdMember{k, ev})
		}
		return obj, nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if rv.Int() >= 0 {
			return newSDUnsigned(uint64(rv.Int())), nil
		}
		return newSDInteger(rv.Int()), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return newSDUnsigned(rv.Uint()), nil
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() == reflect.Uint8 {
			return nil, errors.New("pcr: []byte has no JSON form (encode it as hex or base64 first)")
		}
		arr := &sdValue{kind: sdArray, elems: make([]*sdValue, 0, rv.Len())}
		for i := 0; i < rv.Len(); i++ {
			ev, err := sdFromAny(rv.Index(i).Interface(), depth+1)
			if err != nil {
				return nil, err
			}
			arr.elems = append(arr.elems, ev)
		}
		return arr, nil
	}
	return nil, fmt.Errorf("pcr: %T has no JSON form", v)
}
