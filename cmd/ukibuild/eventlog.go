package main

import (
	"bufio"
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/ukibuild/ukibuild/internal/keys"
	"github.com/ukibuild/ukibuild/pcr"
	"github.com/ukibuild/ukibuild/sign"
	"github.com/ukibuild/ukibuild/uki"
)

// eventPrediction are the options that say what booted, shared by
// "measure FILE --explain" and "eventlog verify".
type eventPrediction struct {
	BootAttempts int      `name:"boot-attempts" default:"1" help:"Boot options the firmware tried up to the one that started the UKI (each adds a \"Returning from EFI Application\" event to PCR 4)."`
	PK           string   `name:"pk" help:"PCR 7: the PK certificate (PEM) or EFI signature list (.esl)." placeholder:"FILE"`
	KEK          []string `name:"kek" help:"PCR 7: a KEK certificate (PEM) or EFI signature list (.esl); repeatable, in enrolment order." placeholder:"FILE"`
	DB           []string `name:"db" help:"PCR 7: a db certificate (PEM) or EFI signature list (.esl); repeatable, in enrolment order." placeholder:"FILE"`
	DBX          []string `name:"dbx" help:"PCR 7: a dbx EFI signature list (.esl); repeatable." placeholder:"FILE"`
	OwnerGUID    string   `name:"owner-guid" help:"PCR 7: the owner GUID of the certificates given as PEM." placeholder:"GUID"`
	SecureBoot   bool     `name:"secure-boot" default:"true" negatable:"" help:"PCR 7: the SecureBoot variable is 1."`
	ESP          string   `name:"esp" help:"PCR 12: the ESP, for /loader/credentials/*.cred (the UKI's own FILE.efi.extra.d/ is read next to it)." placeholder:"DIR"`
}

// predictedPCRs are the PCRs ukibuild predicts events for.
var predictedPCRs = []int{4, 7, 9, 11, 12, 13}

// readExtras reads the regular files of dir; none when it does not exist.
func readExtras(dir string) ([]pcr.ExtraFile, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []pcr.ExtraFile
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, pcr.ExtraFile{Name: e.Name(), Data: b})
	}
	return out, nil
}

// stubExtras reads what the stub finds for the UKI at path: the files in
// path.extra.d/ and, with esp, in esp/loader/credentials/.
func stubExtras(path string, p eventPrediction) (pcr.StubExtras, error) {
	local, err := readExtras(path + ".extra.d")
	if err != nil {
		return pcr.StubExtras{}, err
	}
	x := pcr.StubExtras{
		Credentials: pcr.SelectExtras(local, ".cred", ""),
		Sysexts:     pcr.SelectExtras(local, ".raw", ".confext.raw"),
		Confexts:    pcr.SelectExtras(local, ".confext.raw", ""),
	}
	if p.ESP != "" {
		global, err := readExtras(filepath.Join(p.ESP, "loader", "credentials"))
		if err != nil {
			return x, err
		}
		x.GlobalCredentials = pcr.SelectExtras(global, ".cred", "")
	}
	return x, nil
}

// pcr9Events predicts what Linux's EFI stub measures into PCR 9 for the
// UKI img: its .cmdline and the initrd the stub hands over (pcr.StubInitrd).
func pcr9Events(img *uki.ImageFile, stubVersion string, x pcr.StubExtras, banks []pcr.Bank) ([]pcr.Event, error) {
	major, err := pcr.MajorVersion(stubVersion)
	if err != nil {
		return nil, err
	}
	secs := map[string][]byte{}
	for _, s := range img.BaseSections() {
		switch s.Name {
		case ".initrd", ".pcrsig", ".pcrpkey", ".osrel", ".cmdline", ".ucode", ".profile":
			rc, err := s.Content.Open()
			if err != nil {
				return nil, err
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				return nil, fmt.Errorf("section %s: %w", s.Name, err)
			}
			secs[s.Name] = b
		}
	}
	initrd, err := pcr.StubInitrd(major, secs, x)
	if err != nil {
		return nil, fmt.Errorf("PCR 9: %w", err)
	}
	return pcr.LinuxEvents(string(secs[".cmdline"]), initrd, banks), nil
}

// signatureLists reads certificates (PEM: one EFI_SIGNATURE_LIST each,
// owned by owner, as virt-fw-vars and efi-updatevar enroll them) or
// EFI signature lists (.esl, taken as they are) and concatenates them. It
// also returns the certificates' EFI_SIGNATURE_DATA entries and parsed
// certificates, for finding the authority.
func signatureLists(files []string, owner *pcr.GUID) (lists []byte, entries [][]byte, certs []*x509.Certificate, err error) {
	for _, f := range files {
		if strings.HasSuffix(f, ".esl") {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, nil, nil, err
			}
			lists = append(lists, b...)
			continue
		}
		if owner == nil {
			return nil, nil, nil, fmt.Errorf("%s: a certificate needs --owner-guid", f)
		}
		c, err := keys.Certificate(f)
		if err != nil {
			return nil, nil, nil, err
		}
		lists = append(lists, pcr.X509SignatureList(*owner, c.Raw)...)
		entries = append(entries, pcr.SignatureData(*owner, c.Raw))
		certs = append(certs, c)
	}
	return lists, entries, certs, nil
}

