package main

import (
	"fmt"

	"github.com/ukibuild/ukibuild/attest"
	"github.com/ukibuild/ukibuild/pcr"
)

// systemdPhase writes the explanation of ref and then, for each predicted
// PCR systemd extends up to the end of --phase, systemd's events and the
// PCR's values after them (attest.PredictSystemd).
func (m *measureFileCmd) systemdPhase(e *env, ref *attest.Reference, asJSON bool) error {
	switch {
	case len(m.Phase) != 1:
		return fmt.Errorf("--explain takes one --phase (the phase to predict the PCRs after), not %d", len(m.Phase))
	case m.SystemdVersion == "":
		return fmt.Errorf("--explain --phase needs --systemd-version: what systemd measures depends on its version")
	case asJSON:
		return fmt.Errorf("--explain --phase writes text only")
	}
	phase, err := pcr.ParsePhase(m.Phase[0])
	if err != nil {
		return fmt.Errorf("--phase: %w", err)
	}
	events, err := attest.PredictSystemd(m.SystemdVersion, phase, ref.Banks)
	if err != nil {
		return fmt.Errorf("--systemd-version, --phase: %w", err)
	}
	if err := writeEvents(e.stdout, ref, false); err != nil {
		return err
	}
	for _, i := range ref.PCRs {
		n := 0
		for _, ev := range events {
			if ev.PCR != i {
				continue
			}
			if n == 0 {
				fmt.Fprintf(e.stdout, "PCR %d after phase %s (systemd %s):\n", i, phase, m.SystemdVersion)
			}
			fmt.Fprintf(e.stdout, "PCR %d systemd event %d: %s %q\n", i, n, ev.Type, ev.String)
			for _, d := range ev.Digests {
				fmt.Fprintf(e.stdout, "    %s %x\n", d.Bank.Name, d.Digest)
			}
			n++
		}
		if n == 0 {
			continue
		}
		for _, b := range ref.Banks {
			vs, err := ref.Values(i, b)
			if err != nil {
				return err
			}
			for _, v := range vs {
				after, err := attest.ExtendSystemd(v, i, b, events)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "PCR %d after %s: %s=%x\n", i, phase, b.Name, after)
			}
		}
	}
	return nil
}
