package pcr_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ukibuild/ukibuild/pcr"
)

// TestEventLogVectorsPCR12And13: the stub 262 boot with a credential and a
// system extension in BOOTX64.EFI.extra.d/ logged one PCR 12 and one PCR
// 13 event; ExtrasEvents for those files predicts both (the stub's cpio
// archives, StubCPIO), the log replays to the TPM's PCR 11, and a
// credential changed by one byte is reported at PCR 12's event.
func TestEventLogVectorsPCR12And13(t *testing.T) {
	v := loadLog(t, "ovmf-sb-stub262-extras")
	v.checkReplay(t)
	base := filepath.Join(vectorDir, v.name)
	var files []pcr.ExtraFile
	dir := base + ".extra.d"
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, pcr.ExtraFile{Name: e.Name(), Data: b})
	}
	// What the guest found in /.extra: the files, unchanged.
	guest, err := os.ReadFile(base + ".guest-extra.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		sum := sha256.Sum256(f.Data)
		if !strings.Contains(string(guest), f.Name+" "+strconv.Itoa(len(f.Data))+" "+hex.EncodeToString(sum[:])) {
			t.Errorf("the guest did not list %s with its size and SHA-256:\n%s", f.Name, guest)
		}
	}
	x := pcr.StubExtras{
		Credentials: pcr.SelectExtras(files, ".cred", ""),
		Sysexts:     pcr.SelectExtras(files, ".raw", ".confext.raw"),
	}
	if len(x.Credentials) != 1 || len(x.Sysexts) != 1 {
		t.Fatalf("extras %+v", x)
	}
	banks := []pcr.Bank{pcr.SHA1, pcr.SHA256}
	want, err := pcr.ExtrasEvents(x, banks)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range pcr.CompareEvents(want, v.events, []int{12, 13}) {
		if !r.Match || r.Events != 1 {
			t.Errorf("%s", r)
		}
	}
	x.Credentials = []pcr.ExtraFile{{Name: x.Credentials[0].Name, Data: append([]byte("X"), x.Credentials[0].Data[1:]...)}}
	bad, _ := pcr.ExtrasEvents(x, banks)
	r := pcr.CompareEvents(bad, v.events, []int{12, 13})
	if r[0].Match || r[0].Index != 0 || !r[1].Match {
		t.Errorf("a changed credential: %s; %s", r[0], r[1])
	}
}
