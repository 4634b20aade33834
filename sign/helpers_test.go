package sign

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ukibuild/ukibuild/internal/reftools"
	"github.com/ukibuild/ukibuild/keys"
)

// fixtureDir holds inputs shared by the tests (removed by TestMain).
var fixtureDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ukibuild-sign-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fixtureDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// testKey loads testdata/<name>.key and testdata/<name>.crt.
func testKey(t testing.TB, name string) (crypto.Signer, *x509.Certificate) {
	t.Helper()
	key, err := keys.PrivateKey(filepath.Join("testdata", name+".key"), nil)
	if err != nil {
		t.Fatal(err)
	}
	return key, testCert(t, name)
}

func testCert(t testing.TB, name string) *x509.Certificate {
	t.Helper()
	cert, err := keys.Certificate(filepath.Join("testdata", name+".crt"))
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// tool returns the path of a reference tool; a missing tool fails the test
// (never skips it), naming the Debian package that provides it.
func tool(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is missing: install the Debian package %s (apt-get install -y %s; .ci/deps.sh does)", name, pkg, pkg)
	}
	return p
}

// run runs a command and fails the test when it fails.
func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

// runErr runs a command and returns its output and error.
func runErr(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}

// stub262 is Debian's systemd-stub 262.1 (fetched by internal/reftools).
func stub262(t testing.TB) string {
	t.Helper()
	return reftools.Locate(t).Path(t, "UKIBUILD_STUB_262")
}

var (
	ukiOnce sync.Once
	ukiPath string
	ukiErr  error
)

// testUKI builds a UKI with ukify 262.1 (the reference tool; package uki
// imports this package, so its composer cannot be used here) from the
// reference stub 262 and the reference Debian kernel (the odd-sized initrd
// makes the image size a non-multiple of 8).
func testUKI(t testing.TB) string {
	t.Helper()
	tools := reftools.Locate(t)
	stub := tools.Path(t, "UKIBUILD_STUB_262")
	kernel := tools.Path(t, "UKIBUILD_KERNEL")
	ukiOnce.Do(func() {
		p := filepath.Join(fixtureDir, "uki.efi")
		initrd := filepath.Join(fixtureDir, "initrd")
		if ukiErr = os.WriteFile(initrd, bytes.Repeat([]byte("initrd\x00"), 1001), 0o644); ukiErr != nil { // 7007 bytes
			return
		}
		cmd := tools.Ukify(t, "build", "--stub", stub, "--linux", kernel, "--initrd", initrd,
			"--cmdline", "root=/dev/vda1 quiet", "--os-release", "ID=test\nNAME=Test\n", "--uname", "6.1.0-50-amd64",
			"--output", p)
		if out, err := cmd.CombinedOutput(); err != nil {
			ukiErr = fmt.Errorf("ukify build: %v\n%s", err, out)
		}
		ukiPath = p
	})
	if ukiErr != nil {
		t.Fatal(ukiErr)
	}
	return ukiPath
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// signBytes signs img in memory and returns the signed image.
func signBytes(t testing.TB, img []byte, signer crypto.Signer, opts Options) []byte {
	t.Helper()
	out, err := signBytesErr(img, signer, opts)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func signBytesErr(img []byte, signer crypto.Signer, opts Options) ([]byte, error) {
	var w memWriterAt
	n, err := Sign(context.Background(), &w, bytes.NewReader(img), int64(len(img)), signer, opts)
	if err != nil {
		return nil, err
	}
	if n != int64(len(w.b)) {
		return nil, fmt.Errorf("Sign returned size %d, wrote %d bytes", n, len(w.b))
	}
	return w.b, nil
}

// memWriterAt is an in-memory io.WriterAt.
type memWriterAt struct{ b []byte }

func (m *memWriterAt) WriteAt(p []byte, off int64) (int, error) {
	if end := off + int64(len(p)); end > int64(len(m.b)) {
		m.b = append(m.b, make([]byte, end-int64(len(m.b)))...)
	}
	copy(m.b[off:], p)
	return len(p), nil
}

func writeTemp(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// firstDiff describes where a and b first differ.
func firstDiff(a, b []byte) string {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			lo := max(0, i-8)
			return fmt.Sprintf("first difference at offset %d (sizes %d, %d): % x vs % x", i, len(a), len(b), a[lo:min(len(a), i+16)], b[lo:min(len(b), i+16)])
		}
	}
	return fmt.Sprintf("sizes differ: %d vs %d", len(a), len(b))
}
