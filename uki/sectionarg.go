package uki

import (
	"errors"
	"fmt"
	"strings"
)

// ErrSectionArg is wrapped by SectionArg's error for an argument that is
// not NAME:TEXT or NAME:@FILE.
var ErrSectionArg = errors.New("want NAME:TEXT or NAME:@FILE")

// SectionArg interprets ukify 262's --section argument NAME:TEXT or
// NAME:@PATH (split at its one colon; an argument with none or more, or
// without a name, is refused, wrapping ErrSectionArg): the section NAME
// holding TEXT, or PATH's content (TextOrFile). Unlike TextOrFile's, an
// empty TEXT gives an empty section, not none. what describes the
// argument in messages and in the content's description ("--section").
func SectionArg(what, arg string) (Section, error) {
	name, content, ok := strings.Cut(arg, ":")
	if !ok || name == "" || strings.Contains(content, ":") {
		return Section{}, fmt.Errorf("%s: cannot parse %q: %w", what, arg, ErrSectionArg)
	}
	c, err := TextOrFile(what, content, false)
	if err != nil {
		return Section{}, err
	}
	if c == nil {
		c = Text(what+" "+name, "")
	}
	return Section{Name: name, Content: c}, nil
}
