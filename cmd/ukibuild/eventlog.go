package main

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/ukibuild/ukibuild/pcr"
	"github.com/ukibuild/ukibuild/uki"
)

// eventPrediction are the options that say what booted, shared by
// "measure FILE --explain" and "eventlog verify".
type eventPrediction struct {
	BootAttempts int `name:"boot-attempts" default:"1" help:"Boot options the firmware tried up to the one that started the UKI (each adds a \"Returning from EFI Application\" event to PCR 4)."`
}

// predictedPCRs are the PCRs ukibuild predicts events for.
var predictedPCRs = []int{4, 11}

// predictEvents predicts the events of pcrs for the UKI at path, booted
// directly by the firmware (no shim, no boot loader), in banks.
func predictEvents(path, stubVersion string, p eventPrediction, pcrs []int, banks []pcr.Bank) ([]pcr.Event, error) {
	for _, i := range pcrs {
		if !slices.Contains(predictedPCRs, i) {
			return nil, fmt.Errorf("PCR %d: not predicted (ukibuild predicts PCR %s)", i, joinInts(predictedPCRs))
		}
	}
	img, err := uki.OpenImage(path)
	if err != nil {
		return nil, err
	}
	defer img.Close()
	var events []pcr.Event
	if slices.Contains(pcrs, 4) {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return nil, err
		}
		app, err := pcr.ImageApplication(filepath.Base(path), f, st.Size(), banks)
		if err != nil {
			return nil, err
		}
		evs, err := pcr.PCR4Events(pcr.FirmwareBoot{BootAttempts: p.BootAttempts, Chain: []pcr.BootApplication{app}}, banks)
		if err != nil {
			return nil, err
		}
		events = append(events, evs...)
	}
	if slices.Contains(pcrs, 11) {
		if stubVersion == "" {
			if stubVersion = img.StubVersion(); stubVersion == "" {
				return nil, fmt.Errorf("%s: no systemd-stub version in its .sdmagic section; give --stub-version", path)
			}
		}
		order, err := pcr.OrderFor(stubVersion)
		if err != nil {
			return nil, err
		}
		var secs []pcr.Section
		for _, s := range img.BaseSections() {
			secs = append(secs, pcr.Section{Name: s.Name, Content: s.Content})
		}
		evs, err := pcr.SectionEvents(order, secs, banks)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		events = append(events, evs...)
	}
	return events, nil
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

// jsonEvent is an event in --json output: usable as reference values.
type jsonEvent struct {
	PCR         int               `json:"pcr"`
	Type        string            `json:"type"`
	Description string            `json:"description"`
	Digests     map[string]string `json:"digests"`
}

// writeEvents writes the events and each PCR's replay: as text lines or
// JSON ({"events": [...], "pcrs": {"4": {"sha256": ...}}}).
func writeEvents(w io.Writer, events []pcr.Event, pcrs []int, banks []pcr.Bank, asJSON bool) error {
	if asJSON {
		doc := struct {
			Events []jsonEvent                  `json:"events"`
			PCRs   map[string]map[string]string `json:"pcrs"`
		}{Events: []jsonEvent{}, PCRs: map[string]map[string]string{}}
		for _, ev := range events {
			je := jsonEvent{PCR: ev.PCR, Type: ev.Type.String(), Description: ev.Description, Digests: map[string]string{}}
			for _, v := range ev.Digests {
				je.Digests[v.Bank.Name] = hex.EncodeToString(v.Digest)
			}
			doc.Events = append(doc.Events, je)
		}
		for _, i := range pcrs {
			m := map[string]string{}
			for _, b := range banks {
				v, err := pcr.Replay(events, i, b)
				if err != nil {
					return err
				}
				m[b.Name] = hex.EncodeToString(v)
			}
			doc.PCRs[strconv.Itoa(i)] = m
		}
		b, err := json.MarshalIndent(doc, "", "  ")
		if err != nil {
			return err
		}
		_, err = w.Write(append(b, '\n'))
		return err
	}
	for _, i := range pcrs {
		n := 0
		for _, ev := range events {
			if ev.PCR != i {
				continue
			}
			fmt.Fprintf(w, "PCR %d event %d: %s %s\n", i, n, ev.Type, ev.Description)
			for _, v := range ev.Digests {
				fmt.Fprintf(w, "    %s %x\n", v.Bank.Name, v.Digest)
			}
			n++
		}
		for _, b := range banks {
			v, err := pcr.Replay(events, i, b)
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "%d:%s=%x\n", i, b.Name, v)
		}
	}
	return nil
}

