package uki

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
)

// knownPhases are the boot phases ukify 262 accepts in a phase path
// (ukify.py, KNOWN_PHASES).
var knownPhases = []string{"enter-initrd", "leave-initrd", "sysinit", "ready", "shutdown", "final"}

// KnownPhases returns the boot phases ukify accepts in a phase path
// ("enter-initrd:leave-initrd"), in ukify's order.
func KnownPhases() []string { return slices.Clone(knownPhases) }

// PhaseError is a phase path naming a boot phase ukify does not know.
type PhaseError struct {
	Phase string // the unknown phase
	Path  string // the phase path it is part of
}

func (e *PhaseError) Error() string {
	return fmt.Sprintf("unknown boot phase %q in %q (known: %s)", e.Phase, e.Path, strings.Join(knownPhases, ", "))
}

// CheckPhasePaths returns a *PhaseError for the first phase path with a
// phase that is not one of KnownPhases.
func CheckPhasePaths(paths []string) error {
	for _, p := range paths {
		for _, ph := range strings.Split(p, ":") {
			if !slices.Contains(knownPhases, ph) {
				return &PhaseError{Phase: ph, Path: p}
			}
		}
	}
	return nil
}

// SplitList splits a list option as ukibuild's --phases and --pcr-banks
// take it: on commas or whitespace, empty entries dropped, one trailing
// comma allowed.
func SplitList(s string) []string {
	s = strings.TrimSuffix(strings.TrimSpace(s), ",")
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
}
