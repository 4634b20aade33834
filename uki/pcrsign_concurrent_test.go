package uki

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/ukibuild/ukibuild/internal/reftools"
	"github.com/ukibuild/ukibuild/pcr"
)

// plainSigner hides the key's type: pcrsig.Sign calls it one signature at a
// time.
type plainSigner struct{ k *rsa.PrivateKey }

func (s plainSigner) Public() crypto.PublicKey { return &s.k.PublicKey }
func (s plainSigner) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	return s.k.Sign(r, d, o)
}

// flakySigner is a pcrsig.ConcurrentSigner whose failAt-th signature fails.
type flakySigner struct {
	plainSigner
	calls  atomic.Int32
	failAt int32
}

var errFlaky = errors.New("token removed")

func (s *flakySigner) MaxConcurrentSigns() int { return 3 }
func (s *flakySigner) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	if s.calls.Add(1) == s.failAt {
		return nil, errFlaky
	}
	return s.plainSigner.Sign(r, d, o)
}

// TestBuildPCRSignConcurrency: a build signing 16 policies per key (4 banks
// × the default phase paths) writes the same UKI whether they are signed
// concurrently (an *rsa.PrivateKey, a pcrsig.ConcurrentSigner) or one by one
// (a signer that does not declare itself concurrent); when one signature
// fails, Build reports the signer's error and leaves the output as it was.
func TestBuildPCRSignConcurrency(t *testing.T) {
	tools := reftools.Locate(t)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	uname := "6.1.0-test"
	config := func(s crypto.Signer) Config {
		return Config{
			Stub:     tools.Path(t, "UKIBUILD_STUB_262"),
			Linux:    tools.Path(t, "UKIBUILD_KERNEL"),
			Uname:    &uname,
			Cmdline:  Text("cmdline", "quiet"),
			PCRBanks: []pcr.Bank{pcr.SHA1, pcr.SHA256, pcr.SHA384, pcr.SHA512},
			PCRKeys:  []PCRKey{{Signer: s}, {Signer: s, Phases: []string{"enter-initrd"}, PolicyRef: "initrd"}},
		}
	}
	dir := t.TempDir()
	build := func(name string, s crypto.Signer) []byte {
		t.Helper()
		out := filepath.Join(dir, name)
		if err := Build(context.Background(), config(s), out); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	seq := build("sequential.efi", plainSigner{key})
	if !bytes.Equal(build("rsa.efi", key), seq) {
		t.Error("*rsa.PrivateKey (concurrent): the UKI differs from the one signed sequentially")
	}
	if !bytes.Equal(build("concurrent.efi", &flakySigner{plainSigner: plainSigner{key}}), seq) {
		t.Error("pcrsig.ConcurrentSigner: the UKI differs from the one signed sequentially")
	}

	for _, at := range []int32{1, 7, 17} {
		out := filepath.Join(dir, "failed.efi")
		old := []byte("the previous build")
		if err := os.WriteFile(out, old, 0o644); err != nil {
			t.Fatal(err)
		}
		err := Build(context.Background(), config(&flakySigner{plainSigner: plainSigner{key}, failAt: at}), out)
		if !errors.Is(err, errFlaky) {
			t.Errorf("signature %d fails: Build returned %v", at, err)
		}
		if b, err := os.ReadFile(out); err != nil || !bytes.Equal(b, old) {
			t.Errorf("signature %d fails: the output was replaced or removed (%v)", at, err)
		}
		if m, _ := filepath.Glob(filepath.Join(dir, "*")); len(m) != 4 {
			t.Errorf("signature %d fails: files left behind: %v", at, m)
		}
	}
}
