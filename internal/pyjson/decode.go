package pyjson

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxDepth is the deepest nesting of arrays and objects that Unmarshal
// accepts. CPython's own limit derives from its recursion limit (1000 by
// default) and is lower.
const MaxDepth = 10000

// SyntaxError describes malformed JSON input. Msg uses the wording of
// Python's json.JSONDecodeError; Offset is a byte offset into the input.
type SyntaxError struct {
	Msg    string
	Offset int
	Line   int // 1-based
	Column int // 1-based, in bytes
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("pyjson: %s: line %d column %d (byte %d)", e.Msg, e.Line, e.Column, e.Offset)
}

// Unmarshal parses data like Python's json.loads and returns the value:
// nil, bool, int64 or *big.Int (integers), float64, string, []any or
// *Object. See the package documentation for details and deviations.
func Unmarshal(data []byte) (any, error) {
	// json.loads on bytes decodes them with "utf-8-sig", dropping a BOM.
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	d := decoder{data: data}
	d.skipSpace()
	v, err := d.value()
	if err != nil {
		return nil, err
	}
	d.skipSpace()
	if d.pos != len(d.data) {
		return nil, d.errorf("Extra data")
	}
	return v, nil
}

// UnmarshalObject is like Unmarshal but requires the top-level value to
// be a JSON object.
func UnmarshalObject(data []byte) (*Object, error) {
	v, err := Unmarshal(data)
	if err != nil {
		return nil, err
	}
	o, ok := v.(*Object)
	if !ok {
		return nil, fmt.Errorf("pyjson: top-level JSON value is %s, not an object", typeName(v))
	}
	return o, nil
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case int64, *big.Int, float64:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	}
	return fmt.Sprintf("%T", v)
}

type decoder struct {
	data  []byte
	pos   int
	depth int
}

func (d *decoder) errorAt(pos int, msg string) error {
	line := 1 + bytes.Count(d.data[:pos], []byte("\n"))
	col := pos + 1
	if nl := bytes.LastIndexByte(d.data[:pos], '\n'); nl >= 0 {
		col = pos - nl
	}
	return &SyntaxError{Msg: msg, Offset: pos, Line: line, Column: col}
}

func (d *decoder) errorf(msg string) error {
	return d.errorAt(d.pos, msg)
}

// skipSpace skips the whitespace characters Python's json module allows.
func (d *decoder) skipSpace() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *decoder) hasPrefix(s string) bool {
	return bytes.HasPrefix(d.data[d.pos:], []byte(s))
}

// value parses the value starting at d.pos (no leading whitespace).
func (d *decoder) value() (any, error) {
	if d.pos >= len(d.data) {
		return nil, d.errorf("Expecting value")
	}
	switch c := d.data[d.pos]; {
	case c == '"':
		return d.string()
	case c == '{':
		return d.object()
	case c == '[':
		return d.array()
	case c == 'n' && d.hasPrefix("null"):
		d.pos += 4
		return nil, nil
	case c == 't' && d.hasPrefix("true"):
		d.pos += 4
		return true, nil
	case c == 'f' && d.hasPrefix("false"):
		d.pos += 5
		return false, nil
	case c == 'N' && d.hasPrefix("NaN"):
		d.pos += 3
		return math.NaN(), nil
	case c == 'I' && d.hasPrefix("Infinity"):
		d.pos += 8
		return math.Inf(1), nil
	case c == '-' && d.hasPrefix("-Infinity"):
		d.pos += 9
		return math.Inf(-1), nil
	case c == '-' || c >= '0' && c <= '9':
		return d.number()
	}
	return nil, d.errorf("Expecting value")
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// number scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)? like
// Python's scanner: a '.' or exponent not followed by digits is not part of
// the number (and then makes the caller fail).
func (d *decoder) number() (any, error) {
	start := d.pos
	i := d.pos
	if d.data[i] == '-' {
		i++
	}
	switch {
	case i < len(d.data) && d.data[i] >= '1' && d.data[i] <= '9':
		for i < len(d.data) && isDigit(d.data[i]) {
			i++
		}
	case i < len(d.data) && d.data[i] == '0':
		i++
	default:
		return nil, d.errorf("Expecting value")
	}
	isFloat := false
	if i+1 < len(d.data) && d.data[i] == '.' && isDigit(d.data[i+1]) {
		isFloat = true
		i += 2
		for i < len(d.data) && isDigit(d.data[i]) {
			i++
		}
	}
	if i < len(d.data) && (d.data[i] == 'e' || d.data[i] == 'E') {
		j := i + 1
		if j < len(d.data) && (d.data[j] == '-' || d.data[j] == '+') {
			j++
		}
		if j < len(d.data) && isDigit(d.data[j]) {
			for j < len(d.data) && isDigit(d.data[j]) {
				j++
			}
			isFloat = true
			i = j
		}
	}
	text := string(d.data[start:i])
	if isFloat {
		f, err := strconv.ParseFloat(text, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return nil, d.errorAt(start, "invalid number")
		}
		// Out-of-range values are ±Inf (or 0), as with Python's float().
		d.pos = i
		return f, nil
	}
	if n, err := strconv.ParseInt(text, 10, 64); err == nil {
		d.pos = i
		return n, nil
	}
	digits := len(text)
	if text[0] == '-' {
		digits--
	}
	if digits > maxIntDigits {
		return nil, d.errorAt(start, fmt.Sprintf("integer has %d digits, more than Python's limit of %d", digits, maxIntDigits))
	}
	n, ok := new(big.Int).SetString(text, 10)
	if !ok {
		return nil, d.errorAt(start, "invalid number")
	}
	d.pos = i
	return n, nil
}

func (d *decoder) enter() error {
	d.depth++
	if d.depth > MaxDepth {
		return d.errorf(fmt.Sprintf("nesting deeper than %d levels", MaxDepth))
	}
	return nil
}

func (d *decoder) array() (any, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	defer func() { d.depth-- }()
	d.pos++ // '['
	list := []any{}
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == ']' {
		d.pos++
		return list, nil
	}
	for {
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		list = append(list, v)
		d.skipSpace()
		if d.pos < len(d.data) && d.data[d.pos] == ']' {
			d.pos++
			return list, nil
		}
		if d.pos >= len(d.data) || d.data[d.pos] != ',' {
			return nil, d.errorf("Expecting ',' delimiter")
		}
		d.pos++
		d.skipSpace()
	}
}

func (d *decoder) object() (any, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	defer func() { d.depth-- }()
	d.pos++ // '{'
	obj := &Object{}
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
		return obj, nil
	}
	for {
		if d.pos >= len(d.data) || d.data[d.pos] != '"' {
			return nil, d.errorf("Expecting property name enclosed in double quotes")
		}
		key, err := d.string()
		if err != nil {
			return nil, err
		}
		d.skipSpace()
		if d.pos >= len(d.data) || d.data[d.pos] != ':' {
			return nil, d.errorf("Expecting ':' delimiter")
		}
		d.pos++
		d.skipSpace()
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		obj.Set(key, v)
		d.skipSpace()
		if d.pos < len(d.data) && d.data[d.pos] == '}' {
			d.pos++
			return obj, nil
		}
		if d.pos >= len(d.data) || d.data[d.pos] != ',' {
			return nil, d.errorf("Expecting ',' delimiter")
		}
		d.pos++
		d.skipSpace()
	}
}

