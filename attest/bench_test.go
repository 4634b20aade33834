package attest_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ukibuild/ukibuild/attest"
	"github.com/ukibuild/ukibuild/eventlog"
	"github.com/ukibuild/ukibuild/pcr"
	"github.com/ukibuild/ukibuild/quote"
)

const quoteDir = "../quote/testdata"

// recordedQuote is swtpm's quote over the replay of the recorded stub 262
// boot with extras (quote/testdata/README).
func recordedQuote(t testing.TB) *attest.Quote {
	t.Helper()
	q, err := quote.Load(filepath.Join(quoteDir, "quote.msg"), filepath.Join(quoteDir, "quote.sig"))
	if err != nil {
		t.Fatal(err)
	}
	ak, err := quote.LoadAKPublic(filepath.Join(quoteDir, "ak.pub"))
	if err != nil {
		t.Fatal(err)
	}
	return &attest.Quote{Quote: q, AK: ak, Nonce: []byte("ukibuild-example")}
}

// logReference is a Reference whose events are the log's own for pcrs,
// read through the JSON form: it matches the log everywhere, so that a
// benchmark compares every event.
func logReference(t testing.TB, log []byte, pcrs []int) *attest.Reference {
	t.Helper()
	evs, err := eventlog.Parse(log)
	if err != nil {
		t.Fatal(err)
	}
	evs = eventlog.Select(evs, pcrs)
	type jev struct {
		PCR         int               `json:"pcr"`
		Type        string            `json:"type"`
		Source      string            `json:"source"`
		Description string            `json:"description"`
		Digests     map[string]string `json:"digests"`
	}
	doc := struct {
		Format int                            `json:"format"`
		Banks  []string                       `json:"banks"`
		Events []jev                          `json:"events"`
		PCRs   map[string]map[string][]string `json:"pcrs"`
	}{Format: 1, Banks: []string{"sha1", "sha256"}, PCRs: map[string]map[string][]string{}}
	for _, ev := range evs {
		j := jev{PCR: ev.PCR, Type: ev.Type.String(), Source: "firmware", Description: ev.Description, Digests: map[string]string{}}
		for _, v := range ev.Digests {
			j.Digests[v.Bank.Name] = hex.EncodeToString(v.Digest)
		}
		doc.Events = append(doc.Events, j)
	}
	for _, p := range pcrs {
		doc.PCRs[strconv.Itoa(p)] = map[string][]string{}
		for _, b := range []pcr.Bank{pcr.SHA1, pcr.SHA256} {
			v, err := eventlog.Replay(evs, p, b)
			if err != nil {
				t.Fatal(err)
			}
			doc.PCRs[strconv.Itoa(p)][b.Name] = []string{hex.EncodeToString(v)}
		}
	}
	data, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	var ref attest.Reference
	if err := json.Unmarshal(data, &ref); err != nil {
		t.Fatal(err)
	}
	return &ref
}

// TestVerifyQuote: the recorded log with swtpm's quote over it verifies
// (PCR 13 is not quoted, and is said so); another boot's log does not
// replay to the quote's digest; another nonce is an error wrapping
// quote.ErrNonce.
func TestVerifyQuote(t *testing.T) {
	log := readLog(t, "ovmf-sb-stub262-extras.bin")
	pcrs := []int{4, 7, 9, 11, 12, 13}
	ref := logReference(t, log, pcrs)
	q := recordedQuote(t)
	rep, err := ref.Verify(context.Background(), attest.Evidence{Log: log, Quote: q})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || !rep.Quote.Replays || len(rep.Quote.NotQuoted) != 1 || rep.Quote.NotQuoted[0] != 13 || len(rep.PCRs) != 6 {
		t.Errorf("report:\n%s", rep)
	}
	// The selection tpm2_quote was given (quote/testdata/README.md).
	var text bytes.Buffer
	if err := rep.Quote.WriteText(&text, "quote.msg", "ak.pub"); err != nil {
		t.Fatal(err)
	}
	want := "quote quote.msg: signed by ak.pub, nonce matches, the log replays to its PCR digest over sha256:4,7,9,11,12\n" +
		"PCR 13: not in the quote, so its events are not attested by it\n"
	if text.String() != want {
		t.Errorf("WriteText:\n%s\nwant\n%s", text.String(), want)
	}
	// Report.WriteText: the quote's lines, then a line per PCR (each a
	// match here), in the order asked.
	text.Reset()
	if err := rep.WriteText(&text, "quote.msg", "ak.pub"); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(text.String(), "\n"), "\n")
	if len(lines) != 2+len(pcrs) || !strings.HasPrefix(text.String(), want) {
		t.Fatalf("Report.WriteText:\n%s", text.String())
	}
	for i, p := range pcrs {
		if !strings.HasPrefix(lines[2+i], fmt.Sprintf("PCR %d: ", p)) || !strings.Contains(lines[2+i], "match") {
			t.Errorf("line %q for PCR %d", lines[2+i], p)
		}
	}
	rep, err = attest.VerifyLog(context.Background(), attest.Evidence{Log: readLog(t, "ovmf-sb-stub262.bin"), Quote: q}, pcrs)
	if err != nil || rep.OK() || rep.Quote.Replays {
		t.Errorf("another boot's log: %v\n%s", err, rep)
	}
	other := *q
	other.Nonce = []byte("another nonce")
	if _, err := ref.Verify(context.Background(), attest.Evidence{Log: log, Quote: &other}); !errors.Is(err, quote.ErrNonce) {
		t.Errorf("another nonce: %v", err)
	}
	var le *attest.LogError
	if _, err := ref.Verify(context.Background(), attest.Evidence{Log: log[:100]}); !errors.As(err, &le) {
		t.Errorf("a truncated log: %v", err)
	}
}

// BenchmarkVerify verifies a recorded boot's log (PCR 4, 7, 9, 11, 12 and
// 13, every event compared in SHA-1 and SHA-256) and swtpm's quote over it
// against a Reference made beforehand: a verifier's work per machine.
// docs/performance.md has the numbers.
func BenchmarkVerify(b *testing.B) {
	log := readLog(b, "ovmf-sb-stub262-extras.bin")
	ref := logReference(b, log, []int{4, 7, 9, 11, 12, 13})
	ev := attest.Evidence{Log: log, Quote: recordedQuote(b)}
	b.ReportAllocs()
	for b.Loop() {
		rep, err := ref.Verify(context.Background(), ev)
		if err != nil || !rep.OK() {
			b.Fatal(err, rep)
		}
	}
}

// BenchmarkVerifyParts times the parts of BenchmarkVerify alone, to show
// where a verification's time goes: the log's parsing, the quote's
// decoding, and the quote's signature check.
func BenchmarkVerifyParts(b *testing.B) {
	log := readLog(b, "ovmf-sb-stub262-extras.bin")
	q := recordedQuote(b)
	b.Run("ParseEventLog", func(b *testing.B) {
		for b.Loop() {
			if _, err := eventlog.Parse(log); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ParseQuote", func(b *testing.B) {
		for b.Loop() {
			if _, err := quote.Parse(q.Quote); err != nil {
				b.Fatal(err)
			}
		}
	})
	seen, err := eventlog.Parse(log)
	if err != nil {
		b.Fatal(err)
	}
	info, err := quote.Parse(q.Quote)
	if err != nil {
		b.Fatal(err)
	}
	values, err := quote.Values(seen, info.Selection)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("VerifyParsedQuote", func(b *testing.B) {
		for b.Loop() {
			if err := quote.VerifyParsed(info, q.Quote, q.AK, q.Nonce, values); err != nil {
				b.Fatal(err)
			}
		}
	})
}