// pcr7Events predicts PCR 7 for the UKI at path: the variables from the
// options, and as the authority the db certificate (given as PEM) that the
// UKI's signature chains to (sign.Verify, as the firmware checks it).
//
// When the UKI is not authorized (a tampered or unsigned UKI, which the
// firmware would refuse), warn says so and no authority is predicted.
func pcr7Events(path string, p eventPrediction, banks []pcr.Bank, warn func(string, ...any)) ([]pcr.Event, error) {
	var owner *pcr.GUID
	if p.OwnerGUID != "" {
		g, err := pcr.ParseGUID(p.OwnerGUID)
		if err != nil {
			return nil, fmt.Errorf("--owner-guid: %w", err)
		}
		owner = &g
	}
	vars := pcr.SecureBootVariables{SecureBoot: p.SecureBoot}
	var err error
	var pk []string
	if p.PK != "" {
		pk = []string{p.PK}
	}
	if vars.PK, _, _, err = signatureLists(pk, owner); err != nil {
		return nil, fmt.Errorf("--pk: %w", err)
	}
	if vars.KEK, _, _, err = signatureLists(p.KEK, owner); err != nil {
		return nil, fmt.Errorf("--kek: %w", err)
	}
	db, entries, certs, err := signatureLists(p.DB, owner)
	if err != nil {
		return nil, fmt.Errorf("--db: %w", err)
	}
	vars.DB = db
	for _, f := range p.DBX {
		if !strings.HasSuffix(f, ".esl") {
			return nil, fmt.Errorf("--dbx %s: want an EFI signature list (.esl)", f)
		}
	}
	if vars.DBX, _, _, err = signatureLists(p.DBX, owner); err != nil {
		return nil, fmt.Errorf("--dbx: %w", err)
	}
	if len(vars.PK) == 0 || len(vars.DB) == 0 {
		return nil, fmt.Errorf("PCR 7 needs --pk and --db (and --kek, --dbx as enrolled)")
	}
	var auth [][]byte
	if vars.SecureBoot {
		rep, err := sign.VerifyFile(path, sign.VerifyOptions{DB: certs})
		if err != nil {
			warn("PCR 7: the UKI is not authorized by the --db certificates given as PEM (the firmware would refuse it), so no authority event is predicted: %v", err)
			rep = &sign.Report{}
		}
		for _, s := range rep.Signatures {
			if s.OK() && s.TrustedBy != nil {
				for i, c := range certs {
					if c.Equal(s.TrustedBy) {
						auth = append(auth, entries[i])
					}
				}
				break // the firmware stops at the first signature that verifies
			}
		}
	}
	return pcr.PCR7Events(vars, auth, banks), nil
}

// predictEvents predicts the events of pcrs for the UKI at path, booted
// directly by the firmware (no shim, no boot loader), in banks.
func predictEvents(e *env, path, stubVersion string, p eventPrediction, pcrs []int, banks []pcr.Bank) ([]pcr.Event, error) {
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
	if slices.Contains(pcrs, 7) {
		evs, err := pcr7Events(path, p, banks, e.warnf)
		if err != nil {
			return nil, err
		}
		events = append(events, evs...)
	}
	if stubVersion == "" && (slices.Contains(pcrs, 9) || slices.Contains(pcrs, 11)) {
		if stubVersion = img.StubVersion(); stubVersion == "" {
			return nil, fmt.Errorf("%s: no systemd-stub version in its .sdmagic section; give --stub-version", path)
		}
	}
	x, err := stubExtras(path, p)
	if err != nil {
		return nil, err
	}
	if slices.Contains(pcrs, 9) {
		evs, err := pcr9Events(img, stubVersion, x, banks)
		if err != nil {
			return nil, err
		}
		events = append(events, evs...)
	}
	if slices.Contains(pcrs, 12) || slices.Contains(pcrs, 13) {
		evs, err := pcr.ExtrasEvents(x, banks)
		if err != nil {
			return nil, err
		}
		events = append(events, evs...)
	}
	if slices.Contains(pcrs, 11) {
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
	PCRs        string `name:"pcrs" default:"4,11" help:"PCRs to compare (ukibuild predicts 4, 7, 9, 11, 12 and 13)." placeholder:"LIST"`
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
	expected, err := predictEvents(e, c.UKI, c.StubVersion, c.eventPrediction, pcrs, banks)
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
