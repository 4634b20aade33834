package cpio

import "unicode/utf8"

// pyCompare compares two file names as Python 3 compares the str values
// os.fsdecode makes of them, which is how sorted(Path(...)) orders the
// names of one directory: code point by code point, a prefix first. The
// file system encoding is UTF-8 with the surrogateescape error handler, so
// a byte that is not part of a valid UTF-8 sequence becomes U+DC00 plus the
// byte (U+DC80..U+DCFF). That differs from byte order: "\x80" (U+DC80)
// sorts after "é" ("\xc3\xa9", U+00E9) and before "😀" (U+1F600).
//
// Python's UTF-8 decoder and Go's agree on what is valid (no surrogates,
// no overlong forms, nothing above U+10FFFF), and Python escapes each byte
// of an invalid sequence on its own, as Go's decoder steps over it one byte
// at a time, so decoding with utf8.DecodeRuneInString gives Python's code
// points.
func pyCompare(a, b string) int {
	for len(a) > 0 && len(b) > 0 {
		ra, na := pyDecode(a)
		rb, nb := pyDecode(b)
		if ra != rb {
			if ra < rb {
				return -1
			}
			return 1
		}
		a, b = a[na:], b[nb:]
	}
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return 1
	}
	return 0
}

// pyDecode decodes the first code point of s as os.fsdecode does.
func pyDecode(s string) (rune, int) {
	if c := s[0]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	r, n := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError && n == 1 {
		return 0xDC00 + rune(s[0]), 1
	}
	return r, n
}
