package uki

import (
	"context"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"

	"github.com/ukibuild/ukibuild/internal/pe/petest"
	"github.com/ukibuild/ukibuild/sign"
)

// TestWriteFileSigned: a signed add-on verifies with sign's EDK2-rule
// verifier, both when it is signed while written (sections in file order)
// and through the write-then-sign path (a stub with a gap between sections,
// whose Authenticode ranges the stream signer cannot follow), and both give the bytes of
// signing the unsigned image afterwards.
func TestWriteFileSigned(t *testing.T) {
	key, cert := testSigner(t, "uki test db")
	stubs := map[string][]petest.Section{
		"in-order": {petest.Sec(".text", 0x1000, 0x100, 0x400, 0x200, petest.Fill(0x100, 1)), petest.Sec(".data", 0x2000, 0x100, 0x600, 0x200, petest.Fill(0x100, 2))},
		// A gap before .data: the trailing-data rule of Authenticode then
		// hashes from "bytes hashed so far" (0x800), inside .data again.
		"gap": {petest.Sec(".text", 0x1000, 0x100, 0x400, 0x200, petest.Fill(0x100, 1)), petest.Sec(".data", 0x2000, 0x100, 0x800, 0x200, petest.Fill(0x100, 2))},
	}
	for name, secs := range stubs {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			stub := filepath.Join(dir, "stub.efi")
			if err := os.WriteFile(stub, petest.Stub(0x400, secs, 0, nil), 0o644); err != nil {
				t.Fatal(err)
			}
			_, streamErr := sign.NewStream(petest.Stub(0x400, secs, 0, nil)[:0x400], 0xc00, sign.Options{Certificate: cert})
			if (streamErr == nil) != (name == "in-order") {
				t.Fatalf("NewStream on the %s stub: %v", name, streamErr)
			}
			cfg := Config{Stub: stub, Cmdline: Text("cmdline", "quiet"), Initrds: []Content{Bytes("initrd", make([]byte, 12345))}}
			unsigned := filepath.Join(dir, "unsigned.efi")
			if err := Build(context.Background(), cfg, unsigned); err != nil {
				t.Fatal(err)
			}
			cfg.SecureBoot = &SecureBoot{Signer: key, Options: sign.Options{Certificate: cert}}
			signed := filepath.Join(dir, "signed.efi")
			if err := Build(context.Background(), cfg, signed); err != nil {
				t.Fatal(err)
			}
			if _, err := sign.VerifyFile(context.Background(), signed, sign.VerifyOptions{DB: []*x509.Certificate{cert}}); err != nil {
				t.Errorf("the signed add-on does not verify: %v", err)
			}
			after := filepath.Join(dir, "after.efi")
			if err := sign.SignFile(context.Background(), unsigned, after, key, sign.Options{Certificate: cert}); err != nil {
				t.Fatal(err)
			}
			a, _ := os.ReadFile(after)
			b, _ := os.ReadFile(signed)
			if string(a) != string(b) {
				t.Errorf("signing while writing differs from signing afterwards")
			}
			left, _ := filepath.Glob(filepath.Join(dir, ".*"))
			if len(left) != 0 {
				t.Errorf("temporary files left behind: %v", left)
			}
		})
	}
}
