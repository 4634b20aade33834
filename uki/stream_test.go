package uki

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/ukibuild/ukibuild/internal/reftools"
	"github.com/ukibuild/ukibuild/pcr"
	"github.com/ukibuild/ukibuild/sign"
)

// countingContent counts the bytes read from a content.
type countingContent struct {
	Content
	read *atomic.Int64
}

func (c countingContent) Open() (io.ReadCloser, error) {
	rc, err := c.Content.Open()
	if err != nil {
		return nil, err
	}
	return countingReader{rc, c.read}, nil
}

type countingReader struct {
	io.ReadCloser
	read *atomic.Int64
}

func (r countingReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	r.read.Add(int64(n))
	return n, err
}

// TestWriteFileReadsEachByteOnce: Plan.WriteFile signs the PCR policies of
// .pcrsig from the bytes it writes (the initrd is read once, not once for
// the bank digests and once for the file), and gives the same bytes as
// computing the policies first (Plan.Compose, which reads the initrd
// twice); with Secure Boot signing too; and when the .pcrsig size laid out
// in advance is wrong, WriteFile starts over with the policies computed
// first and still writes the same bytes.
func TestWriteFileReadsEachByteOnce(t *testing.T) {
	tools := reftools.Locate(t)
	stub := tools.Path(t, "UKIBUILD_STUB_262")
	kernel := tools.Path(t, "UKIBUILD_KERNEL")
	pcrKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	sbKey, cert := testSigner(t, "stream test db")

	initrd := make([]byte, 3<<20+12345)
	if _, err := rand.Read(initrd); err != nil {
		t.Fatal(err)
	}
	var read atomic.Int64
	uname := "6.1.0-test"
	config := func(sb bool) Config {
		cfg := Config{
			Stub:     stub,
			Linux:    kernel,
			Uname:    &uname,
			Cmdline:  Text("cmdline", "console=ttyS0 quiet"),
			Initrds:  []Content{countingContent{Bytes("initrd", initrd), &read}},
			PCRBanks: []pcr.Bank{pcr.SHA1, pcr.SHA256, pcr.SHA384, pcr.SHA512},
			PCRKeys: []PCRKey{
				{Signer: pcrKey, Phases: []string{"enter-initrd", "enter-initrd:leave-initrd"}},
				{Signer: pcrKey, Phases: []string{"enter-initrd"}, PolicyRef: "initrd"},
			},
		}
		if sb {
			cfg.SecureBoot = &SecureBoot{Signer: sbKey, Options: sign.Options{Certificate: cert}, SignKernel: new(bool)}
		}
		return cfg
	}
	dir := t.TempDir()
	build := func(cfg Config, out string, mangle func(*Plan), eager bool) int64 {
		t.Helper()
		plan, err := Prepare(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer plan.Close()
		if mangle != nil {
			mangle(plan)
		}
		read.Store(0)
		if eager {
			img, err := plan.Compose(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if err := WriteFile(out, img); err != nil {
				t.Fatal(err)
			}
		} else if err := plan.WriteFile(context.Background(), out); err != nil {
			t.Fatal(err)
		}
		return read.Load()
	}
	file := func(name string) string { return filepath.Join(dir, name) }
	size := int64(len(initrd))

	if n := build(config(false), file("stream.efi"), nil, false); n != size {
		t.Errorf("WriteFile read the initrd's %d bytes %d times (%d bytes), want once", size, n/size, n)
	}
	if n := build(config(false), file("eager.efi"), nil, true); n != 2*size {
		t.Errorf("Compose then WriteTo read %d initrd bytes, want %d (twice)", n, 2*size)
	}
	stream, _ := os.ReadFile(file("stream.efi"))
	eager, _ := os.ReadFile(file("eager.efi"))
	if !bytes.Equal(stream, eager) {
		t.Fatalf("the .pcrsig signed while writing differs from the one computed first")
	}
	img, err := OpenImage(file("stream.efi"))
	if err != nil {
		t.Fatal(err)
	}
	pcrsig := false
	for _, s := range img.Sections() {
		pcrsig = pcrsig || s.Name == ".pcrsig" && s.Content.Size() > 1000
	}
	img.Close()
	if !pcrsig {
		t.Fatalf("no .pcrsig in the image")
	}

	// A wrong size laid out in advance: WriteFile starts over.
	wrong := func(p *Plan) {
		jobs := p.deferredJobs()
		if len(jobs) != 1 {
			t.Fatalf("%d deferred .pcrsig sections, want 1", len(jobs))
		}
		jobs[0].size++
	}
	if n := build(config(false), file("redo.efi"), wrong, false); n < 2*size {
		t.Errorf("after a wrong .pcrsig size, %d initrd bytes read, want at least %d", n, 2*size)
	}
	redo, _ := os.ReadFile(file("redo.efi"))
	if !bytes.Equal(redo, eager) {
		t.Errorf("the image written again after a wrong .pcrsig size differs")
	}

	// Secure Boot: signed while written, same as signing afterwards.
	if n := build(config(true), file("signed.efi"), nil, false); n != size {
		t.Errorf("a signed build read %d initrd bytes, want %d (once)", n, size)
	}
	if _, err := sign.VerifyFile(context.Background(), file("signed.efi"), sign.VerifyOptions{DB: []*x509.Certificate{cert}}); err != nil {
		t.Errorf("the signed UKI does not verify: %v", err)
	}
	if err := sign.SignFile(context.Background(), file("eager.efi"), file("after.efi"), sbKey, sign.Options{Certificate: cert}); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(file("after.efi"))
	b, _ := os.ReadFile(file("signed.efi"))
	if !bytes.Equal(a, b) {
		t.Errorf("the UKI signed while written differs from the one signed afterwards")
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".*"))
	if len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

// TestBankTapChunking: a bank tap gives each span's digest whatever the
// write sizes, spans straddling writes and empty spans included.
func TestBankTapChunking(t *testing.T) {
	data := make([]byte, 100000)
	rand.Read(data)
	spans := []tapSpan{{0, fileSpan{10, 0}}, {1, fileSpan{10, 4097}}, {2, fileSpan{5000, 1}}, {3, fileSpan{5001, 60000}}, {4, fileSpan{99999, 1}}}
	for _, step := range []int{1, 7, 4096, 4097, 65536, len(data)} {
		bt := &bankTap{bank: pcr.SHA256, spans: spans, hashes: make([]hash.Hash, len(spans))}
		for k := range spans {
			bt.hashes[k] = sha256.New()
		}
		for off := 0; off < len(data); off += step {
			bt.Write(data[off:min(off+step, len(data))])
		}
		tp := &taps{banks: []pcr.Bank{pcr.SHA256}, byBank: []*bankTap{bt}}
		for _, s := range spans {
			got, n, err := tp.digests(s.index, []pcr.Bank{pcr.SHA256})
			if err != nil {
				t.Fatal(err)
			}
			want := sha256.Sum256(data[s.off : s.off+s.n])
			if n != s.n || !bytes.Equal(got[0], want[:]) {
				t.Errorf("writes of %d bytes: span %d (%d+%d): wrong digest or size %d", step, s.index, s.off, s.n, n)
			}
		}
	}
	// A span not yet written is not a digest.
	bt := &bankTap{bank: pcr.SHA256, spans: spans[:2], hashes: []hash.Hash{sha256.New(), sha256.New()}}
	bt.Write(data[:100])
	tp := &taps{banks: []pcr.Bank{pcr.SHA256}, byBank: []*bankTap{bt}}
	if _, _, err := tp.digests(1, []pcr.Bank{pcr.SHA256}); !errors.Is(err, errNotStreamed) {
		t.Errorf("digest of a half-written span: %v", err)
	}
}
