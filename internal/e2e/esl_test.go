package e2e

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-attestation/attest"

	"github.com/ukibuild/ukibuild/uefi"
)

// Host tools of the EFI signature list cases (case 10): efitools
// (installed by .ci/deps.sh).
const (
	certToESL = "cert-to-efi-sig-list"
	hashToESL = "hash-to-efi-sig-list"
	signESL   = "sign-efi-sig-list"
)

// Owners of the case 10 lists: each variable's own GUID, none of them
// ownerGUID, and db's two certificates have different owners, so that no
// PEM enrolment with one owner GUID (virt-fw-vars --set-pk/--add-kek/
// --add-db, ukibuild --owner-guid) makes these lists.
const (
	pkOwnerESL    = "0e5a1b2c-3d4e-4f50-8a61-72830a0b0c01"
	kekOwnerESL   = "0e5a1b2c-3d4e-4f50-8a61-72830a0b0c02"
	dbOwnerESL    = "0e5a1b2c-3d4e-4f50-8a61-72830a0b0c03"
	otherOwnerESL = "0e5a1b2c-3d4e-4f50-8a61-72830a0b0c04"
)

// authTime is sign-efi-sig-list's timestamp (-t) for the .auth files.
const authTime = "2026-01-02 03:04:05"

// GUIDs and attributes of the Secure Boot variables (UEFI 2.10, 3.3 and
// 32.6.1): EFI_GLOBAL_VARIABLE for PK and KEK,
// EFI_IMAGE_SECURITY_DATABASE_GUID for db and dbx; non-volatile, boot
// service and runtime access, time-based authenticated write.
const (
	efiGlobalVariable  = "8be4df61-93ca-11d2-aa0d-00e098032b8c"
	efiImageSecurityDB = "d719b2cb-3d3a-4596-a3bc-dad00e67656f"
	authVarAttr        = 0x27
)

// eslKeys are case 10's Secure Boot variables as EFI signature lists
// made by efitools from the test's certificates: PK and KEK one list each
// (their own owner GUIDs); db three lists: ONE EFI_CERT_SHA256 list with
// two entries (hash-to-efi-sig-list of two images other than the UKI:
// Debian's add-on stub and systemd-boot), a certificate that signs
// nothing (its own owner) and the db certificate, which signs the UKIs,
// so that the firmware's authority event is db's fourth entry.
//
// (A list of two X.509 entries, which the UEFI specification allows for
// certificates of one size, cannot be enrolled with virt-fw-vars 24.2:
// its parser refuses it, "x509 signature list not empty".)
type eslKeys struct {
	pk, kek, db string // .esl files
	dbAuth      string // db's lists in a .auth signed with the KEK key
	other       *testCert
}

