package pcr

import (
	"fmt"
	"slices"
	"strings"
)

// Phase is a boot phase path: the words that systemd-pcrphase (and
// systemd-pcrextend) extend into PCR 11 one after the other as the system
// boots, after systemd-stub measured the UKI's sections. It is written as
// the words joined with ':', e.g. "enter-initrd:leave-initrd:sysinit".
//
// The empty Phase (written ":" by systemd-measure) is the state right after
// the stub: no word measured yet.
//
// A Phase made by ParsePhase is normalized the way systemd-measure
// normalizes its --phase= arguments (src/measure/measure-tool.c,
// normalize_phase): split at ':', empty words dropped, joined with ':'.
// Words are taken verbatim: no escaping or quoting, and systemd-measure does
// not check them against the words systemd-pcrphase knows.
type Phase string

// DefaultPhases are the phases systemd-measure calculates when it is given no
// --phase=: from entering the initrd to the running system, in this order.
func DefaultPhases() []Phase {
	return []Phase{
		"enter-initrd",
		"enter-initrd:leave-initrd",
		"enter-initrd:leave-initrd:sysinit",
		"enter-initrd:leave-initrd:sysinit:ready",
	}
}

// ParsePhase normalizes a phase path as systemd-measure does: "::a::b:"
// gives "a:b", and "", ":" or "::" give the empty Phase. A NUL byte is
// refused (it cannot be passed on a command line).
func ParsePhase(s string) (Phase, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return "", fmt.Errorf("phase %q contains a NUL byte", s)
	}
	return Phase(strings.Join(splitPhase(s), ":")), nil
}

// ParsePhases turns systemd-measure --phase= arguments into the list of
// phases it calculates, in its order: none gives DefaultPhases; otherwise
// each is normalized (ParsePhase), and the list is sorted bytewise and
// duplicates are dropped (strv_sort and strv_uniq, or strv_sort_uniq).
func ParsePhases(paths []string) ([]Phase, error) {
	if len(paths) == 0 {
		return DefaultPhases(), nil
	}
	out := make([]Phase, 0, len(paths))
	for _, s := range paths {
		p, err := ParsePhase(s)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// splitPhase splits at ':' and drops empty words (measure-tool.c splits with
// strv_split, which keeps backslashes and quotes as they are).
func splitPhase(s string) []string {
	words := strings.Split(s, ":")
	return slices.DeleteFunc(words, func(w string) bool { return w == "" })
}

// Words returns the words of the phase, in measurement order; none for the
// empty Phase.
func (p Phase) Words() []string { return splitPhase(string(p)) }

// String returns the phase as systemd-measure prints it in its
// "# PCR[11] Phase <...>" lines: the path, or ":" for the empty Phase.
func (p Phase) String() string {
	if p == "" {
		return ":"
	}
	return string(p)
}

// Extend returns value (a PCR value of bank b) extended with each word of the
// phase in turn: value = H(value || H(word)), the word without a NUL byte.
// value itself is not modified.
func (p Phase) Extend(b Bank, value []byte) []byte {
	v := slices.Clone(value)
	for _, w := range p.Words() {
		h := b.Hash.New()
		h.Write([]byte(w))
		v = b.Extend(v, h.Sum(nil))
	}
	return v
}
