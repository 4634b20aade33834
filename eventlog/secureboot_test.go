package eventlog_test

import (
	"crypto/sha256"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/ukibuild/ukibuild/eventlog"
	"github.com/ukibuild/ukibuild/pcr"
	"github.com/ukibuild/ukibuild/uefi"
)

func certDER(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(vectorDir, name))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		t.Fatalf("%s: no PEM certificate", name)
	}
	return blk.Bytes
}

func mustParseGUID(t *testing.T, s string) uefi.GUID {
	t.Helper()
	g, err := uefi.ParseGUID(s)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// vectorVariables are the Secure Boot variables of the recorded boots:
// the boot tests enroll, with owner 7ab1e5e2-0c3b-4b8e-9a51-1f0ddba11e55,
// PK, KEK and db (db.pem and the token's hsm.pem, one list each) with
// virt-fw-vars --secure-boot, which also puts one SHA-256 entry (of the
// empty string, owner a0baa8a3-041d-48a8-bc87-c36d121b5e3d) in dbx: the
// variable data in the logs' EV_EFI_VARIABLE_DRIVER_CONFIG events.
func vectorVariables(t *testing.T) (eventlog.SecureBootVariables, uefi.GUID) {
	owner := mustParseGUID(t, "7ab1e5e2-0c3b-4b8e-9a51-1f0ddba11e55")
	empty := sha256.Sum256(nil)
	dbx, err := eventlog.SignatureList(uefi.CertSHA256, eventlog.SignatureData(mustParseGUID(t, "a0baa8a3-041d-48a8-bc87-c36d121b5e3d"), empty[:]))
	if err != nil {
		t.Fatal(err)
	}
	return eventlog.SecureBootVariables{
		SecureBoot: true,
		PK:         eventlog.X509SignatureList(owner, certDER(t, "pk.pem")),
		KEK:        eventlog.X509SignatureList(owner, certDER(t, "kek.pem")),
		DB:         append(eventlog.X509SignatureList(owner, certDER(t, "db.pem")), eventlog.X509SignatureList(owner, certDER(t, "hsm.pem"))...),
		DBX:        dbx,
	}, owner
}

// TestEventLogVectorsPCR7: PCR 7 of the recorded boots is PCR7Events for
// the enrolled certificates, with the db certificate that signed the UKI as
// the authority, in both banks; a db without the token's certificate is
// reported at the db event, and an authority of another certificate at
// the authority event.
func TestEventLogVectorsPCR7(t *testing.T) {
	for _, version := range []string{"252", "262"} {
		v := loadVector(t, version)
		vars, owner := vectorVariables(t)
		banks := []pcr.Bank{pcr.SHA1, pcr.SHA256}
		auth := [][]byte{eventlog.SignatureData(owner, certDER(t, "db.pem"))}
		want := eventlog.PCR7Events(vars, auth, banks)
		if r := eventlog.CompareEvents(want, v.events, []int{7}); !r[0].Match || r[0].Events != 7 {
			t.Errorf("%s: %s", v.name, r[0])
		}
		other := vars
		other.DB = eventlog.X509SignatureList(owner, certDER(t, "db.pem"))
		r := eventlog.CompareEvents(eventlog.PCR7Events(other, auth, banks), v.events, []int{7})[0]
		if r.Match || r.Index != 3 || r.Expected.Description != "variable db (889 bytes of data)" {
			t.Errorf("%s: another db: %s", v.name, r)
		}
		r = eventlog.CompareEvents(eventlog.PCR7Events(vars, [][]byte{eventlog.SignatureData(owner, certDER(t, "hsm.pem"))}, banks), v.events, []int{7})[0]
		if r.Match || r.Index != 6 || r.Seen.Type != eventlog.EvEFIVariableAuthority {
			t.Errorf("%s: another authority: %s", v.name, r)
		}
	}
}
