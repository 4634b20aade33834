package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEventlogVerifyQuote: "eventlog verify --quote" on the recorded stub
// 262 boot log and the quote swtpm signed with tpm2-tools over the replay
// of that log's PCR 4, 7, 9, 11 and 12 (quote/testdata, how it was made
// is in its README): accepted without --uki, naming the PCRs asked for that
// the quote does not cover; refused for another log (PCR digest), another
// nonce, a changed signature byte, and with a quote option missing.
func TestEventlogVerifyQuote(t *testing.T) {
	q := "../../quote/testdata"
	log := filepath.Join(vectors, "ovmf-sb-stub262-extras.bin")
	const nonce = "756b696275696c642d6578616d706c65" // "ukibuild-example"
	args := func(log, sig, nonce string) []string {
		return []string{"eventlog", "verify", log, "--pcrs", "4,7,9,11,12,13", "--quote", filepath.Join(q, "quote.msg"),
			"--quote-signature", sig, "--ak-public", filepath.Join(q, "ak.pub"), "--nonce", nonce}
	}
	sig := filepath.Join(q, "quote.sig")
	code, out, e := runOurs(args(log, sig, nonce)...)
	if code != 0 || !strings.Contains(out, "nonce matches, the log replays to its PCR digest over sha256:4,7,9,11,12") ||
		!strings.Contains(out, "PCR 13: not in the quote") {
		t.Errorf("the recorded log and its quote: exit %d, %s\n%s", code, e, out)
	}
	other := filepath.Join(vectors, "ovmf-sb-stub262.bin")
	if code, out, e := runOurs(args(other, sig, nonce)...); code == 0 || !strings.Contains(out, "does not replay to its PCR digest") ||
		!strings.Contains(e, "does not match the quoted PCR values") {
		t.Errorf("another boot's log: exit %d, %s\n%s", code, e, out)
	}
	if code, _, e := runOurs(args(log, sig, "00"+nonce)...); code == 0 || !strings.Contains(e, "nonce") {
		t.Errorf("another nonce: exit %d, %s", code, e)
	}
	b, err := os.ReadFile(sig)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-1] ^= 1
	bad := filepath.Join(t.TempDir(), "quote.sig")
	if err := os.WriteFile(bad, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, e := runOurs(args(log, bad, nonce)...); code == 0 || !strings.Contains(e, "bad quote signature") {
		t.Errorf("a changed signature: exit %d, %s", code, e)
	}
	if code, _, e := runOurs(args(log, sig, nonce)[:len(args(log, sig, nonce))-2]...); code == 0 || !strings.Contains(e, "--nonce missing") {
		t.Errorf("without --nonce: exit %d, %s", code, e)
	}
	if code, _, e := runOurs("eventlog", "verify", log); code == 0 || !strings.Contains(e, "nothing to compare") {
		t.Errorf("nothing to compare: exit %d, %s", code, e)
	}
}
