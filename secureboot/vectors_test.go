package secureboot_test

import (
	"bytes"
	"crypto/sha256"
	"path/filepath"
	"testing"

	"github.com/ukibuild/ukibuild/eventlog"
	"github.com/ukibuild/ukibuild/pcr"
	"github.com/ukibuild/ukibuild/secureboot"
	"github.com/ukibuild/ukibuild/uefi"
)

const vectorDir = "../testvectors/eventlog"

// TestEventLogVectors: the recorded Secure Boot boots
// (testvectors/eventlog/ovmf-sb-stub{252,262}.bin) enrolled pk.pem, kek.pem
// and db.pem + hsm.pem with owner ownerText through virt-fw-vars, whose
// --secure-boot also put its placeholder in dbx. The Databases made from
// the PEM files, from efitools' .esl files of the same certificates, and
// the variables virt-fw-vars enrolls now, must be the same bytes; PCR 7
// predicted from them, with the db.pem entry as the authority, must be the
// log's PCR 7, event for event, in both banks.
//
// The booted UKIs are not stored (testvectors/README.md), so Authorize
// cannot be run on them here: the log's authority event is checked
// against the db entry instead (TestAuthorize covers Authorize).
func TestEventLogVectors(t *testing.T) {
	pem := func(n string) string { return filepath.Join(vectorDir, n+".pem") }
	dir := t.TempDir()
	eslOf := func(n string) string {
		out := filepath.Join(dir, n+".esl")
		run(t, "cert-to-efi-sig-list", "efitools", "-g", ownerText, pem(n), out)
		return out
	}
	vars := virtFwVarsJSON(t, "--set-pk", ownerText, pem("pk"), "--add-kek", ownerText, pem("kek"),
		"--add-db", ownerText, pem("db"), "--add-db", ownerText, pem("hsm"), "--secure-boot")
	fromPEM := map[string]*secureboot.Database{
		"PK": readDB(t, pem("pk")), "KEK": readDB(t, pem("kek")), "db": readDB(t, pem("db"), pem("hsm")),
	}
	fromESL := map[string]*secureboot.Database{
		"PK": readDB(t, eslOf("pk")), "KEK": readDB(t, eslOf("kek")), "db": readDB(t, eslOf("db"), eslOf("hsm")),
	}
	for _, v := range []string{"PK", "KEK", "db"} {
		if !bytes.Equal(fromPEM[v].Bytes(), fromESL[v].Bytes()) {
			t.Errorf("%s: the PEM and the efitools .esl give different variables", v)
		}
		if !bytes.Equal(fromPEM[v].Bytes(), vars[v]) {
			t.Errorf("%s: ours differs from virt-fw-vars'", v)
		}
	}
	// The CLI's bytes for PEM inputs today: eventlog.X509SignatureList per
	// certificate.
	var cli []byte
	for _, e := range fromESL["db"].Entries() {
		cli = append(cli, eventlog.X509SignatureList(owner, e.Certificate.Raw)...)
	}
	if !bytes.Equal(cli, fromESL["db"].Bytes()) {
		t.Errorf("db: differs from eventlog.X509SignatureList per certificate")
	}
	dbx, err := secureboot.ParseSignatureLists(vars["dbx"])
	if err != nil || dbx.Len() != 1 {
		t.Fatalf("virt-fw-vars' dbx: %v", err)
	}
	db := fromESL["db"]
	var authority *secureboot.Entry
	for _, e := range db.Entries() {
		if e.Certificate != nil && bytes.Equal(e.Certificate.Raw, fromPEM["db"].Entries()[0].Data) {
			authority = &e
			break
		}
	}
	if authority == nil {
		t.Fatal("db.pem is not in the db built from efitools' lists")
	}
	sbVars := eventlog.SecureBootVariables{SecureBoot: true, PK: fromESL["PK"].Bytes(), KEK: fromESL["KEK"].Bytes(), DB: db.Bytes(), DBX: dbx.Bytes()}
	for _, version := range []string{"252", "262"} {
		events, err := eventlog.Parse(read(t, filepath.Join(vectorDir, "ovmf-sb-stub"+version+".bin")))
		if err != nil {
			t.Fatal(err)
		}
		want := eventlog.PCR7Events(sbVars, [][]byte{authority.SignatureData()}, []pcr.Bank{pcr.SHA1, pcr.SHA256})
		if r := eventlog.CompareEvents(want, events, []int{7}); !r[0].Match || r[0].Events != 7 {
			t.Errorf("stub %s: %s", version, r[0])
		}
		// The log's authority event is H(UEFI_VARIABLE_DATA "db" + that
		// entry), and no other db entry's.
		var seen []byte
		for _, e := range eventlog.Select(events, []int{7}) {
			if e.Type == eventlog.EvEFIVariableAuthority {
				seen, _ = e.Digest(pcr.SHA256)
			}
		}
		for i, e := range db.Entries() {
			h := sha256.Sum256(eventlog.VariableData(uefi.ImageSecurityDatabase, "db", e.SignatureData()))
			if match := bytes.Equal(h[:], seen); match != (i == 0) {
				t.Errorf("stub %s: db entry %d (%s) matches the log's authority: %v", version, i, e.Certificate.Subject, match)
			}
		}
	}
}
