package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/ukibuild/ukibuild/attest"
)

// celFlags are eventlog verify's options for systemd's own measurement
// log (/run/log/systemd/tpm2-measure.log, CEL-JSON).
type celFlags struct {
	CEL            string `name:"cel" help:"systemd's measurement log (/run/log/systemd/tpm2-measure.log, CEL-JSON): its records follow the firmware's log in the replays against --quote and --quote-pcrs, and each is checked against what systemd of --systemd-version measures." type:"existingfile" placeholder:"FILE"`
	SystemdVersion string `name:"systemd-version" help:"The version of systemd that wrote --cel (253 to 262): which phase words and separators it measures." placeholder:"VERSION"`
}

// load puts the log and the version into the evidence.
func (c celFlags) load(ev *attest.Evidence) error {
	if c.CEL == "" {
		if c.SystemdVersion != "" {
			return fmt.Errorf("--systemd-version is the version of the systemd that wrote --cel, which is missing")
		}
		return nil
	}
	if c.SystemdVersion == "" {
		return fmt.Errorf("--cel %s needs --systemd-version: what systemd measures depends on its version", c.CEL)
	}
	b, err := os.ReadFile(c.CEL)
	if err != nil {
		return err
	}
	ev.SystemdLog, ev.SystemdVersion = b, c.SystemdVersion
	return nil
}

// explain names the file behind an error in systemd's log.
func (c celFlags) explain(err error) error {
	var se *attest.SystemdLogError
	if errors.As(err, &se) {
		return fmt.Errorf("%s: %w", c.CEL, se.Err)
	}
	return err
}

// bad counts the records of systemd's log that are not what systemd
// measures (attest.Report.WriteText prints them all).
func (c celFlags) bad(rs []attest.SystemdResult) int {
	bad := 0
	for _, r := range rs {
		if r.Err != nil {
			bad++
		}
	}
	return bad
}
