package main

import (
	"bytes"
	"fmt"

	"github.com/ukibuild/ukibuild/attest"
	"github.com/ukibuild/ukibuild/pcr"
)

// systemdPhase renders the explanation of ref and then, for each
// predicted PCR systemd extends up to the end of --phase, systemd's events
// and the PCR's values after them (attest.PredictSystemd,
// Reference.WriteSystemdText). Nothing is written: the caller writes the
// result once every check has passed.
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
	// Checked first, for an error naming the options (cheap: a few
	// strings hashed).
	if _, err := attest.PredictSystemd(m.SystemdVersion, phase, ref.Banks); err != nil {
		return nil, fmt.Errorf("--systemd-version, --phase: %w", err)
	}
	if err := ref.WriteText(&out); err != nil {
		return nil, err
	}
	if err := ref.WriteSystemdText(&out, m.SystemdVersion, phase); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
