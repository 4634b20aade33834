package pyjson

import (
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strconv"
	"unicode/utf8"
	"unsafe"
)

// maxIntDigits is CPython 3.11's default limit on the number of decimal
// digits in an int converted to or from a string (sys.int_info.
// default_max_str_digits); json.dumps and json.loads fail beyond it.
const maxIntDigits = 4300

// Marshal returns the JSON encoding of v exactly as Python's json.dumps(v)
// prints it: everything on one line, items separated by ", " and keys from
// values by ": ", non-ASCII escaped. There is no trailing newline.
func Marshal(v any) ([]byte, error) {
	e := encoder{pretty: false}
	if err := e.encode(v, 0); err != nil {
		return nil, err
	}
	return e.buf, nil
}

// MarshalIndent returns the JSON encoding of v exactly as Python's
// json.dumps(v, indent=indent) prints it: every array element and object
// member on its own line, indented by indent spaces per nesting level,
// items separated by "," and keys from values by ": "; empty arrays and
// objects are printed as [] and {}. As in Python, indent 0 (or a negative
// indent) still inserts newlines, just without indentation. There is no
// trailing newline.
func MarshalIndent(v any, indent int) ([]byte, error) {
	e := encoder{pretty: true, indent: max(indent, 0)}
	if err := e.encode(v, 0); err != nil {
		return nil, err
	}
	return e.buf, nil
}

// UnsupportedTypeError is returned by Marshal and MarshalIndent for a
// value of a type that has no Python JSON counterpart.
type UnsupportedTypeError struct {
	Type reflect.Type
}

func (e *UnsupportedTypeError) Error() string {
	hint := ""
	if e.Type != nil && e.Type.Kind() == reflect.Map {
		hint = " (use *pyjson.Object to keep key order)"
	}
	return fmt.Sprintf("pyjson: unsupported type %v%s", e.Type, hint)
}

// sliceKey identifies a slice of interface values being encoded, for cycle
// detection (the same backing array and length).
type sliceKey struct {
	data unsafe.Pointer
	n    int
}

type encoder struct {
	buf    []byte
	pretty bool
	indent int
	// Containers currently being encoded, like the markers of Python's
	// encoder (check_circular=True).
	objects map[*Object]struct{}
	slices  map[sliceKey]struct{}
}

func (e *encoder) encode(v any, depth int) error {
	switch x := v.(type) {
	case nil:
		e.buf = append(e.buf, "null"...)
	case bool:
		e.appendBool(x)
	case string:
		e.buf = appendString(e.buf, x)
	case int:
		e.buf = strconv.AppendInt(e.buf, int64(x), 10)
	case int8:
		e.buf = strconv.AppendInt(e.buf, int64(x), 10)
	case int16:
		e.buf = strconv.AppendInt(e.buf, int64(x), 10)
	case int32:
		e.buf = strconv.AppendInt(e.buf, int64(x), 10)
	case int64:
		e.buf = strconv.AppendInt(e.buf, x, 10)
	case uint:
		e.buf = strconv.AppendUint(e.buf, uint64(x), 10)
	case uint8:
		e.buf = strconv.AppendUint(e.buf, uint64(x), 10)
	case uint16:
		e.buf = strconv.AppendUint(e.buf, uint64(x), 10)
	case uint32:
		e.buf = strconv.AppendUint(e.buf, uint64(x), 10)
	case uint64:
		e.buf = strconv.AppendUint(e.buf, x, 10)
	case uintptr:
		e.buf = strconv.AppendUint(e.buf, uint64(x), 10)
	case float64:
		e.buf = appendFloat(e.buf, x)
	case *big.Int:
		return e.appendBigInt(x)
	case *Object:
		return e.encodeObject(x, depth)
	case []any:
		if len(x) == 0 {
			e.buf = append(e.buf, "[]"...)
			return nil
		}
		key := sliceKey{unsafe.Pointer(unsafe.SliceData(x)), len(x)}
		return e.encodeList(len(x), func(i int) any { return x[i] }, &key, depth)
	case []string:
		return e.encodeList(len(x), func(i int) any { return x[i] }, nil, depth)
	case []*Object:
		return e.encodeList(len(x), func(i int) any { return x[i] }, nil, depth)
	default:
		return e.encodeReflect(reflect.ValueOf(v), depth)
	}
	return nil
}

