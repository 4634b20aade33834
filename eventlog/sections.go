package eventlog

import (
	"fmt"

	"github.com/ukibuild/ukibuild/pcr"
)

// SectionEvents returns the events systemd-stub logs when it measures
// sections into PCR 11 (pcr.MeasuredSections says which and in what
// order): for each, an EV_IPL event whose digest is H(name + NUL) and one
// whose digest is H(data), both described in the log by the section's name
// in UTF-16 (src/boot/measure.c, tpm_log_ipl_event, called by
// src/boot/stub.c; the same in systemd 252 and 262, as the boot tests' event
// logs show). Replaying them (Replay) gives pcr.Measure's value.
func SectionEvents(order pcr.Order, sections []pcr.Section, banks []pcr.Bank) ([]Event, error) {
	measured, err := pcr.MeasuredSections(order, sections, banks)
	if err != nil {
		return nil, err
	}
	events := make([]Event, 0, 2*len(measured))
	for _, ms := range measured {
		nameEv := hashEvent(11, EvIPL, "section "+ms.Name+" (name)", append([]byte(ms.Name), 0), banks)
		dataEv := Event{PCR: 11, Type: EvIPL, Description: fmt.Sprintf("section %s (data, %d bytes)", ms.Name, ms.Size), Digests: ms.Digests}
		events = append(events, nameEv, dataEv)
	}
	return events, nil
}
