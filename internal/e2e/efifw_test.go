package e2e

import (
	"crypto/rand"
	"crypto/sha1"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
)

// efifwSMBIOS is the machine of case 13: QEMU's SMBIOS type 1 (system)
// and type 2 (baseboard) strings, set with -smbios.
var efifwSMBIOS = struct{ manufacturer, family, product, sku, boardManufacturer, boardProduct string }{
	"ukibuild e2e", "ukibuild test machines", "Firmware Picker", "UKB-13", "ukibuild boards", "Picker Board",
}

// chid3 is the CHID of type 3 (HardwareID-3: manufacturer, family,
// product name, SKU, baseboard manufacturer and product) of the given
// SMBIOS strings, as systemd-stub computes it (src/fundamental/chid.c,
// get_chid, v262: a name-based UUID, version 5, in the namespace
// 70ffd812-4c7f-4c7d-0000-000000000000, of the fields as UTF-16LE joined by
// "&"; the strings as smbios_to_hashable_string leaves them: these have no
// leading or trailing spaces or leading zeros). Written here because no
// tool computes CHIDs of another machine's SMBIOS; the boot checks it: the
// stub picks the .efifw only if its CHID is this one.
func chid3(manufacturer, family, product, sku, boardManufacturer, boardProduct string) string {
	ns := []byte{0x70, 0xff, 0xd8, 0x12, 0x4c, 0x7f, 0x4c, 0x7d, 0, 0, 0, 0, 0, 0, 0, 0}
	h := sha1.New()
	h.Write(ns)
	for i, f := range []string{manufacturer, family, product, sku, boardManufacturer, boardProduct} {
		s := f
		if i > 0 {
			s = "&" + f
		}
		for _, u := range utf16.Encode([]rune(s)) {
			h.Write([]byte{byte(u), byte(u >> 8)})
		}
	}
	b := h.Sum(nil)[:16]
	b[6] = b[6]&0x0f | 0x50
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// TestBootEFIFW (case 13): a stub 262 UKI with two .efifw sections
// (firmware IDs fw-a and fw-b: the 262.1 stub takes only sections with
// the EfiFw header, src/boot/efi-firmware.c, which "ukibuild build
// --efifw DIR" writes; the payload is not otherwise looked at) and a
// .hwids table whose firmware entry binds the CHID of type 3 of the test
// machine's SMBIOS (chid3) to fw-b, and another CHID to fw-a, boots on
// QEMU with that SMBIOS (-smbios type=1 and type=2). The stub picks
// fw-b (index 1) and measures it into PCR 11 after .hwids: PCR 11 in the
// guest equals "ukibuild measure --efifw 1", not --efifw 0 or none, and
// "eventlog verify --efifw 1" matches PCR 11 (with --efifw none it
// differs). The UKI's policies are signed for enter-initrd (one set per
// .efifw candidate and one without), and a secret sealed to the PCR key
// unseals after enter-initrd, as in case 2. On a machine with other SMBIOS
// strings the stub picks none: PCR 11 equals --efifw none.
func TestBootEFIFW(t *testing.T) {
	e := setup(t)
	dir := e.workDir(t)
	s := efifwSMBIOS
	chid := chid3(s.manufacturer, s.family, s.product, s.sku, s.boardManufacturer, s.boardProduct)
	hw := filepath.Join(dir, "hwids")
	for name, dev := range map[string]map[string]any{
		"picker.json": {"type": "uefi-fw", "name": "ukibuild Firmware Picker", "fwid": "fw-b", "hwids": []string{chid}},
		"other.json":  {"type": "uefi-fw", "name": "another machine", "fwid": "fw-a", "hwids": []string{"a7ed5a64-1a46-5a7a-9e56-1e5a2b8f1f00"}},
	} {
		b, _ := json.Marshal(dev)
		if err := os.MkdirAll(hw, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(hw, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var fwArgs []string
	for _, fw := range []string{"fw-a", "fw-b"} {
		d := filepath.Join(dir, "fw", fw)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		payload := make([]byte, 4096)
		if _, err := rand.Read(payload); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "firmware.bin"), payload, 0o644); err != nil {
			t.Fatal(err)
		}
		fwArgs = append(fwArgs, "--efifw", d)
	}
	key := writeRSAKey(t, filepath.Join(dir, "pcr.pem"))
	efi := filepath.Join(dir, "uki.efi")
	args := e.ukiArgs(t, "262")
	secret := fmt.Sprintf("ukibuild-efifw-secret-%d", time.Now().UnixNano())
	state := newTPMState(t, dir)
	public, private := sealInTPM(t, state, []byte(secret), &key.PublicKey)
	blobs := filepath.Join(dir, "sealed.cpio")
	if err := os.WriteFile(blobs, CPIO([]CPIOEntry{
		{Name: "e2e", Mode: ModeDir | 0o755},
		{Name: "e2e/sealed.pub", Mode: ModeFile | 0o644, Data: public},
		{Name: "e2e/sealed.priv", Mode: ModeFile | 0o644, Data: private},
	}), 0o644); err != nil {
		t.Fatal(err)
	}
	e.buildSigned(t, efi, e.sb.db, slices.Concat(args, []string{"--initrd", blobs, "--hwids", hw}, fwArgs,
		[]string{"--pcr-private-key", filepath.Join(dir, "pcr.pem"), "--phases", "enter-initrd"})...)
	predict := func(pick string) map[string]string {
		return parseCalculate(e.run(t, "measure", efi, "--bank=sha1", "--bank=sha256", "--phase=:", "--efifw", pick))
	}
	want := map[string]map[string]string{"0": predict("0"), "1": predict("1"), "none": predict("none")}
	smbios := []string{
		"-smbios", fmt.Sprintf("type=1,manufacturer=%s,family=%s,product=%s,sku=%s", s.manufacturer, s.family, s.product, s.sku),
		"-smbios", fmt.Sprintf("type=2,manufacturer=%s,product=%s", s.boardManufacturer, s.boardProduct),
	}
	other := []string{"-smbios", "type=1,manufacturer=ukibuild e2e,family=ukibuild test machines,product=Another Machine,sku=UKB-13",
		"-smbios", fmt.Sprintf("type=2,manufacturer=%s,product=%s", s.boardManufacturer, s.boardProduct)}
	for _, c := range []struct {
		name, pick string
		qemu       []string
		state      string
	}{
		{"CHID of fw-b", "1", smbios, state},
		{"no CHID matches", "none", other, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			name := "13 .efifw picked by CHID"
			what := c.name + ": "
			st := c.state
			if st == "" {
				st = newTPMState(t, e.workDir(t))
			}
			res := e.bootESP(t, efi, defaultESP(efi, nil), st, c.qemu...)
			e.checkSecureBoot(t, name, res, e.sb.db.c)
			for _, bank := range []string{"sha1", "sha256"} {
				w := want[c.pick][bank]
				var others []string
				for p, v := range want {
					if p != c.pick && v[bank] == res.pcr11[bank] {
						others = append(others, p)
					}
				}
				ok := w != "" && res.pcr11[bank] == w && len(others) == 0
				record(t, name, fmt.Sprintf("%sPCR 11 %s = ukibuild measure --efifw %s", what, bank, c.pick), w, res.pcr11[bank], ok)
				if !ok {
					t.Errorf("PCR 11 %s: the TPM has %s; --efifw %s predicts %s (also equal to the picks %v) (serial log %s)",
						bank, res.pcr11[bank], c.pick, w, others, res.serial)
				}
			}
			e.checkEFIFWVerify(t, name, what, efi, c.pick, res)
			if c.state == "" {
				return
			}
			var got []string
			for _, l := range res.lines {
				if strings.HasPrefix(l, "unseal ") {
					got = append(got, l)
				}
			}
			wantUnseal := "unseal enter-initrd ok " + secret
			ok := len(got) == 2 && got[0] == wantUnseal && strings.HasPrefix(got[1], "unseal leave-initrd failed")
			record(t, name, what+"credential sealed to the PCR key", "unsealed at enter-initrd (the fw-b policy), refused after leave-initrd",
				strings.Join(got, "; "), ok)
			if !ok {
				t.Errorf("unseal results %q; want %q then a failure after leave-initrd (serial log %s)", got, wantUnseal, res.serial)
			}
		})
	}
}

// checkEFIFWVerify runs "eventlog verify --pcrs 11 --efifw PICK" (match)
// and with another pick (PCR 11 differs).
func (e *env) checkEFIFWVerify(t *testing.T, name, what, efi, pick string, res *bootResult) {
	t.Helper()
	log := filepath.Join(e.workDir(t), "eventlog.bin")
	if err := os.WriteFile(log, res.evlog, 0o644); err != nil {
		t.Fatal(err)
	}
	verify := func(p string) (string, error) {
		out, err := exec.Command(e.ukibuild, "eventlog", "verify", log, "--uki", efi, "--pcrs", "11", "--efifw", p).CombinedOutput()
		return string(out), err
	}
	out, err := verify(pick)
	ok := err == nil && strings.Contains(out, "PCR 11: match")
	record(t, name, what+"eventlog verify --pcrs 11 --efifw "+pick, "PCR 11: match", oneLine(out), ok)
	if !ok {
		t.Errorf("eventlog verify --efifw %s: %v\n%s", pick, err, out)
	}
	wrong := "none"
	if pick == "none" {
		wrong = "1"
	}
	out, err = verify(wrong)
	ok = err != nil && strings.Contains(out, "PCR 11: event") && strings.Contains(out, "differs")
	record(t, name, what+"eventlog verify --pcrs 11 --efifw "+wrong+" (wrong pick)", "PCR 11 differs", oneLine(out), ok)
	if !ok {
		t.Errorf("eventlog verify --efifw %s: %v\n%s", wrong, err, out)
	}
}
