package main

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const vectors = "../../testvectors/eventlog"

// osslsigncodeDigest is the Authenticode SHA-256 digest of a signed PE
// image as osslsigncode (Debian package osslsigncode) computes it (it prints
// none for an unsigned one).
func osslsigncodeDigest(t *testing.T, file string) string {
	t.Helper()
	out, _ := exec.Command("osslsigncode", "verify", "-in", file).CombinedOutput() // fails: unsigned
	m := regexp.MustCompile(`Calculated message digest\s*:\s*([0-9A-F]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("osslsigncode verify -in %s printed no digest (is osslsigncode installed?):\n%s", file, out)
	}
	return strings.ToLower(string(m[1]))
}

// TestMeasureExplain: "measure FILE --explain --json" lists PCR 4 and 11
// events whose replay is "measure FILE"'s PCR 11 value, and the UKI's PCR 4
// event carries osslsigncode's Authenticode digest.
func TestMeasureExplain(t *testing.T) {
	f := getFixture(t)
	dir := t.TempDir()
	efi := filepath.Join(dir, "uki.efi")
	if code, _, e := runUkify(t, f.tools, dir, "build", "--stub", f.stubs["262"], "--linux", f.kernel,
		"--initrd", filepath.Join(f.dir, "initrd1"), "--cmdline", "quiet", "--output", filepath.Join(dir, "unsigned.efi")); code != 0 {
		t.Fatalf("ukify: %s", e)
	}
	key, cert := selfSignedKeyCert(t, dir, "sb")
	if code, _, e := runOurs("sign", filepath.Join(dir, "unsigned.efi"), "-o", efi, "--key", key, "--cert", cert); code != 0 {
		t.Fatalf("sign: %s", e)
	}
	code, out, e := runOurs("measure", efi, "--explain", "--pcrs", "4,11", "--bank", "sha256", "--json=short", "--boot-attempts", "2")
	if code != 0 {
		t.Fatalf("measure --explain: exit %d: %s", code, e)
	}
	var doc struct {
		Events []struct {
			PCR         int               `json:"pcr"`
			Type        string            `json:"type"`
			Description string            `json:"description"`
			Digests     map[string]string `json:"digests"`
		} `json:"events"`
		PCRs map[string]map[string]string `json:"pcrs"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var types []string
	for _, ev := range doc.Events {
		if ev.PCR == 4 {
			types = append(types, ev.Type)
		}
	}
	if want := "EV_EFI_ACTION EV_SEPARATOR EV_EFI_ACTION EV_EFI_ACTION EV_EFI_BOOT_SERVICES_APPLICATION"; strings.Join(types, " ") != want {
		t.Errorf("PCR 4 events %v, want %s", types, want)
	}
	if n := len(doc.Events); n < 6 || doc.Events[4].Digests["sha256"] != osslsigncodeDigest(t, efi) {
		t.Errorf("the UKI's PCR 4 event %+v; osslsigncode's digest %s", doc.Events[min(4, n-1)], osslsigncodeDigest(t, efi))
	}
	_, calc, _ := runOurs("measure", efi, "--bank", "sha256", "--phase=:")
	if want := "11:sha256=" + doc.PCRs["11"]["sha256"]; strings.TrimSpace(calc) != want {
		t.Errorf("PCR 11 replay %s; measure says %s", want, calc)
	}
	_, text, _ := runOurs("measure", efi, "--explain", "--pcrs", "11", "--bank", "sha256")
	if !strings.Contains(text, "PCR 11 event 1: EV_IPL section .linux (data,") || !strings.Contains(text, strings.TrimSpace(calc)) {
		t.Errorf("measure --explain text output:\n%s", text)
	}
	if code, _, e := runOurs("measure", efi, "--explain", "--pcrs", "10"); code == 0 || !strings.Contains(e, "PCR 10: not predicted") {
		t.Errorf("--pcrs 10: exit %d, %s", code, e)
	}
	if code, _, e := runOurs("measure", efi, "--explain", "--pcrs", "7"); code == 0 || !strings.Contains(e, "PCR 7 needs --pk and --db") {
		t.Errorf("--pcrs 7 without variables: exit %d, %s", code, e)
	}
}

// TestEventlogVerifyReportsFirstDivergingEvent runs "eventlog verify" on
// the event log recorded from the stub 252 boot (testvectors) against
// another UKI built from the same stub and kernel: PCR 4 differs at the
// UKI's event, PCR 11 at the first section that differs; the quoted PCR
// values the TPM reported match the log's replay, and a changed one does
// not.
func TestEventlogVerifyReportsFirstDivergingEvent(t *testing.T) {
	f := getFixture(t)
	dir := t.TempDir()
	efi := filepath.Join(dir, "uki.efi")
	if code, _, e := runUkify(t, f.tools, dir, "build", "--stub", f.stubs["252"], "--linux", f.kernel,
		"--initrd", filepath.Join(f.dir, "initrd1"), "--cmdline", "console=ttyS0 panic=-1", "--os-release", "ID=other", "--output", efi); code != 0 {
		t.Fatalf("ukify: %s", e)
	}
	log := filepath.Join(vectors, "ovmf-sb-stub252.bin")
	quote := filepath.Join(vectors, "ovmf-sb-stub252.pcrs")
	code, out, e := runOurs("eventlog", "verify", log, "--uki", efi, "--pcrs", "4,11", "--boot-attempts", "2", "--quote-pcrs", quote)
	if code != 1 || !strings.Contains(e, "2 PCR(s) differ") {
		t.Errorf("exit %d, stderr %q", code, e)
	}
	for _, want := range []string{
		"PCR 11 sha256: the log replays to the quoted value",
		"PCR 7 sha256: the log replays to the quoted value",
		"PCR 4: event 4 differs (sha1 digest):\n  expected EV_EFI_BOOT_SERVICES_APPLICATION sha1:",
		"PCR 11: event 1 differs",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	q, err := os.ReadFile(quote)
	if err != nil {
		t.Fatal(err)
	}
	bad := writeFile(dir, "bad.pcrs", []byte(strings.Replace(string(q), "7:sha256=c", "7:sha256=d", 1)))
	code, out, _ = runOurs("eventlog", "verify", log, "--uki", efi, "--pcrs", "4", "--quote-pcrs", bad)
	if code != 1 || !strings.Contains(out, "PCR 7 sha256: the log replays to cccf7aed") {
		t.Errorf("a changed quote: exit %d:\n%s", code, out)
	}
	if code, _, e := runOurs("eventlog", "verify", log, "--uki", efi, "--pcrs", "10"); code != 1 || !strings.Contains(e, "PCR 10: not predicted") {
		t.Errorf("--pcrs 10: exit %d, %s", code, e)
	}
}

// TestEventlogVerifyPCR7 runs "eventlog verify --pcrs 7" on the recorded
// stub 252 log with the boot's PK and KEK and virt-fw-vars' dbx, but a db
// of another certificate (which signed this UKI): the first diverging event
// is the db variable's.
func TestEventlogVerifyPCR7(t *testing.T) {
	f := getFixture(t)
	dir := t.TempDir()
	if code, _, e := runUkify(t, f.tools, dir, "build", "--stub", f.stubs["252"], "--linux", f.kernel,
		"--initrd", filepath.Join(f.dir, "initrd1"), "--output", filepath.Join(dir, "unsigned.efi")); code != 0 {
		t.Fatalf("ukify: %s", e)
	}
	key, cert := selfSignedKeyCert(t, dir, "db")
	efi := filepath.Join(dir, "uki.efi")
	if code, _, e := runOurs("sign", filepath.Join(dir, "unsigned.efi"), "-o", efi, "--key", key, "--cert", cert); code != 0 {
		t.Fatalf("sign: %s", e)
	}
	// virt-fw-vars' dbx: EFI_CERT_SHA256_GUID, sizes 76, 0, 48, the owner
	// a0baa8a3-041d-48a8-bc87-c36d121b5e3d and SHA-256("").
	dbx, _ := hex.DecodeString("2616c4c14c509240aca941f9369343284c0000000000000030000000" +
		"a3a8baa01d04a848bc87c36d121b5e3d" + "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
	dbxFile := writeFile(dir, "dbx.esl", dbx)
	args := []string{"eventlog", "verify", filepath.Join(vectors, "ovmf-sb-stub252.bin"), "--uki", efi, "--pcrs", "7",
		"--pk", filepath.Join(vectors, "pk.pem"), "--kek", filepath.Join(vectors, "kek.pem"), "--dbx", dbxFile}
	code, _, e := runOurs(append(args, "--db", cert)...)
	if code != 1 || !strings.Contains(e, "--owner-guid") {
		t.Errorf("without --owner-guid: exit %d, %s", code, e)
	}
	args = append(args, "--owner-guid", "7ab1e5e2-0c3b-4b8e-9a51-1f0ddba11e55")
	code, out, e := runOurs(append(args, "--db", cert)...)
	if code != 1 || !strings.Contains(out, "PCR 7: event 3 differs (sha1 digest):\n  expected EV_EFI_VARIABLE_DRIVER_CONFIG") ||
		!strings.Contains(out, `"variable db (1656 bytes of data)"`) {
		t.Errorf("another db: exit %d, %s\n%s", code, e, out)
	}
	// The recorded db, which did not sign this UKI: the variables match,
	// the authority is missing.
	code, out, e = runOurs(append(args, "--db", filepath.Join(vectors, "db.pem"), "--db", filepath.Join(vectors, "hsm.pem"))...)
	if code != 1 || !strings.Contains(e, "not authorized by the --db certificates") ||
		!strings.Contains(out, "PCR 7: event 6 differs:\n  expected (none: the list ends)\n  seen     PCR 7 EV_EFI_VARIABLE_AUTHORITY") {
		t.Errorf("a db that did not sign the UKI: exit %d, %s\n%s", code, e, out)
	}
}