func (e *encoder) appendBool(b bool) {
	if b {
		e.buf = append(e.buf, "true"...)
	} else {
		e.buf = append(e.buf, "false"...)
	}
}

func (e *encoder) appendBigInt(x *big.Int) error {
	if x == nil {
		e.buf = append(e.buf, "null"...)
		return nil
	}
	start := len(e.buf)
	e.buf = x.Append(e.buf, 10)
	digits := len(e.buf) - start
	if x.Sign() < 0 {
		digits--
	}
	if digits > maxIntDigits {
		e.buf = e.buf[:start]
		return fmt.Errorf("pyjson: integer has %d digits, more than Python's limit of %d", digits, maxIntDigits)
	}
	return nil
}

// encodeReflect handles named types and slices or arrays of element types
// other than the ones special-cased in encode.
func (e *encoder) encodeReflect(rv reflect.Value, depth int) error {
	switch rv.Kind() {
	case reflect.Bool:
		e.appendBool(rv.Bool())
	case reflect.String:
		e.buf = appendString(e.buf, rv.String())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		e.buf = strconv.AppendInt(e.buf, rv.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		e.buf = strconv.AppendUint(e.buf, rv.Uint(), 10)
	case reflect.Float64:
		e.buf = appendFloat(e.buf, rv.Float())
	case reflect.Slice, reflect.Array:
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			// Python's json refuses bytes; encode them explicitly
			// (hex, base64, a list of ints) instead.
			return &UnsupportedTypeError{rv.Type()}
		}
		n := rv.Len()
		if n == 0 {
			e.buf = append(e.buf, "[]"...)
			return nil
		}
		var key *sliceKey
		if rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() == reflect.Interface {
			// Only slices of interface values can (indirectly)
			// contain themselves.
			key = &sliceKey{rv.UnsafePointer(), n}
		}
		return e.encodeList(n, func(i int) any { return rv.Index(i).Interface() }, key, depth)
	default:
		if !rv.IsValid() {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		return &UnsupportedTypeError{rv.Type()}
	}
	return nil
}

func (e *encoder) newline(depth int) {
	e.buf = append(e.buf, '\n')
	for range e.indent * depth {
		e.buf = append(e.buf, ' ')
	}
}

func (e *encoder) itemSeparator() {
	if e.pretty {
		e.buf = append(e.buf, ',')
	} else {
		e.buf = append(e.buf, ", "...)
	}
}

func (e *encoder) encodeList(n int, elem func(int) any, key *sliceKey, depth int) error {
	if n == 0 {
		e.buf = append(e.buf, "[]"...)
		return nil
	}
	if key != nil {
		if _, ok := e.slices[*key]; ok {
			return fmt.Errorf("pyjson: circular reference detected")
		}
		if e.slices == nil {
			e.slices = make(map[sliceKey]struct{})
		}
		e.slices[*key] = struct{}{}
		defer delete(e.slices, *key)
	}
	e.buf = append(e.buf, '[')
	for i := range n {
		if i > 0 {
			e.itemSeparator()
		}
		if e.pretty {
			e.newline(depth + 1)
		}
		if err := e.encode(elem(i), depth+1); err != nil {
			return err
		}
	}
	if e.pretty {
		e.newline(depth)
	}
	e.buf = append(e.buf, ']')
	return nil
}

func (e *encoder) encodeObject(o *Object, depth int) error {
	if o == nil {
		e.buf = append(e.buf, "null"...)
		return nil
	}
	if len(o.keys) == 0 {
		e.buf = append(e.buf, "{}"...)
		return nil
	}
	if _, ok := e.objects[o]; ok {
		return fmt.Errorf("pyjson: circular reference detected")
	}
	if e.objects == nil {
		e.objects = make(map[*Object]struct{})
	}
	e.objects[o] = struct{}{}
	defer delete(e.objects, o)

	e.buf = append(e.buf, '{')
	for i, k := range o.keys {
		if i > 0 {
			e.itemSeparator()
		}
		if e.pretty {
			e.newline(depth + 1)
		}
		e.buf = appendString(e.buf, k)
		e.buf = append(e.buf, ": "...)
		if err := e.encode(o.vals[k], depth+1); err != nil {
			return err
		}
	}
	if e.pretty {
		e.newline(depth)
	}
	e.buf = append(e.buf, '}')
	return nil
}

const hexDigits = "0123456789abcdef"

func appendU(buf []byte, c rune) []byte {
	return append(buf, '\\', 'u',
		hexDigits[c>>12&0xf], hexDigits[c>>8&0xf], hexDigits[c>>4&0xf], hexDigits[c&0xf])
}

// appendString appends s as a JSON string literal the way Python's
// ensure_ascii encoder writes it. See the package documentation for the
// handling of invalid UTF-8.
func appendString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	start := 0 // s[start:i] is pending plain ASCII
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < 0x7f && c != '"' && c != '\\' {
			i++
			continue
		}
		buf = append(buf, s[start:i]...)
		if c < utf8.RuneSelf {
			switch c {
			case '"':
				buf = append(buf, '\\', '"')
			case '\\':
				buf = append(buf, '\\', '\\')
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			case '\t':
				buf = append(buf, '\\', 't')
			case '\b':
				buf = append(buf, '\\', 'b')
			case '\f':
				buf = append(buf, '\\', 'f')
			default: // other control characters and DEL
				buf = appendU(buf, rune(c))
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			if sr, ok := decodeSurrogate(s[i:]); ok {
				buf = appendU(buf, sr)
				size = 3
			} else {
				buf = appendU(buf, utf8.RuneError)
			}
		case r > 0xffff:
			r -= 0x10000
			buf = appendU(buf, 0xd800+(r>>10))
			buf = appendU(buf, 0xdc00+(r&0x3ff))
		default:
			buf = appendU(buf, r)
		}
		i += size
		start = i
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}

// decodeSurrogate reports whether s starts with the generalized UTF-8
// encoding of a surrogate code point (U+D800..U+DFFF) and returns it.
func decodeSurrogate(s string) (rune, bool) {
	if len(s) < 3 || s[0] != 0xed || s[1] < 0xa0 || s[1] > 0xbf || s[2] < 0x80 || s[2] > 0xbf {
		return 0, false
	}
	return 0xd000 | rune(s[1]&0x3f)<<6 | rune(s[2]&0x3f), true
}

// appendFloat appends f formatted like Python's float.__repr__ (as used by
// json.dumps): the shortest digit string that round-trips, in positional
// notation with at least one fractional digit when the decimal exponent is
// in [-4, 16), otherwise in exponent notation with a signed, at least
// two-digit exponent and no ".0". Non-finite values are written as Python's
// json module writes them: NaN, Infinity, -Infinity.
func appendFloat(buf []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(buf, "NaN"...)
	case math.IsInf(f, 1):
		return append(buf, "Infinity"...)
	case math.IsInf(f, -1):
		return append(buf, "-Infinity"...)
	}
	var tmp [32]byte
	// Shortest round-trip digits as d[.ddd]e±XX.
	b := strconv.AppendFloat(tmp[:0], f, 'e', -1, 64)
	if b[0] == '-' {
		buf = append(buf, '-')
		b = b[1:]
	}
	var digits [24]byte
	nd := 0
	i := 0
	for ; b[i] != 'e'; i++ {
		if b[i] != '.' {
			digits[nd] = b[i]
			nd++
		}
	}
	i++ // 'e'
	expNeg := b[i] == '-'
	exp := 0
	for _, c := range b[i+1:] {
		exp = exp*10 + int(c-'0')
	}
	if expNeg {
		exp = -exp
	}
	d := digits[:nd]

	if exp < -4 || exp >= 16 {
		buf = append(buf, d[0])
		if nd > 1 {
			buf = append(buf, '.')
			buf = append(buf, d[1:]...)
		}
		buf = append(buf, 'e')
		if exp < 0 {
			buf = append(buf, '-')
			exp = -exp
		} else {
			buf = append(buf, '+')
		}
		if exp < 10 {
			buf = append(buf, '0')
		}
		return strconv.AppendInt(buf, int64(exp), 10)
	}
	decpt := exp + 1 // number of digits before the decimal point
	switch {
	case decpt <= 0:
		buf = append(buf, '0', '.')
		for range -decpt {
			buf = append(buf, '0')
		}
		buf = append(buf, d...)
	case decpt >= nd:
		buf = append(buf, d...)
		for range decpt - nd {
			buf = append(buf, '0')
		}
		buf = append(buf, '.', '0')
	default:
		buf = append(buf, d[:decpt]...)
		buf = append(buf, '.')
		buf = append(buf, d[decpt:]...)
	}
	return buf
}
