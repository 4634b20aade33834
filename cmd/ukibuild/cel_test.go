package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEventlogVerifyCEL: "eventlog verify --cel" on the recorded systemd
// 262.1 initrd boot (testvectors/eventlog/ovmf-sb-systemd262-initrd.*: the
// firmware's log, systemd-pcrextend's log, the TPM's PCRs and its quote):
// with systemd's log both replay; without it the quote does not; a missing
// --systemd-version, a log that does not parse and a record systemd does
// not write fail, naming what is wrong.
func TestEventlogVerifyCEL(t *testing.T) {
	v := filepath.Join(vectors, "ovmf-sb-systemd262-initrd")
	nonce, err := os.ReadFile(v + ".nonce")
	if err != nil {
		t.Fatal(err)
	}
	args := func(extra ...string) []string {
		return append([]string{"eventlog", "verify", v + ".bin", "--pcrs", "0,1,2,3,4,5,6,7,9,11,12,13,14",
			"--quote", v + ".quote.msg", "--quote-signature", v + ".quote.sig", "--ak-public", v + ".ak.pub",
			"--nonce", strings.TrimSpace(string(nonce)), "--quote-pcrs", v + ".pcrs"}, extra...)
	}
	code, out, e := runOurs(args("--cel", v+".cel", "--systemd-version", "262.1")...)
	if code != 0 || !strings.Contains(out, "the log replays to its PCR digest") ||
		!strings.Contains(out, `systemd event 1: PCR 11 phase "enter-initrd": as systemd measures it`) {
		t.Errorf("with systemd's log: exit %d, %s\n%s", code, e, out)
	}
	// --json: one JSON document, systemd's records in it.
	code, out, e = runOurs(args("--cel", v+".cel", "--systemd-version", "262.1", "--json")...)
	var doc struct {
		OK      bool `json:"ok"`
		Systemd []struct {
			PCR    *int   `json:"pcr"`
			String string `json:"string"`
			OK     bool   `json:"ok"`
		} `json:"systemd"`
	}
	if err := json.Unmarshal([]byte(out), &doc); code != 0 || err != nil || !doc.OK || len(doc.Systemd) == 0 {
		t.Errorf("--json: exit %d, %v, %s\n%s", code, err, e, out)
	}
	phases := 0
	for _, r := range doc.Systemd {
		if !r.OK {
			t.Errorf("--json: record %+v not ok", r)
		}
		if r.PCR != nil && *r.PCR == 11 && r.String == "enter-initrd" {
			phases++
		}
	}
	if phases != 1 {
		t.Errorf("--json: %d enter-initrd records in PCR 11, want 1\n%s", phases, out)
	}
	if code, out, e := runOurs(args()...); code == 0 || !strings.Contains(out, "does not replay") {
		t.Errorf("without systemd's log: exit %d, %s\n%s", code, e, out)
	}
	if code, _, e := runOurs(args("--cel", v+".cel")...); code == 0 || !strings.Contains(e, "needs --systemd-version") {
		t.Errorf("without --systemd-version: exit %d, %s", code, e)
	}
	bad := filepath.Join(t.TempDir(), "tpm2-measure.log")
	if err := os.WriteFile(bad, []byte("\x1e{\"pcr\":11}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, e := runOurs(args("--cel", bad, "--systemd-version", "262")...); code == 0 || !strings.Contains(e, bad+": systemd's log: record 0 has no digest") {
		t.Errorf("a record without a digest: exit %d, %s", code, e)
	}
	if code, _, e := runOurs(args("--cel", v+".cel", "--systemd-version", "260")...); code == 0 ||
		!strings.Contains(e, "are not what systemd 260 measures") {
		t.Errorf("systemd 260 (no os-separator): exit %d, %s", code, e)
	}
}

// TestMeasureExplainSystemdPhase: "measure --explain --phase P
// --systemd-version V" gives PCR 11 after P as "measure --phase P" (the
// systemd-measure computation, checked against systemd-measure 262.1 in
// TestMeasureVerbsMatchSystemdMeasure; the boot test compares every PCR
// with the TPM's) and the separators systemd 262 adds from enter-initrd
// on; it needs --systemd-version and one --phase, and refuses a word
// systemd does not measure.
func TestMeasureExplainSystemdPhase(t *testing.T) {
	f := getFixture(t)
	dir := t.TempDir()
	efi := filepath.Join(dir, "uki.efi")
	if code, _, e := runUkify(t, f.tools, dir, "build", "--stub", f.stubs["262"], "--linux", f.kernel,
		"--initrd", filepath.Join(f.dir, "initrd1"), "--cmdline", "quiet", "--output", efi); code != 0 {
		t.Fatalf("ukify: %s", e)
	}
	for _, phase := range []string{"enter-initrd", "enter-initrd:leave-initrd:sysinit:ready"} {
		_, calc, _ := runOurs("measure", efi, "--bank", "sha256", "--phase", phase)
		want := strings.TrimPrefix(strings.TrimSpace(calc), "11:sha256=")
		code, out, e := runOurs("measure", efi, "--explain", "--pcrs", "9,11", "--bank", "sha256", "--phase", phase, "--systemd-version", "262.1")
		if code != 0 || len(want) != 64 || !strings.Contains(out, "PCR 11 after "+phase+": sha256="+want) ||
			!strings.Contains(out, `PCR 9 systemd event 0: os-separator "os-separator"`) ||
			!strings.Contains(out, `PCR 9 systemd event 1: nvpcr-separator "nvpcr-separator"`) {
			t.Errorf("--phase %s: exit %d, %s; want PCR 11 %s\n%s", phase, code, e, want, out)
		}
	}
	// systemd 258 measures neither separator.
	if code, out, _ := runOurs("measure", efi, "--explain", "--pcrs", "9,11", "--bank", "sha256", "--phase", "enter-initrd", "--systemd-version", "258"); code != 0 ||
		strings.Contains(out, "PCR 9 after") || !strings.Contains(out, "PCR 11 after enter-initrd") {
		t.Errorf("systemd 258: exit %d\n%s", code, out)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--phase", "enter-initrd"}, "needs --systemd-version"},
		{[]string{"--systemd-version", "262"}, "one --phase"},
		{[]string{"--phase", "enter-initrd:bogus", "--systemd-version", "262"}, `"bogus" is not a phase word of systemd 262`},
		{[]string{"--phase", "enter-initrd", "--systemd-version", "300"}, "systemd version not examined"},
	} {
		args := append([]string{"measure", efi, "--explain", "--pcrs", "11", "--bank", "sha256"}, c.args...)
		if code, _, e := runOurs(args...); code == 0 || !strings.Contains(e, c.want) {
			t.Errorf("%v: exit %d, %s; want %q", c.args, code, e, c.want)
		}
	}
}