// hex4 parses four hexadecimal digits at data[i:].
func hex4(data []byte, i int) (rune, bool) {
	if i+4 > len(data) {
		return 0, false
	}
	var r rune
	for _, c := range data[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// appendSurrogate appends the generalized UTF-8 (WTF-8) encoding of a lone
// surrogate code point, which appendString turns back into \udXXX.
func appendSurrogate(buf []byte, r rune) []byte {
	return append(buf, 0xed, 0xa0|byte(r>>6&0x1f), 0x80|byte(r&0x3f))
}

// string parses a string literal starting at the opening quote at d.pos.
func (d *decoder) string() (string, error) {
	begin := d.pos
	d.pos++
	var buf []byte // nil until the first escape
	start := d.pos // d.data[start:i] is pending literal text
	for i := d.pos; ; {
		if i >= len(d.data) {
			return "", d.errorAt(begin, "Unterminated string starting at")
		}
		c := d.data[i]
		switch {
		case c == '"':
			d.pos = i + 1
			if buf == nil {
				return string(d.data[start:i]), nil
			}
			return string(append(buf, d.data[start:i]...)), nil
		case c < 0x20:
			return "", d.errorAt(i, "Invalid control character at")
		case c < utf8.RuneSelf && c != '\\':
			i++
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(d.data[i:])
			if r == utf8.RuneError && size == 1 {
				// Python decodes bytes with errors="surrogatepass".
				if _, ok := decodeSurrogate(string(d.data[i:min(i+3, len(d.data))])); !ok {
					return "", d.errorAt(i, "invalid UTF-8")
				}
				size = 3
			}
			i += size
		default: // backslash
			buf = append(buf, d.data[start:i]...)
			if i+1 >= len(d.data) {
				return "", d.errorAt(begin, "Unterminated string starting at")
			}
			esc := d.data[i+1]
			i += 2
			switch esc {
			case '"', '\\', '/':
				buf = append(buf, esc)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, ok := hex4(d.data, i)
				if !ok {
					return "", d.errorAt(i-1, "Invalid \\uXXXX escape")
				}
				i += 4
				if utf16.IsSurrogate(r) && r < 0xdc00 &&
					i+1 < len(d.data) && d.data[i] == '\\' && d.data[i+1] == 'u' {
					r2, ok := hex4(d.data, i+2)
					if !ok {
						return "", d.errorAt(i+1, "Invalid \\uXXXX escape")
					}
					if r2 >= 0xdc00 && r2 <= 0xdfff {
						r = utf16.DecodeRune(r, r2)
						i += 6
					}
				}
				if utf16.IsSurrogate(r) {
					buf = appendSurrogate(buf, r)
				} else {
					buf = utf8.AppendRune(buf, r)
				}
			default:
				return "", d.errorAt(i-2, "Invalid \\escape")
			}
			start = i
		}
	}
}
