package main

import (
	"bytes"
	"fmt"

	"github.com/ukibuild/ukibuild/attest"
	"github.com/ukibuild/ukibuild/pcr"
)

// systemdPhase renders the explanation of ref and then, for each
// predicted PCR systemd extends up to the end of --phase, systemd's events
// and the PCR's values after them (attest.PredictSystemd). Nothing is
// written: the caller writes the result once every check has passed.
func (m *measureFileCmd) systemdPhase(ref *attest.Reference, asJSON bool) ([]byte, error) {
	var out bytes.Buffer
	switch {
	case len(m.Phase) != 1:
		return nil, fmt.Errorf("--explain takes one --phase (the phase to predict the PCRs after), not %d", len(m.Phase))
	case m.SystemdVersion == "":
		return nil, fmt.Errorf("--explain --phase needs --systemd-version: what systemd measures depends on its version")
	case asJSON:
		return nil, fmt.Errorf("--explain --phase writes text only")
	}
	phase, err := pcr.ParsePhase(m.Phase[0])
	if err != nil {
		return nil, fmt.Errorf("--phase: %w", err)
	}
	events, err := attest.PredictSystemd(m.SystemdVersion, phase, ref.Banks)
	if err != nil {
		return nil, fmt.Errorf("--systemd-version, --phase: %w", err)
	}
	if err := writeEvents(&out, ref, false); err != nil {
		return nil, err
	}
	for _, i := range ref.PCRs {
		n := 0
		for _, ev := range events {
			if ev.PCR != i {
				continue
			}
			if n == 0 {
				fmt.Fprintf(&out, "PCR %d after phase %s (systemd %s):\n", i, phase, m.SystemdVersion)
			}
			fmt.Fprintf(&out, "PCR %d systemd event %d: %s %q\n", i, n, ev.Type, ev.String)
			for _, d := range ev.Digests {
				fmt.Fprintf(&out, "    %s %x\n", d.Bank.Name, d.Digest)
			}
			n++
		}
		if n == 0 {
			continue
		}
		for _, b := range ref.Banks {
			vs, err := ref.Values(i, b)
			if err != nil {
				return nil, err
			}
			for _, v := range vs {
				after, err := attest.ExtendSystemd(v, i, b, events)
				if err != nil {
					return nil, err
				}
				fmt.Fprintf(&out, "PCR %d after %s: %s=%x\n", i, phase, b.Name, after)
			}
		}
	}
	return out.Bytes(), nil
}
