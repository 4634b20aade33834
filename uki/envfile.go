package uki

import (
	"errors"
	"regexp"
	"strings"
	"unicode"
)

// envAssignRE is ukify's pattern for an assignment line (read_env_file),
// matched at the start of the line.
var envAssignRE = regexp.MustCompile(`^([A-Z][A-Z_0-9]+)=(.*)`)

// readEnvFile parses os-release style text exactly as ukify 262's
// read_env_file does (it reads the profile ID that --sign-profile selects
// by): lines split as Python's str.splitlines splits them, trailing
// whitespace removed, empty lines and "#" comments skipped, NAME=VALUE with
// NAME matching [A-Z][A-Z_0-9]+; a value starting with a quote is replaced
// by the first token Python's shlex (POSIX mode) reads from it. Other lines
// are reported through warnf and ignored. A later assignment wins.
func readEnvFile(text string, warnf func(string, ...any)) (map[string]string, error) {
	out := map[string]string{}
	for _, line := range pySplitLines(text) {
		line = strings.TrimRightFunc(line, pyIsSpace)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := envAssignRE.FindStringSubmatch(line)
		if m == nil {
			warnf("bad line %q", line)
			continue
		}
		val := m[2]
		if val != "" && (val[0] == '"' || val[0] == '\'') {
			tok, err := shlexFirstToken(val)
			if err != nil {
				return nil, err
			}
			val = tok
		}
		out[m[1]] = val
	}
	return out, nil
}

// pyIsSpace is Python's str.isspace for one character.
func pyIsSpace(r rune) bool {
	return unicode.IsSpace(r) || r >= 0x1c && r <= 0x1f
}

// pySplitLines is Python's str.splitlines() (without keepends).
func pySplitLines(s string) []string {
	var lines []string
	rs := []rune(s)
	var cur []rune
	for i := 0; i < len(rs); i++ {
		switch r := rs[i]; r {
		case '\n', '\v', '\f', '\x1c', '\x1d', '\x1e', '\u0085', '\u2028', '\u2029':
			lines = append(lines, string(cur))
			cur = cur[:0]
		case '\r':
			lines = append(lines, string(cur))
			cur = cur[:0]
			if i+1 < len(rs) && rs[i+1] == '\n' {
				i++
			}
		default:
			cur = append(cur, r)
		}
	}
	if len(cur) > 0 {
		lines = append(lines, string(cur))
	}
	return lines
}

// shlexWordChars are the characters of a word for Python's shlex in POSIX
// mode (shlex.shlex(posix=True).wordchars).
const shlexWordChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_" +
	"ßàáâãäåæçèéêëìíîïðñòóôõöøùúûüýþÿÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖØÙÚÛÜÝÞ"

// shlexFirstToken is next(shlex.shlex(s, posix=True)) for s starting with a
// quote: the quoted text, continued by adjacent word characters and quoted
// parts, up to whitespace, a comment or another character; "\" escapes
// the quote and itself inside double quotes and anything outside quotes.
func shlexFirstToken(s string) (string, error) {
	const (
		stWord   = 'a'
		stQuoteD = '"'
		stQuoteS = '\''
	)
	var tok strings.Builder
	state := rune(' ')
	escaped := rune(0) // the state an escape returns to; 0: not in an escape
	for _, c := range s {
		if escaped != 0 {
			if (escaped == stQuoteD || escaped == stQuoteS) && c != escaped && c != '\\' {
				tok.WriteRune('\\')
			}
			tok.WriteRune(c)
			state, escaped = escaped, 0
			continue
		}
		switch state {
		case ' ':
			// s starts with a quote, so this is its first character.
			state = c
		case stQuoteD, stQuoteS:
			switch {
			case c == state:
				state = stWord
			case c == '\\' && state == stQuoteD:
				escaped = state
			default:
				tok.WriteRune(c)
			}
		case stWord:
			switch {
			case c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '#':
				return tok.String(), nil
			case c == '"' || c == '\'':
				state = c
			case c == '\\':
				escaped = stWord
			case strings.ContainsRune(shlexWordChars, c):
				tok.WriteRune(c)
			default:
				return tok.String(), nil
			}
		}
	}
	switch {
	case escaped != 0:
		return "", errors.New("shlex: no escaped character")
	case state == stQuoteD || state == stQuoteS:
		return "", errors.New("shlex: no closing quotation")
	}
	return tok.String(), nil
}
