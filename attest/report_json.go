package attest

import (
	"encoding/hex"
	"encoding/json"

	"github.com/ukibuild/ukibuild/eventlog"
)

type jsonReport struct {
	OK           bool            `json:"ok"`
	Unverifiable []int           `json:"unverifiable,omitempty"`
	PCRs         []jsonPCRResult `json:"pcrs"`
	Values       []jsonValue     `json:"values,omitempty"`
	Quote        *jsonQuote      `json:"quote,omitempty"`
	Systemd      []jsonSystemd   `json:"systemd,omitempty"`
}

type jsonSystemd struct {
	Index   int     `json:"index"`
	PCR     *int    `json:"pcr,omitempty"`
	NVIndex *uint32 `json:"nvIndex,omitempty"`
	Type    string  `json:"type,omitempty"`
	String  string  `json:"string"`
	OK      bool    `json:"ok"`
	Error   string  `json:"error,omitempty"`
}

type jsonPCRResult struct {
	PCR        int          `json:"pcr"`
	Status     Status       `json:"status"`
	Events     int          `json:"events"`
	Index      *int         `json:"index,omitempty"`
	Bank       string       `json:"bank,omitempty"`
	Expected   *jsonLogItem `json:"expected,omitempty"`
	Seen       *jsonLogItem `json:"seen,omitempty"`
	Chosen     []string     `json:"chosen,omitempty"`
	Unverified []string     `json:"unverified,omitempty"`
}

type jsonLogItem struct {
	Type        string            `json:"type"`
	Description string            `json:"description"`
	Digests     map[string]string `json:"digests"`
}

type jsonValue struct {
	PCR   int    `json:"pcr"`
	Bank  string `json:"bank"`
	Log   string `json:"log"`
	TPM   string `json:"tpm"`
	Match bool   `json:"match"`
}

type jsonQuote struct {
	Selection []string `json:"selection"`
	Replays   bool     `json:"replays"`
	NotQuoted []int    `json:"notQuoted,omitempty"`
}

func jsonItem(ev *eventlog.Event) *jsonLogItem {
	if ev == nil {
		return nil
	}
	return &jsonLogItem{Type: ev.Type.String(), Description: ev.Description, Digests: jsonDigests(ev.Digests)}
}

// MarshalJSON writes the report as
//
//	{"ok": false, "unverifiable": [9],
//	 "pcrs": [{"pcr": 4, "status": "match", "events": 6},
//	          {"pcr": 9, "status": "unverifiable", "events": 2, "unverified": ["event 1: ..."]},
//	          {"pcr": 11, "status": "differs", "events": 12, "index": 1, "bank": "sha256",
//	           "expected": {"type": "EV_IPL", "description": "...", "digests": {"sha256": "HEX"}},
//	           "seen": {...}}],
//	 "values": [{"pcr": 11, "bank": "sha256", "log": "HEX", "tpm": "HEX", "match": true}],
//	 "quote": {"selection": ["sha256:7,11"], "replays": true, "notQuoted": [9]},
//	 "systemd": [{"index": 0, "pcr": 11, "type": "phase", "string": "enter-initrd", "ok": true}]}
//
// "status" is "match", "differs" or "unverifiable" (neither: an event
// that depends on a secret of the machine could not be checked, and
// "unverified" says which and why); "index" (from 0, among the PCR's
// events), "bank", "expected" and "seen" (absent where a list ended) are
// set for "differs"; "systemd" has one entry per record of systemd's log
// (Evidence.SystemdLog: "pcr", or "nvIndex" for an NvPCR's record, and
// "error" when the record is not what that systemd version measures); "ok"
// is Report.OK.
func (r *Report) MarshalJSON() ([]byte, error) {
	doc := jsonReport{OK: r.OK(), Unverifiable: r.Unverifiable(), PCRs: []jsonPCRResult{}}
	for _, p := range r.PCRs {
		jp := jsonPCRResult{PCR: p.PCR, Status: p.Status, Events: p.Events, Chosen: p.Chosen, Unverified: p.Unverified}
		if p.Status == Differs {
			i := p.Index
			jp.Index, jp.Bank, jp.Expected, jp.Seen = &i, p.Bank, jsonItem(p.Expected), jsonItem(p.Seen)
		}
		doc.PCRs = append(doc.PCRs, jp)
	}
	for _, v := range r.Values {
		doc.Values = append(doc.Values, jsonValue{PCR: v.PCR, Bank: v.Bank.Name, Log: hex.EncodeToString(v.Log), TPM: hex.EncodeToString(v.TPM), Match: v.Match()})
	}
	if q := r.Quote; q != nil {
		jq := &jsonQuote{Selection: []string{}, Replays: q.Replays, NotQuoted: q.NotQuoted}
		for _, s := range q.Selection {
			jq.Selection = append(jq.Selection, s.String())
		}
		doc.Quote = jq
	}
	for _, sr := range r.Systemd {
		js := jsonSystemd{Index: sr.Index, Type: sr.Event.Type, String: sr.Event.String, OK: sr.Err == nil}
		if sr.Event.PCR >= 0 {
			p := sr.Event.PCR
			js.PCR = &p
		} else {
			nv := sr.Event.NVIndex
			js.NVIndex = &nv
		}
		if sr.Err != nil {
			js.Error = sr.Err.Error()
		}
		doc.Systemd = append(doc.Systemd, js)
	}
	return json.Marshal(doc)
}
