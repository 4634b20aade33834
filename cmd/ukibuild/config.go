package main

// Configuration files with ukify 262's semantics (package ukiconf): the
// keys of [UKI] and [PCRSignature:NAME] sections set the options of the
// same meaning, the command line wins, list options are prepended to, and
// key groups from [PCRSignature:NAME] sections follow the command line's
// groups. The file is --config, else the first of ukify's default files
// that exists. This file maps ukiconf's settings onto kong's flags.

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/alecthomas/kong"

	"github.com/ukibuild/ukibuild/ukiconf"
)

// findConfig returns the configuration file to read: explicit, or the first
// default file that is a regular file (below root, for tests); "" if none.
func findConfig(e *env, explicit string) string {
	if explicit != "" {
		fmt.Fprintf(e.stderr, "Using config file: %s\n", explicit)
		return explicit
	}
	p := ukiconf.FindDefault(e.root)
	if p != "" {
		fmt.Fprintf(e.stderr, "Using found config file: %s\n", p)
	}
	return p
}

// applyConfig reads the configuration file for the selected command and sets
// its options; a no-op for commands that read none.
func applyConfig(ctx *kong.Context, e *env, explicit string) error {
	verb := ""
	if n := ctx.Selected(); n != nil {
		verb = n.Name
	}
	if !slices.Contains(ukiconf.Commands(), verb) {
		if explicit != "" {
			return fmt.Errorf("--config: only %s read a configuration file", strings.Join(ukiconf.Commands(), ", "))
		}
		return nil
	}
	path := findConfig(e, explicit)
	if path == "" {
		return nil
	}
	f, err := ukiconf.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading configuration: %w", err)
	}
	o := newOptionSet(ctx)
	return f.Settings(verb, e.warnf, func(s ukiconf.Setting) error { return o.set(s, verb) })
}

// optionSet is the parsed command line of the selected command, with which
// of its flags were given.
type optionSet struct {
	flags map[string]*kong.Flag
	given map[string]bool
	// groups are the PCR key groups: the command line's --pcr-private-key
	// groups (named "") followed by the [PCRSignature:NAME] names in order
	// of appearance (ukify's namespace._groups).
	groups []string
}

func newOptionSet(ctx *kong.Context) *optionSet {
	o := &optionSet{flags: map[string]*kong.Flag{}, given: map[string]bool{}}
	for _, f := range ctx.Flags() {
		o.flags[f.Name] = f
	}
	for _, p := range ctx.Path {
		if p.Flag != nil {
			o.given[p.Flag.Name] = true
		}
	}
	if f := o.flags["pcr-private-key"]; f != nil && f.Target.Kind() == reflect.Slice {
		o.groups = make([]string, f.Target.Len())
	}
	return o
}

// set applies one setting to the option it names.
func (o *optionSet) set(s ukiconf.Setting, verb string) error {
	fl := o.flags[s.Option]
	if fl == nil {
		return s.Errorf("ukibuild %s does not support --%s (yet); remove the setting", verb, s.Option)
	}
	values := s.Values
	if s.Kind == ukiconf.PhasesValue || s.Kind == ukiconf.BanksValue {
		// Stored as text: the command splits it (as its option's value).
		values = []string{s.Value}
	}
	t := fl.Target
	isList := t.Kind() == reflect.Slice && t.Type().Elem().Kind() == reflect.String
	switch s.Push {
	case ukiconf.SetIfUnset, ukiconf.SetAlways:
		if s.Push == ukiconf.SetIfUnset && o.given[s.Option] {
			return nil
		}
		if err := setScalar(t, values[0]); err != nil {
			return s.Errorf("%v", err)
		}
		o.given[s.Option] = true
	case ukiconf.ListPrepend:
		if !isList {
			return s.Errorf("internal error: --%s is not a list", s.Option)
		}
		t.Set(reflect.ValueOf(append(slices.Clone(values), t.Interface().([]string)...)))
	case ukiconf.SetGroup:
		if !isList {
			return s.Errorf("internal error: --%s is not a list", s.Option)
		}
		idx := slices.Index(o.groups, s.Group)
		if idx < 0 {
			o.groups = append(o.groups, s.Group)
			idx = len(o.groups) - 1
		}
		// ukify's config_set_group: pad the list to the group's index
		// with "not given" (here "", which every consumer treats alike),
		// then append. A list already longer gets the value appended.
		old := slices.Clone(t.Interface().([]string))
		for len(old) < idx {
			old = append(old, "")
		}
		t.Set(reflect.ValueOf(append(old, values[0])))
	}
	return nil
}

// setScalar sets a single-valued option.
func setScalar(t reflect.Value, v string) error {
	switch p := t.Addr().Interface().(type) {
	case *string:
		*p = v
	case **string:
		*p = &v
	case *optString:
		*p = optString{Set: true, Value: v}
	case *bool, **bool:
		b, err := ukiconf.ParseBool(v)
		if err != nil {
			return err
		}
		if q, ok := p.(*bool); ok {
			*q = b
		} else {
			*p.(**bool) = &b
		}
	case *int:
		n, err := ukiconf.ParseInt(v)
		if err != nil {
			return err
		}
		*p = n
	default:
		return fmt.Errorf("internal error: cannot set an option of type %s", t.Type())
	}
	return nil
}
