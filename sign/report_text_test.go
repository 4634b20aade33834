package sign

import (
	"bytes"
	"context"
	"crypto/x509"
	"path/filepath"
	"strings"
	"testing"
)

// TestReportSummary: an image systemd-sbsign 262 signed (SHA-256) with an
// openssl certificate is summarised as one verified signature by that
// certificate's subject, in SHA-256; against another db certificate the
// same signature is a failure with its reason, in the text too.
func TestReportSummary(t *testing.T) {
	keyPath, certPath, _, cert := opensslKeyCert(t)
	out := filepath.Join(t.TempDir(), "signed.efi")
	systemdSbsign(t, "1700000000", "sign", "--private-key", keyPath, "--certificate", certPath, "--output", out, testUKI(t))
	img := readFile(t, out)

	rep, err := Verify(context.Background(), bytes.NewReader(img), int64(len(img)), VerifyOptions{DB: []*x509.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	want := SignatureSummary{Index: 0, Signer: "CN=ukibuild systemd-sbsign test", Hash: "sha256", OK: true}
	if got := rep.Summary(); len(got) != 1 || got[0] != want {
		t.Fatalf("Summary %+v, want %+v", got, want)
	}
	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if got := text.String(); got != "signature 0: CN=ukibuild systemd-sbsign test (sha256): ok\n" {
		t.Errorf("WriteText: %q", got)
	}

	rep, err = Verify(context.Background(), bytes.NewReader(img), int64(len(img)), VerifyOptions{DB: []*x509.Certificate{testCert(t, "other")}})
	if err == nil {
		t.Fatal("verified against another db certificate")
	}
	got := rep.Summary()
	if len(got) != 1 || got[0].OK || got[0].Problem == "" || got[0].Problem != rep.Signatures[0].Err.Error() {
		t.Fatalf("Summary %+v", got)
	}
	text.Reset()
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(text.String(), "signature 0: CN=ukibuild systemd-sbsign test (sha256): FAILED: "+got[0].Problem) {
		t.Errorf("WriteText: %q", text.String())
	}
}
