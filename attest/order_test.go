package attest_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ukibuild/ukibuild/attest"
	"github.com/ukibuild/ukibuild/internal/reftools"

	"github.com/ukibuild/ukibuild/eventlog"
	"github.com/ukibuild/ukibuild/sign"
	"github.com/ukibuild/ukibuild/uefi"
	"github.com/ukibuild/ukibuild/uki"
)

// throwawayKey is a Secure Boot db key and its self-signed certificate.
func throwawayKey(t *testing.T) (crypto.Signer, *x509.Certificate) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "attest test db"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<33, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert
}

// shape is an event's PCR and type, with runs of PCR 11 events (one pair
// per section) counted as one.
func shape(evs []eventlog.Event) []string {
	var out []string
	for _, ev := range evs {
		s := fmt.Sprintf("%d %s", ev.PCR, ev.Type)
		if ev.PCR == 11 && len(out) > 0 && out[len(out)-1] == s {
			continue
		}
		out = append(out, s)
	}
	return out
}

// TestPredictOrderMatchesRecordedLog: Reference.Events come in the order
// the TPM saw them in the recorded stub 262 boot with a signed add-on, a
// credential and a sysext (ovmf-sb-stub262-addon): the firmware's Secure
// Boot configuration, its boot attempts, the UKI's authority and image,
// the stub's sections, the add-on's image, PCR 12 and 13, then PCR 9. The
// UKI and the add-on are rebuilt and signed with a throwaway db key (the
// recorded ones are not kept), so event kinds and their order are
// compared, not digests; the add-on's authority is the UKI's (logged
// once), as in the log.
func TestPredictOrderMatchesRecordedLog(t *testing.T) {
	tools := reftools.Locate(t)
	key, cert := throwawayKey(t)
	dir := t.TempDir()
	signed := func(cfg uki.Config, out string) {
		t.Helper()
		if err := uki.Build(context.Background(), cfg, out+".unsigned"); err != nil {
			t.Fatal(err)
		}
		if err := sign.SignFile(context.Background(), out+".unsigned", out, key, sign.Options{Certificate: cert}); err != nil {
			t.Fatal(err)
		}
	}
	efi := filepath.Join(dir, "uki.efi")
	none := ""
	signed(uki.Config{Stub: tools.Path(t, "UKIBUILD_STUB_262"), Linux: tools.Path(t, "UKIBUILD_KERNEL"), Uname: &none,
		Cmdline: uki.Text("cmdline", "console=ttyS0 panic=-1")}, efi)
	rec := "ovmf-sb-stub262-addon"
	copyDir(t, filepath.Join(vectors, rec+".extra.d"), efi+".extra.d")
	signed(uki.Config{Stub: tools.Path(t, "UKIBUILD_ADDON_STUB_262"), Cmdline: uki.Text("cmdline", "ukibuild.addon=e2e")},
		filepath.Join(efi+".extra.d", "ukibuild-e2e.addon.efi"))
	for _, f := range []string{"ukibuild-e2e.addon.efi.unsigned"} {
		if err := os.Remove(filepath.Join(efi+".extra.d", f)); err != nil {
			t.Fatal(err)
		}
	}
	db := eventlog.X509SignatureList(uefi.GlobalVariable, cert.Raw)
	ref, err := attest.Predict(context.Background(), efi, attest.Machine{
		PCRs: []int{4, 7, 9, 11, 12, 13}, BootAttempts: 2,
		SecureBoot: &attest.SecureBoot{PK: db, KEK: db, DB: db},
	})
	if err != nil {
		t.Fatal(err)
	}
	seen, err := eventlog.Parse(readLog(t, rec+".bin"))
	if err != nil {
		t.Fatal(err)
	}
	got, want := shape(ref.Events()), shape(eventlog.Select(seen, ref.PCRs))
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("predicted order\n%q\nthe log's\n%q", got, want)
	}
	srcs := ref.Sources()
	for i, ev := range ref.Events() {
		firmware := ev.Type == eventlog.EvEFIAction || ev.Type == eventlog.EvSeparator || ev.Type == eventlog.EvEFIVariableDriverConfig
		if (srcs[i] == attest.Firmware) != firmware || (!firmware && srcs[i] != attest.UKI) {
			t.Errorf("event %d %s: source %v", i, ev, srcs[i])
		}
	}
}
