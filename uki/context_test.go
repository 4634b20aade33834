package uki

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/ukibuild/ukibuild/internal/reftools"
	"github.com/ukibuild/ukibuild/pcr"
	"github.com/ukibuild/ukibuild/sign"
)

// cancelling is content whose first read cancels the build's context: the
// build must stop before the next chunk.
type cancelling struct {
	n      int64
	cancel context.CancelFunc
}

func (c *cancelling) Size() int64    { return c.n }
func (c *cancelling) String() string { return "cancelling initrd" }
func (c *cancelling) Open() (io.ReadCloser, error) {
	return io.NopCloser(&cancelReader{r: io.LimitReader(zeroFill{}, c.n), cancel: c.cancel}), nil
}

type cancelReader struct {
	r      io.Reader
	cancel context.CancelFunc
}

func (c *cancelReader) Read(p []byte) (int, error) {
	c.cancel()
	return c.r.Read(p)
}

type zeroFill struct{}

func (zeroFill) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestBuildHonoursContext: a context cancelled once a 64 MiB initrd starts
// being read stops Build with ctx's error and leaves no output: plain,
// with PCR signing (digests from the bytes written), with Secure Boot
// signing; and Plan.Predict, which reads the sections, stops too.
func TestBuildHonoursContext(t *testing.T) {
	tools := reftools.Locate(t)
	stub := tools.Path(t, "UKIBUILD_STUB_262")
	kernel := tools.Path(t, "UKIBUILD_KERNEL")
	pcrKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	sbKey, cert := testSigner(t, "context test db")
	uname := "6.1.0-test"
	dir := t.TempDir()
	for _, c := range []struct {
		name    string
		pcr, sb bool
		predict bool
	}{{name: "plain"}, {name: "pcrsig", pcr: true}, {name: "secureboot", sb: true}, {name: "predict", predict: true}} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			cfg := Config{
				Stub: stub, Linux: kernel, Uname: &uname, TempDir: dir,
				Cmdline: Text("cmdline", "quiet"),
				Initrds: []Content{&cancelling{n: 64 << 20, cancel: cancel}},
			}
			if c.pcr {
				cfg.PCRBanks = []pcr.Bank{pcr.SHA256}
				cfg.PCRKeys = []PCRKey{{Signer: pcrKey, Phases: []string{"enter-initrd"}}}
			}
			if c.sb {
				cfg.SecureBoot = &SecureBoot{Signer: sbKey, Options: sign.Options{Certificate: cert}, SignKernel: new(bool)}
			}
			out := filepath.Join(dir, c.name+".efi")
			if c.predict {
				plan, err := Prepare(ctx, cfg)
				if err != nil {
					t.Fatal(err)
				}
				defer plan.Close()
				if _, err := plan.Predict(ctx, nil, nil); !errors.Is(err, context.Canceled) {
					t.Fatalf("Predict: %v, want context.Canceled", err)
				}
				return
			}
			if err := Build(ctx, cfg, out); !errors.Is(err, context.Canceled) {
				t.Fatalf("Build: %v, want context.Canceled", err)
			}
			if _, err := os.Stat(out); err == nil {
				t.Error("an output file was written")
			}
		})
	}
}

// TestJoinPCRSigHonoursContext: JoinPCRSig with a cancelled context fails
// with ctx's error and writes no output, plain and signing for Secure
// Boot; the same join with a live context succeeds.
func TestJoinPCRSigHonoursContext(t *testing.T) {
	unsigned := `{"sha256": [{"pcrs": [11], "pkfp": "ab", "pol": "cd", "tbs": "ef"}]}`
	sigs := []byte(`{"sha256": [{"pcrs": [11], "pkfp": "ab", "pol": "cd", "tbs": "ef", "sig": "AAAA"}]}`)
	dir := t.TempDir()
	in := filepath.Join(dir, "in.efi")
	if err := os.WriteFile(in, composeBytes(t, Section{".pcrsig", Bytes("pcrsig", padForJoin([]byte(unsigned)))}), 0o644); err != nil {
		t.Fatal(err)
	}
	sbKey, cert := testSigner(t, "join context test db")
	for name, opts := range map[string]JoinOptions{
		"plain":      {},
		"secureboot": {SecureBoot: &SecureBoot{Signer: sbKey, Options: sign.Options{Certificate: cert}}},
	} {
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(dir, name+".efi")
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if err := JoinPCRSig(ctx, in, sigs, out, opts); !errors.Is(err, context.Canceled) {
				t.Fatalf("JoinPCRSig: %v, want context.Canceled", err)
			}
			if _, err := os.Stat(out); err == nil {
				t.Fatal("an output file was written")
			}
			if err := JoinPCRSig(context.Background(), in, sigs, out, opts); err != nil {
				t.Fatalf("with a live context: %v", err)
			}
		})
	}
}
