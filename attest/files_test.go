package attest_test

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/ukibuild/ukibuild/attest"
	"github.com/ukibuild/ukibuild/pcr"
	"github.com/ukibuild/ukibuild/secureboot"
	"github.com/ukibuild/ukibuild/uefi"
)

// TestReadSecureBoot: a PEM certificate becomes one X.509 entry owned by
// Owner holding the certificate's DER bytes (checked against the PEM
// file itself), files of a variable are concatenated, and a certificate
// without an owner is a *VariableFileError naming the variable and file
// that matches secureboot.ErrNoOwner.
func TestReadSecureBoot(t *testing.T) {
	dir := "../testvectors/eventlog"
	owner, err := uefi.ParseGUID("605dab50-e046-4300-abb6-3dd810dd8b23")
	if err != nil {
		t.Fatal(err)
	}
	f := attest.SecureBootFiles{PK: filepath.Join(dir, "pk.pem"), DB: []string{filepath.Join(dir, "db.pem"), filepath.Join(dir, "kek.pem")}, Owner: &owner, Disabled: true}
	sb, err := attest.ReadSecureBoot(f)
	if err != nil {
		t.Fatal(err)
	}
	if !sb.Disabled || sb.KEK != nil || sb.DBX != nil {
		t.Errorf("Disabled %v, KEK %d bytes, dbx %d bytes; want true, none, none", sb.Disabled, len(sb.KEK), len(sb.DBX))
	}
	for _, c := range []struct {
		data  []byte
		files []string
	}{{sb.PK, []string{"pk.pem"}}, {sb.DB, []string{"db.pem", "kek.pem"}}} {
		d, err := secureboot.ParseSignatureLists(c.data)
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Entries()) != len(c.files) {
			t.Fatalf("%v: %d entries", c.files, len(d.Entries()))
		}
		for i, e := range d.Entries() {
			p, err := os.ReadFile(filepath.Join(dir, c.files[i]))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := pem.Decode(p)
			if e.Type != secureboot.CertX509 || e.Owner != owner || !bytes.Equal(e.Data, b.Bytes) {
				t.Errorf("%s: entry type %v owner %v; want the certificate owned by %v", c.files[i], e.Type, e.Owner, owner)
			}
		}
	}
	f.Owner = nil
	_, err = attest.ReadSecureBoot(f)
	var fe *attest.VariableFileError
	if !errors.As(err, &fe) || fe.Variable != "PK" || fe.File != f.PK || !errors.Is(err, secureboot.ErrNoOwner) {
		t.Errorf("without an owner: %v; want a *VariableFileError for PK matching ErrNoOwner", err)
	}
}

func TestParsePick(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int // -2: nil
		bad  bool
	}{{"", -2, false}, {"none", -1, false}, {"0", 0, false}, {"3", 3, false}, {"-1", 0, true}, {"x", 0, true}, {"None", 0, true}} {
		p, err := attest.ParsePick(c.in)
		var pe *attest.PickError
		switch {
		case c.bad:
			if !errors.As(err, &pe) || pe.Value != c.in {
				t.Errorf("%q: %v; want a *PickError", c.in, err)
			}
		case err != nil:
			t.Errorf("%q: %v", c.in, err)
		case c.want == -2 && p != nil, c.want != -2 && (p == nil || *p != c.want):
			t.Errorf("%q: %v; want %d", c.in, p, c.want)
		}
	}
}

// TestWriteFiles: the files hold Reference.PCRLock and KeylimePolicy; a
// form the reference cannot take (a bank it was not predicted in) is a
// *ReferenceFileError and writes no file at all, not even the other one.
func TestWriteFiles(t *testing.T) {
	efi := buildUKI(t, "262")
	ref, err := attest.Predict(context.Background(), efi, attest.Machine{PCRs: []int{4, 11}, Banks: []pcr.Bank{pcr.SHA256}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	f := attest.ReferenceFiles{PCRLock: filepath.Join(dir, "uki.pcrlock"), Keylime: filepath.Join(dir, "policy.json"), KeylimeBank: pcr.SHA256}
	if err := ref.WriteFiles(f); err != nil {
		t.Fatal(err)
	}
	lock, _ := ref.PCRLock(nil)
	keylime, _ := ref.KeylimePolicy(pcr.SHA256)
	for path, want := range map[string][]byte{f.PCRLock: lock, f.Keylime: keylime} {
		if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, want) || len(want) == 0 {
			t.Errorf("%s: %q, %v; want %q", path, got, err, want)
		}
	}
	g := attest.ReferenceFiles{PCRLock: filepath.Join(dir, "new.pcrlock"), Keylime: filepath.Join(dir, "new.json"), KeylimeBank: pcr.SHA384}
	err = ref.WriteFiles(g)
	var fe *attest.ReferenceFileError
	if !errors.As(err, &fe) || fe.Field != attest.KeylimeFile {
		t.Errorf("SHA-384 policy of a SHA-256 prediction: %v; want a *ReferenceFileError for Keylime", err)
	}
	for _, p := range []string{g.PCRLock, g.Keylime} {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s written after a refusal (%v)", p, err)
		}
	}
}

// TestReportVerdicts: Differing lists the PCRs with Status Differs only,
// Replays fails on one TPM value or a quote the log does not replay to,
// SystemdOK on one bad record, and OK on any of them.
func TestReportVerdicts(t *testing.T) {
	r := &attest.Report{PCRs: []attest.PCRResult{{PCR: 4, Status: attest.Match}, {PCR: 9, Status: attest.Unverifiable}, {PCR: 11, Status: attest.Differs}},
		Values: []attest.ValueResult{{PCR: 4, Log: []byte{1}, TPM: []byte{1}}}}
	if d := r.Differing(); len(d) != 1 || d[0] != 11 || !r.Replays() || !r.SystemdOK() || r.OK() {
		t.Errorf("Differing %v, Replays %v, SystemdOK %v, OK %v; want [11] true true false", d, r.Replays(), r.SystemdOK(), r.OK())
	}
	r.PCRs = r.PCRs[:1]
	if !r.OK() {
		t.Error("all match: not OK")
	}
	r.Quote = &attest.QuoteResult{Replays: false}
	if r.Replays() || r.OK() {
		t.Error("a quote the log does not replay to: Replays or OK")
	}
	r.Quote = nil
	r.Values = append(r.Values, attest.ValueResult{PCR: 7, Log: []byte{1}, TPM: []byte{2}})
	if r.Replays() || r.OK() {
		t.Error("a TPM value the log does not replay to: Replays or OK")
	}
	r.Values = nil
	r.Systemd = []attest.SystemdResult{{Index: 0}, {Index: 1, Err: errors.New("not measured so")}}
	if r.SystemdOK() || r.OK() || !r.Replays() {
		t.Error("a bad systemd record: SystemdOK or OK, or not Replays")
	}
}
