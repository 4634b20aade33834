package cpio

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/ukibuild/ukibuild/internal/pystr"
)

// ParseSourceDateEpoch parses a SOURCE_DATE_EPOCH value as mkosi does
// (mkosi/config.py config_parse_source_date_epoch: Python's int(), then a
// check that it is not negative): "" is no value (the zero time);
// otherwise an optional sign and decimal digits, "_" allowed between
// digits, whitespace around them ignored. A negative value or anything
// else is an error. Python's int() also takes digits of other scripts
// (Arabic-Indic, ...); ParseSourceDateEpoch takes ASCII digits only, and
// values that fit in an int64. The library never reads the environment:
// the caller passes os.Getenv("SOURCE_DATE_EPOCH").
func ParseSourceDateEpoch(value string) (time.Time, error) {
	if value == "" {
		return time.Time{}, nil
	}
	s := strings.TrimFunc(value, intSpace)
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if !pythonDigits(s) {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q is not a valid integer", value)
	}
	n, err := strconv.ParseUint(strings.ReplaceAll(s, "_", ""), 10, 64)
	if err != nil || n > math.MaxInt64 {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q is out of range", value)
	}
	if neg && n != 0 {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q is negative", value)
	}
	return time.Unix(int64(n), 0).UTC(), nil
}

// intSpace reports whether int() skips r around the number: CPython
// (Objects/longobject.c PyLong_FromUnicodeObject) turns non-ASCII
// whitespace into spaces and then skips ASCII whitespace, so "\x1c", which
// str.isspace() accepts, is not skipped.
func intSpace(r rune) bool {
	if r < 0x80 {
		return r == ' ' || (r >= '\t' && r <= '\r')
	}
	return pystr.IsSpace(r)
}

// pythonDigits reports whether s is ASCII digits with single underscores
// between them (the part of an int() literal after the sign).
func pythonDigits(s string) bool {
	if s == "" {
		return false
	}
	prev := byte('_')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
		case c == '_' && prev != '_':
		default:
			return false
		}
		prev = c
	}
	return prev != '_'
}
