// Package ukiconf reads ukify 262's configuration files (ukify.conf,
// kernel-install's uki.conf) and says what they set: File.Settings yields
// each value with the ukify option it sets, checked and split as ukify
// does, for a program that maps them onto its own options (as ukibuild's
// command line does), and Items lists ukify's keys. FindDefault searches
// ukify's default files.
//
// The syntax is the dialect of Python's configparser as ukify sets it up:
// ConfigParser(comment_prefixes='#', inline_comment_prefixes='#',
// delimiters='=', empty_lines_in_values=False, interpolation=None,
// strict=False) with case-sensitive keys.
//
// The rules, as CPython 3.11's RawConfigParser._read applies them:
//
//   - Lines end at "\n", "\r\n" or "\r" (Python's universal newlines).
//   - A line whose stripped text starts with '#' is a comment; elsewhere a
//     '#' at the start of the line or after whitespace starts a comment that
//     runs to the end of the line (so "a#b" keeps its '#').
//   - "[NAME]" starts a section: NAME is everything between the first '[' and
//     the last ']' (text after that ']' is ignored). A section given twice is
//     one section; "DEFAULT" is special: its keys appear in every section.
//   - "KEY = VALUE" (split at the first '='; whitespace around both is
//     stripped) sets a key; a key given twice keeps its first position and
//     takes its last value.
//   - A line indented deeper than the line of its key continues the value
//     (joined with "\n"); an empty or comment-only line ends the value.
//   - Anything else is an error; as in Python all bad lines are reported.
//
// Whitespace is Python's (str.isspace), which includes U+001C..U+001F and the
// Unicode spaces.
package ukiconf

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/ukibuild/ukibuild/internal/pystr"
)

// DefaultSection is the name of configparser's default section, whose keys
// are inherited by every other section.
const DefaultSection = "DEFAULT"

// Entry is one key of a section.
type Entry struct {
	Key   string
	Value string
	// Line is the line of the key (for a key given twice, of the last one).
	Line int
}

// Section is one section, with its entries in configparser's order.
type Section struct {
	Name string
	// Line is the line of the section's first header.
	Line    int
	Entries []Entry
}

// File is a parsed configuration file.
type File struct {
	Path string
	// Default is the DEFAULT section (nil when the file has none).
	Default *Section
	// Sections are the other sections in order of first appearance.
	Sections []*Section
}

// Error is a syntax error at a line of a file.
type Error struct {
	Path string
	Line int
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg) }

// ReadFile reads and parses the file at path.
func ReadFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse parses data; path names the file in errors. The data must be UTF-8
// (Python reads the file in the locale's encoding, UTF-8 on current systems).
// All syntax errors are returned, joined (each an *Error).
func Parse(path string, data []byte) (*File, error) {
	f := &File{Path: path}
	text := string(data)
	// Universal newlines: "\r\n" and "\r" read as "\n".
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")
	lines := strings.SplitAfter(text, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}

	var (
		cur      *Section
		curKey   = -1 // index of the entry continuation lines extend
		indent   = 0
		errs     []error
		values   = map[*Section][][]string{} // continuation lines per entry
		sections = map[string]*Section{}
	)
	const maxIndent = int(^uint(0) >> 1)
	for i, line := range lines {
		lineno := i + 1
		if !utf8.ValidString(line) {
			return nil, &Error{path, lineno, "not valid UTF-8"}
		}
		value := pystr.Strip(line[:commentStart(line)])
		if value == "" {
			// An empty line (or a comment) ends a multi-line value.
			indent = maxIndent
			continue
		}
		lineIndent := indentOf(line)
		if cur != nil && curKey >= 0 && lineIndent > indent {
			values[cur][curKey] = append(values[cur][curKey], value)
			continue
		}
		indent = lineIndent
		if name, ok := sectionHeader(value); ok {
			switch s := sections[name]; {
			case s != nil:
				cur = s
			case name == DefaultSection:
				if f.Default == nil {
					f.Default = &Section{Name: name, Line: lineno}
				}
				cur = f.Default
			default:
				cur = &Section{Name: name, Line: lineno}
				sections[name] = cur
				f.Sections = append(f.Sections, cur)
			}
			curKey = -1
			continue
		}
		if cur == nil {
			return nil, &Error{path, lineno, fmt.Sprintf("no section header before %q (want [SECTION] first)", strings.TrimRight(line, "\n"))}
		}
		eq := strings.IndexByte(value, '=')
		if eq < 0 {
			errs = append(errs, &Error{path, lineno, fmt.Sprintf("cannot parse %q: want KEY=VALUE, [SECTION] or a # comment", strings.TrimRight(line, "\n"))})
			continue
		}
		if eq == 0 {
			errs = append(errs, &Error{path, lineno, fmt.Sprintf("cannot parse %q: the key is empty", strings.TrimRight(line, "\n"))})
			// Python goes on with the empty key (and fails at the end).
		}
		key := pystr.RStrip(value[:eq])
		val := pystr.Strip(value[eq+1:])
		curKey = -1
		for j := range cur.Entries {
			if cur.Entries[j].Key == key {
				curKey = j
				cur.Entries[j].Line = lineno
				break
			}
		}
		if curKey < 0 {
			cur.Entries = append(cur.Entries, Entry{Key: key, Line: lineno})
			values[cur] = append(values[cur], nil)
			curKey = len(cur.Entries) - 1
		}
		values[cur][curKey] = []string{val}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	for s, vals := range values {
		for j, v := range vals {
			s.Entries[j].Value = pystr.RStrip(strings.Join(v, "\n"))
		}
	}
	return f, nil
}

// commentStart returns where a comment starts in line (len(line) if none).
func commentStart(line string) int {
	if strings.HasPrefix(pystr.Strip(line), "#") {
		return 0
	}
	for i := 0; i < len(line); i++ {
		if line[i] != '#' {
			continue
		}
		if i == 0 {
			return 0
		}
		if r, _ := utf8.DecodeLastRuneInString(line[:i]); pystr.IsSpace(r) {
			return i
		}
	}
	return len(line)
}

// indentOf is the index (in code points, as Python counts) of the first
// non-whitespace character of line.
func indentOf(line string) int {
	n := 0
	for _, r := range line {
		if !pystr.IsSpace(r) {
			return n
		}
		n++
	}
	return 0
}

// sectionHeader matches configparser's SECTCRE, \[(?P<header>.+)\], at the
// start of value: the name runs to the last ']' and is not empty.
func sectionHeader(value string) (string, bool) {
	if !strings.HasPrefix(value, "[") {
		return "", false
	}
	end := strings.LastIndexByte(value, ']')
	if end < 2 {
		return "", false
	}
	return value[1:end], true
}

// Items returns the sections as Python's ConfigParser.items() yields them:
// DEFAULT first (empty when the file has none), then every other section
// with its own entries followed by the DEFAULT entries it does not override.
func (f *File) Items() []Section {
	def := Section{Name: DefaultSection}
	if f.Default != nil {
		def = *f.Default
	}
	out := []Section{def}
	for _, s := range f.Sections {
		merged := Section{Name: s.Name, Line: s.Line, Entries: append([]Entry(nil), s.Entries...)}
		for _, d := range def.Entries {
			if !hasKey(s.Entries, d.Key) {
				merged.Entries = append(merged.Entries, d)
			}
		}
		out = append(out, merged)
	}
	return out
}

func hasKey(entries []Entry, key string) bool {
	for _, e := range entries {
		if e.Key == key {
			return true
		}
	}
	return false
}