type eventlogCmd struct {
	Verify eventlogVerifyCmd `cmd:"" help:"Compare a TCG event log with the prediction for a UKI, event by event."`
}

type eventlogVerifyCmd struct {
	Log         string `arg:"" help:"TCG2 event log (/sys/kernel/security/tpm0/binary_bios_measurements)." type:"existingfile"`
	UKI         string `name:"uki" required:"" help:"The UKI the firmware started." type:"existingfile" placeholder:"FILE.efi"`
	PCRs        string `name:"pcrs" default:"4,11" help:"PCRs to compare (ukibuild predicts 4 and 11)." placeholder:"LIST"`
	StubVersion string `name:"stub-version" help:"Predict PCR 11 as this systemd-stub version would (default: the UKI's .sdmagic)." placeholder:"VERSION"`
	QuotePCRs   string `name:"quote-pcrs" help:"PCR values the TPM reported, lines PCR:BANK=HEX: the log's replay must equal them." type:"existingfile" placeholder:"FILE"`
	eventPrediction
}

// Run prints one line per PCR (match, or the first diverging event with
// expected and seen) and fails when any PCR differs.
func (c *eventlogVerifyCmd) Run(e *env) error {
	pcrs, err := pcr.ParsePCRList(c.PCRs)
	if err != nil {
		return fmt.Errorf("--pcrs: %w", err)
	}
	data, err := os.ReadFile(c.Log)
	if err != nil {
		return err
	}
	seen, err := pcr.ParseEventLog(data)
	if err != nil {
		return fmt.Errorf("%s: %w", c.Log, err)
	}
	var banks []pcr.Bank // the log's banks
	for _, ev := range seen {
		for _, v := range ev.Digests {
			if !slices.ContainsFunc(banks, func(b pcr.Bank) bool { return b.Name == v.Bank.Name }) {
				banks = append(banks, v.Bank)
			}
		}
	}
	bad := 0
	if c.QuotePCRs != "" {
		n, err := checkQuote(e.stdout, c.QuotePCRs, seen)
		if err != nil {
			return err
		}
		bad += n
	}
	expected, err := predictEvents(c.UKI, c.StubVersion, c.eventPrediction, pcrs, banks)
	if err != nil {
		return err
	}
	for _, r := range pcr.CompareEvents(expected, seen, pcrs) {
		fmt.Fprintln(e.stdout, r)
		if !r.Match {
			bad++
		}
	}
	if bad > 0 {
		return fmt.Errorf("%s does not match %s: %d PCR(s) differ", c.Log, c.UKI, bad)
	}
	return nil
}

// checkQuote compares the replay of the log with the values in file
// ("11:sha256=HEX" lines, as "ukibuild measure" prints) and returns how
// many differ.
func checkQuote(w io.Writer, file string, seen []pcr.Event) (int, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	bad := 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		idx, rest, ok1 := strings.Cut(l, ":")
		bank, val, ok2 := strings.Cut(rest, "=")
		n, err := strconv.Atoi(idx)
		if !ok1 || !ok2 || err != nil {
			return bad, fmt.Errorf("%s:%d: want PCR:BANK=HEX, not %q", file, line, l)
		}
		b, err := pcr.ParseBank(bank)
		if err != nil {
			return bad, fmt.Errorf("%s:%d: %w", file, line, err)
		}
		want, err := hex.DecodeString(val)
		if err != nil {
			return bad, fmt.Errorf("%s:%d: %w", file, line, err)
		}
		got, err := pcr.Replay(seen, n, b)
		if err != nil {
			return bad, fmt.Errorf("%s:%d: %w", file, line, err)
		}
		if bytes.Equal(got, want) {
			fmt.Fprintf(w, "PCR %d %s: the log replays to the quoted value\n", n, b.Name)
		} else {
			fmt.Fprintf(w, "PCR %d %s: the log replays to %x, the quote has %x\n", n, b.Name, got, want)
			bad++
		}
	}
	return bad, sc.Err()
}