func runTool(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// newESLKeys makes the lists in dir.
func (e *env) newESLKeys(t *testing.T, dir string) *eslKeys {
	t.Helper()
	need(t, certToESL, hashToESL, signESL)
	k := &eslKeys{pk: filepath.Join(dir, "PK.esl"), kek: filepath.Join(dir, "KEK.esl"), db: filepath.Join(dir, "db.esl"), dbAuth: filepath.Join(dir, "db.auth")}
	runTool(t, certToESL, "-g", pkOwnerESL, e.sb.pk.cert, k.pk)
	runTool(t, certToESL, "-g", kekOwnerESL, e.sb.kek.cert, k.kek)
	var err error
	if k.other, err = newTestCert(dir, "other", "ukibuild e2e db, signs nothing"); err != nil {
		t.Fatal(err)
	}
	hashes, other, signer := filepath.Join(dir, "hashes.esl"), filepath.Join(dir, "other.esl"), filepath.Join(dir, "db-cert.esl")
	runTool(t, hashToESL, e.tools.Path(t, "UKIBUILD_ADDON_STUB_262"), e.tools.Path(t, "UKIBUILD_SYSTEMD_BOOT_262"), hashes)
	runTool(t, certToESL, "-g", otherOwnerESL, k.other.cert, other)
	runTool(t, certToESL, "-g", dbOwnerESL, e.sb.db.cert, signer)
	h := readFile(t, hashes)
	if len(h) != 28+2*(16+32) {
		t.Fatalf("hash-to-efi-sig-list of two images: %d bytes, not one list of two SHA-256 entries", len(h))
	}
	db := append(append(h, readFile(t, other)...), readFile(t, signer)...)
	if err := os.WriteFile(k.db, db, 0o644); err != nil {
		t.Fatal(err)
	}
	runTool(t, signESL, "-k", e.sb.kek.key, "-c", e.sb.kek.cert, "-t", authTime, "db", k.db, k.dbAuth)
	return k
}

// enrollLists writes a copy of OVMF's varstore with Secure Boot on and
// PK, KEK and db set to the bytes of the given .esl files, and dbx to the
// lists of dbxAuth (a .auth of the lists in dbxESL) or, without one,
// virt-fw-vars' placeholder (virtFwVarsDBX). virt-fw-vars' --set-pk/--add-kek/--add-db take PEM
// certificates only, and --set-dbx a .auth for dbx only; --set-json sets
// any variable to the given bytes (its JSON is --output-json's: name,
// guid, attr, data in hex), which is how the lists are enrolled as they
// are. The result is read back and checked.
func enrollLists(t *testing.T, dir string, k *eslKeys, dbxESL, dbxAuth string) string {
	t.Helper()
	type variable struct {
		Name string `json:"name"`
		GUID string `json:"guid"`
		Attr int    `json:"attr"`
		Data string `json:"data"`
	}
	want := map[string][]byte{"PK": readFile(t, k.pk), "KEK": readFile(t, k.kek), "db": readFile(t, k.db), "dbx": virtFwVarsDBX()}
	if dbxAuth != "" {
		want["dbx"] = readFile(t, dbxESL)
	}
	var doc struct {
		Version   int        `json:"version"`
		Variables []variable `json:"variables"`
	}
	doc.Version = 2
	for _, n := range []string{"PK", "KEK", "db"} {
		guid := efiGlobalVariable
		if n == "db" {
			guid = efiImageSecurityDB
		}
		doc.Variables = append(doc.Variables, variable{n, guid, authVarAttr, hex.EncodeToString(want[n])})
	}
	js, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	lists := filepath.Join(dir, "lists.json")
	if err := os.WriteFile(lists, js, 0o644); err != nil {
		t.Fatal(err)
	}
	vars := filepath.Join(dir, "OVMF_VARS_4M.esl.fd")
	args := []string{"--input", ovmfVars, "--output", vars, "--set-json", lists}
	if dbxAuth != "" {
		args = append(args, "--set-dbx", dbxAuth)
	}
	runTool(t, virtFwVars, append(args, "--secure-boot")...)
	// Read back: the variables hold the lists' bytes (dbx: the .auth's
	// lists, or the placeholder the case 10 predictions are given).
	back := filepath.Join(dir, "vars.json")
	runTool(t, virtFwVars, "--input", vars, "--output-json", back)
	var got struct{ Variables []variable }
	if err := json.Unmarshal(readFile(t, back), &got); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, v := range got.Variables {
		if w, ok := want[v.Name]; ok {
			seen[v.Name] = true
			if v.Data != hex.EncodeToString(w) {
				t.Fatalf("virt-fw-vars stored %s as %s, not the list's bytes", v.Name, v.Data)
			}
		}
	}
	if len(seen) != len(want) {
		t.Fatalf("the varstore lacks some of %v: has %v", want, seen)
	}
	return vars
}

// withVars is e booting with the varstore vars instead of the shared one.
func (e *env) withVars(vars string) *env {
	e2, sb := *e, *e.sb
	sb.vars = vars
	e2.sb = &sb
	return &e2
}

// TestBootESLEnrolledKeys (case 10): PK, KEK and db enrolled from EFI
// signature lists made by efitools (their own owner GUIDs; db a list of
// two image hashes and two certificates, the UKI's signer last) boot a
// UKI signed with the db key, and "ukibuild eventlog verify" given those lists (and virt-fw-vars'
// placeholder dbx) predicts PCR 4, 7, 9 and 11 of the event log, and given
// db as the .auth sign-efi-sig-list made of it too; the same keys as PEM
// certificates with ownerGUID (what virt-fw-vars' PEM enrolment makes)
// differ at PK.
func TestBootESLEnrolledKeys(t *testing.T) {
	const name = "10 keys enrolled from EFI signature lists"
	e := setup(t)
	dir := e.workDir(t)
	k := e.newESLKeys(t, dir)
	vars := enrollLists(t, dir, k, "", "")
	efi := filepath.Join(dir, "uki.efi")
	e.buildSigned(t, efi, e.sb.db, e.ukiArgs(t, "262")...)
	res := e.withVars(vars).boot(t, efi)

	log, quote, dbx := filepath.Join(dir, "eventlog.bin"), filepath.Join(dir, "quote.txt"), filepath.Join(dir, "dbx.esl")
	q := fmt.Sprintf("7:sha256=%s\n11:sha256=%s\n", res.pcr7["sha256"], res.pcr11["sha256"])
	for f, b := range map[string][]byte{log: res.evlog, quote: []byte(q), dbx: virtFwVarsDBX()} {
		if err := os.WriteFile(f, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	verify := func(keys ...string) (string, error) {
		args := append([]string{"eventlog", "verify", log, "--uki", efi, "--pcrs", "4,7,9,11", "--boot-attempts", "2",
			"--quote-pcrs", quote, "--dbx", dbx}, keys...)
		out, err := exec.Command(e.ukibuild, args...).CombinedOutput()
		return string(out), err
	}
	want := []string{"PCR 4: match (", "PCR 7: match (7 events)", "PCR 9: match (", "PCR 11: match (",
		"PCR 7 sha256: the log replays to the quoted value", "PCR 11 sha256: the log replays to the quoted value"}
	for _, c := range []struct{ check, db string }{
		{"eventlog verify --pk PK.esl --kek KEK.esl --db db.esl --dbx", k.db},
		{"eventlog verify --pk PK.esl --kek KEK.esl --db db.auth --dbx", k.dbAuth},
	} {
		out, err := verify("--pk", k.pk, "--kek", k.kek, "--db", c.db)
		ok := err == nil
		for _, w := range want {
			ok = ok && strings.Contains(out, w)
		}
		record(t, name, c.check, "PCR 4, 9, 11 match; PCR 7 match (7 events); replay = TPM (PCR 7, 11)", oneLine(out), ok)
		if !ok {
			t.Errorf("%s: %v; want %q in\n%s", c.check, err, want, out)
		}
	}
	// The same certificates as PEM with ownerGUID: PCR 7 differs at the
	// first variable whose list is not virt-fw-vars' PEM enrolment's: PK.
	out, err := verify("--owner-guid", ownerGUID, "--pk", e.sb.pk.cert, "--kek", e.sb.kek.cert, "--db", k.other.cert, "--db", e.sb.db.cert)
	ok := err != nil && strings.Contains(out, "PCR 7: event 1 differs") && strings.Contains(out, "PCR 11: match")
	record(t, name, "eventlog verify, the keys as PEM (owner "+ownerGUID+")", "fails: PCR 7 event 1 (PK)", oneLine(out), ok)
	if !ok {
		t.Errorf("eventlog verify with the PEM certificates: %v; want PCR 7 to differ at event 1 (PK):\n%s", err, out)
	}
	// The firmware named db's fourth entry: the db certificate with its
	// owner (EFI_SIGNATURE_DATA: the owner GUID, then the certificate).
	owner, err := uefi.ParseGUID(dbOwnerESL)
	if err != nil {
		t.Fatal(err)
	}
	one, authority := parseAuthority(t, res.evlog)
	entry := append(owner[:], e.sb.db.c.Raw...)
	has := bytes.HasSuffix(authority, entry)
	ok = one && has
	record(t, name, "PCR 7 authority event (event log)", fmt.Sprintf("db's entry 4: owner %s, certificate %q", dbOwnerESL, e.sb.db.c.Subject.CommonName),
		fmt.Sprintf("one event: %v; %d bytes, ends with that entry: %v", one, len(authority), has), ok)
	if !ok {
		t.Errorf("the event log's authority event is not the db certificate's entry (serial log %s)", res.serial)
	}
}

// TestBootDBXRefusesUKIHash (case 10): with the signed UKI's Authenticode
// SHA-256 in dbx (hash-to-efi-sig-list's list, enrolled from the .auth
// sign-efi-sig-list makes of it with the KEK key) the firmware refuses the
// UKI although db's certificate signed it ("Access Denied"), "ukibuild
// measure --explain --pcrs 7" given that dbx warns that the firmware
// refuses the UKI and predicts no authority event (and, given the
// placeholder dbx, one), and "ukibuild verify --dbx-hash" fails.
func TestBootDBXRefusesUKIHash(t *testing.T) {
	const name = "10 UKI's hash in dbx"
	e := setup(t)
	dir := e.workDir(t)
	k := e.newESLKeys(t, dir)
	efi := filepath.Join(dir, "uki.efi")
	e.buildSigned(t, efi, e.sb.db, e.ukiArgs(t, "262")...)
	dbx, dbxAuth := filepath.Join(dir, "dbx.esl"), filepath.Join(dir, "dbx.auth")
	out := runTool(t, hashToESL, efi, dbx)
	m := regexp.MustCompile(`HASH IS ([0-9a-f]{64})`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("hash-to-efi-sig-list printed no hash: %s", out)
	}
	digest := m[1]
	runTool(t, signESL, "-k", e.sb.kek.key, "-c", e.sb.kek.cert, "-t", authTime, "dbx", dbx, dbxAuth)
	vars := enrollLists(t, dir, k, dbx, dbxAuth)

	// ukibuild verify: db alone accepts it, the digest as dbx refuses it.
	vout, err := exec.Command(e.ukibuild, "verify", efi, "--cert", e.sb.db.cert).CombinedOutput()
	if err != nil {
		t.Fatalf("ukibuild verify against db: %v\n%s", err, vout)
	}
	vout, err = exec.Command(e.ukibuild, "verify", efi, "--cert", e.sb.db.cert, "--dbx-hash", digest).CombinedOutput()
	ok := err != nil && strings.Contains(string(vout), digest)
	record(t, name, "ukibuild verify --cert db --dbx-hash (hash-to-efi-sig-list's)", "fails: digest "+digest+" in dbx", oneLine(string(vout)), ok)
	if !ok {
		t.Errorf("ukibuild verify with the UKI's digest in dbx: %v\n%s", err, vout)
	}

	// ukibuild measure --explain: the refusal is a warning, and PCR 7 has
	// no authority event; with the placeholder dbx it has one.
	explain := func(dbx string) (stdout, stderr string, err error) {
		var o, s bytes.Buffer
		cmd := exec.Command(e.ukibuild, "measure", efi, "--explain", "--pcrs", "7", "--bank", "sha256",
			"--pk", k.pk, "--kek", k.kek, "--db", k.db, "--dbx", dbx)
		cmd.Stdout, cmd.Stderr = &o, &s
		err = cmd.Run()
		return o.String(), s.String(), err
	}
	placeholder := filepath.Join(dir, "placeholder-dbx.esl")
	if err := os.WriteFile(placeholder, virtFwVarsDBX(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		check, dbx string
		refused    bool
	}{
		{"measure --explain --pcrs 7 --dbx dbx.esl", dbx, true},
		{"measure --explain --pcrs 7 --dbx dbx.auth", dbxAuth, true},
		{"measure --explain --pcrs 7, placeholder dbx (control)", placeholder, false},
	} {
		stdout, stderr, err := explain(c.dbx)
		authority := strings.Contains(stdout, "EV_EFI_VARIABLE_AUTHORITY")
		warned := strings.Contains(stderr, "the firmware refuses the UKI") && strings.Contains(stderr, digest)
		expected, ok := "no authority event; warning: the firmware refuses the UKI (digest in dbx)", !authority && warned
		if !c.refused {
			expected, ok = "an authority event, no warning", authority && !warned
		}
		ok = ok && err == nil
		seen := fmt.Sprintf("authority event: %v; stderr: %s", authority, strings.TrimSpace(stderr))
		record(t, name, c.check, expected, seen, ok)
		if !ok {
			t.Errorf("%s: %v; want %s; stdout:\n%s\nstderr:\n%s", c.check, err, expected, stdout, stderr)
		}
	}

	// The firmware refuses it.
	r := e.withVars(vars).qemu(t, efi, newTPMState(t, e.workDir(t)), 10*time.Minute)
	checkRefused(t, name, "firmware, UKI signed by db, its hash in dbx", `refused: "Access Denied"`, "", r)
}

// parseAuthority returns the data of the event log's one PCR 7
// EV_EFI_VARIABLE_AUTHORITY event (TCG PC Client PFP 10.4.1: 0x800000e0),
// and whether there was exactly one.
func parseAuthority(t *testing.T, evlog []byte) (bool, []byte) {
	t.Helper()
	el, err := attest.ParseEventLog(evlog)
	if err != nil {
		t.Errorf("parsing the event log: %v", err)
		return false, nil
	}
	var found [][]byte
	for _, ev := range el.Events(attest.HashSHA256) {
		if ev.Index == 7 && uint32(ev.Type) == 0x800000e0 {
			found = append(found, ev.Data)
		}
	}
	if len(found) != 1 {
		return false, nil
	}
	return true, found[0]
}
