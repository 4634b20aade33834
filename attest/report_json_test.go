package attest_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ukibuild/ukibuild/attest"
	"github.com/ukibuild/ukibuild/eventlog"
	"github.com/ukibuild/ukibuild/pcr"
)

// TestReportJSON: a report with a matching, an unverifiable and a
// differing PCR is written with each PCR's status as its name, the
// unverifiable PCRs listed, "ok" false, and the differing PCR's first
// diverging event (expected, and seen absent where the log ended).
func TestReportJSON(t *testing.T) {
	exp := eventlog.Event{PCR: 11, Type: eventlog.EvIPL, Description: "section .linux (name)", Digests: []pcr.Value{{Bank: pcr.SHA256, Digest: make([]byte, 32)}}}
	rep := &attest.Report{PCRs: []attest.PCRResult{
		{PCR: 4, Status: attest.Match, Index: -1, Events: 5},
		{PCR: 9, Status: attest.Unverifiable, Index: -1, Events: 2, Unverified: []string{"event 1: the initrd"}},
		{PCR: 11, Status: attest.Differs, Index: 3, Events: 12, Expected: &exp},
	}}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OK           bool  `json:"ok"`
		Unverifiable []int `json:"unverifiable"`
		PCRs         []struct {
			PCR        int      `json:"pcr"`
			Status     string   `json:"status"`
			Index      *int     `json:"index"`
			Unverified []string `json:"unverified"`
			Expected   *struct {
				Type    string            `json:"type"`
				Digests map[string]string `json:"digests"`
			} `json:"expected"`
			Seen *json.RawMessage `json:"seen"`
		} `json:"pcrs"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range doc.PCRs {
		got = append(got, p.Status)
	}
	if doc.OK || len(doc.Unverifiable) != 1 || doc.Unverifiable[0] != 9 || strings.Join(got, " ") != "match unverifiable differs" {
		t.Fatalf("report JSON %s", b)
	}
	p9, p11 := doc.PCRs[1], doc.PCRs[2]
	if len(p9.Unverified) != 1 || p9.Index != nil {
		t.Errorf("PCR 9: %s", b)
	}
	if p11.Index == nil || *p11.Index != 3 || p11.Expected == nil || p11.Expected.Type != "EV_IPL" ||
		p11.Expected.Digests["sha256"] != strings.Repeat("00", 32) || p11.Seen != nil {
		t.Errorf("PCR 11: %s", b)
	}
}
