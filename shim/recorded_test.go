package shim_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/ukibuild/ukibuild/eventlog"
	"github.com/ukibuild/ukibuild/internal/reftools"
	"github.com/ukibuild/ukibuild/pcr"
	"github.com/ukibuild/ukibuild/shim"
	"github.com/ukibuild/ukibuild/uefi"
)

// ownerGUIDText owns the recorded boots' PK, KEK and db entries (the boot
// tests' internal/e2e ownerGUID).
const ownerGUIDText = "7ab1e5e2-0c3b-4b8e-9a51-1f0ddba11e55"

func pemDER(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM block", path)
	}
	return blk.Bytes
}

// sameEvent compares type and the sha1 and sha256 digests.
func sameEvent(a, b eventlog.Event) bool {
	if a.PCR != b.PCR || a.Type != b.Type {
		return false
	}
	for _, bk := range []pcr.Bank{pcr.SHA1, pcr.SHA256} {
		x, ok1 := a.Digest(bk)
		y, ok2 := b.Digest(bk)
		if !ok1 || !ok2 || !bytes.Equal(x, y) {
			return false
		}
	}
	return true
}

// TestRecordedShimBoots compares shim 16.1's predicted events with the
// TCG logs the boot test TestBootShim recorded (testvectors/eventlog/
// ovmf-sb-shim161-*.bin, README there): PCR 14 (MokList, MokListX,
// MokListTrusted) without and with a MOK enrolled, PCR 7's SbatLevel, the
// authority shim logged for the UKI ("db" for the db-signed one,
// "MokListRT" for the MOK-signed one, after the firmware's own "db" event
// for shim), and PCR 4's event for shim (the firmware's).
func TestRecordedShimBoots(t *testing.T) {
	tools := reftools.Locate(t)
	shimPath := tools.Path(t, "UKIBUILD_SHIM_161")
	bin, err := shim.Open(shimPath)
	if err != nil {
		t.Fatal(err)
	}
	ownerGUID, err := uefi.ParseGUID(ownerGUIDText)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("..", "testvectors", "eventlog")
	db := pemDER(t, filepath.Join(dir, "ovmf-sb-shim161.db.pem"))
	mok := pemDER(t, filepath.Join(dir, "ovmf-sb-shim161.mok.pem"))
	dbEntry := eventlog.SignatureData(ownerGUID, db)
	banks := []pcr.Bank{pcr.SHA1, pcr.SHA256}
	for _, c := range []struct {
		log       string
		vars      shim.Variables
		authority []byte // the UEFI_VARIABLE_DATA shim logs for the UKI
	}{
		{"ovmf-sb-shim161-fresh.bin", shim.Variables{}, eventlog.VariableData(uefi.ImageSecurityDatabase, "db", dbEntry)},
		// shim → systemd-boot → UKI: shim logs the db entry once, for
		// systemd-boot; the UKI, which systemd-boot loads through shim's
		// LoadImage hook, has the same authority and adds no event.
		{"ovmf-sb-shim161-sdboot.bin", shim.Variables{}, eventlog.VariableData(uefi.ImageSecurityDatabase, "db", dbEntry)},
		{"ovmf-sb-shim161-mok.bin", shim.Variables{MokList: eventlog.X509SignatureList(shim.LockGUID(), mok)},
			eventlog.VariableData(shim.LockGUID(), "MokListRT", eventlog.SignatureData(shim.LockGUID(), mok))},
	} {
		t.Run(c.log, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, c.log))
			if err != nil {
				t.Fatal(err)
			}
			seen, err := eventlog.Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			boot, err := shim.NewBoot(bin, shim.Machine{SecureBoot: true, DB: eventlog.X509SignatureList(ownerGUID, db), Variables: c.vars, Banks: banks})
			if err != nil {
				t.Fatal(err)
			}
			startup := boot.Startup()
			want14 := eventlog.Select(startup, []int{14})
			got14 := eventlog.Select(seen, []int{14})
			if len(got14) != len(want14) {
				t.Fatalf("PCR 14: %d events, predicted %d", len(got14), len(want14))
			}
			for i := range want14 {
				if !sameEvent(want14[i], got14[i]) {
					t.Errorf("PCR 14 event %d: predicted %v, seen %v", i, want14[i], got14[i])
				}
			}
			// PCR 7: the firmware's 5 variables and separator, its db
			// authority for shim, then shim's SbatLevel and its authority
			// for the UKI.
			got7 := eventlog.Select(seen, []int{7})
			if len(got7) != 9 {
				t.Fatalf("PCR 7: %d events, want 9", len(got7))
			}
			fw := eventlog.PCR7Events(eventlog.SecureBootVariables{SecureBoot: true}, [][]byte{dbEntry}, banks)
			if !sameEvent(fw[6], got7[6]) {
				t.Errorf("PCR 7 event 6 (the firmware's db authority for shim): %v, expected %v", got7[6], fw[6])
			}
			want7 := eventlog.Select(startup, []int{7})
			if len(want7) != 1 || !sameEvent(want7[0], got7[7]) {
				t.Errorf("PCR 7 event 7 (SbatLevel): predicted %v, seen %v", want7, got7[7])
			}
			h := sha256.Sum256(c.authority)
			if d, _ := got7[8].Digest(pcr.SHA256); got7[8].Type != eventlog.EvEFIVariableAuthority || !bytes.Equal(d, h[:]) {
				t.Errorf("PCR 7 event 8 (shim's authority for the UKI): %v, want sha256 %x", got7[8], h)
			}
		})
	}
}
