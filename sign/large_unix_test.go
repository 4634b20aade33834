//go:build linux

package sign

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/ukibuild/ukibuild/internal/pe"
	"github.com/ukibuild/ukibuild/internal/pe/petest"
	"github.com/ukibuild/ukibuild/internal/peakrss"
)

const (
	largeSize     = 1<<30 + 5 // a 1 GiB section plus 5 trailing bytes
	largeMaxRSS   = 64 << 20  // peak RSS of the signing process
	largeMaxAlloc = 16 << 20  // bytes allocated while signing or verifying
)

// TestLargeImageMemory signs a sparse 1 GiB image in a child process and
// checks the child's peak resident set size and the bytes it allocated, then
// verifies the result here: memory use must not grow with the image.
func TestLargeImageMemory(t *testing.T) {
	if os.Getenv("UKIBUILD_SIGN_LARGE_CHILD") == "1" {
		largeChild(t)
		return
	}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "large.efi"), filepath.Join(dir, "large.signed.efi")
	writeLargeImage(t, in)

	cmd := exec.Command(os.Args[0], "-test.run=^TestLargeImageMemory$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "UKIBUILD_SIGN_LARGE_CHILD=1", "UKIBUILD_SIGN_LARGE_IN="+in, "UKIBUILD_SIGN_LARGE_OUT="+out)
	cmd.Dir, _ = os.Getwd()
	output, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("signing child: %v\n%s", err, output)
	}
	maxRSS, err := peakrss.Parse(output) // not getrusage's ru_maxrss: see package peakrss
	if err != nil {
		t.Fatalf("%v\n%s", err, output)
	}
	t.Logf("signing a %d-byte image: child peak RSS %d KiB\n%s", largeSize, maxRSS>>10, output)
	if maxRSS > largeMaxRSS {
		t.Fatalf("the signing process peaked at %d MiB resident, more than %d MiB", maxRSS>>20, largeMaxRSS>>20)
	}

	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	rep, err := VerifyFile(context.Background(), out, dbOf(t, "db"))
	runtime.ReadMemStats(&m1)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Signatures) != 1 {
		t.Fatalf("%+v", rep.Signatures)
	}
	if a := m1.TotalAlloc - m0.TotalAlloc; a > largeMaxAlloc {
		t.Fatalf("verifying allocated %d bytes", a)
	}
	st, err := os.Stat(out)
	if err != nil || st.Size() != int64(pe.RoundUp(largeSize, 8))+entrySize(t, out) {
		t.Fatalf("output size %v (%v)", st.Size(), err)
	}
}

func entrySize(t *testing.T, path string) int64 {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	p, err := pe.Parse(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	d, _ := p.Security()
	return int64(d.Size)
}

func largeChild(t *testing.T) {
	in, out := os.Getenv("UKIBUILD_SIGN_LARGE_IN"), os.Getenv("UKIBUILD_SIGN_LARGE_OUT")
	key, cert := testKey(t, "db")
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	if err := SignFile(context.Background(), in, out, key, Options{Certificate: cert}); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&m1)
	a := m1.TotalAlloc - m0.TotalAlloc
	t.Logf("signing allocated %d bytes", a)
	if err := peakrss.Report(os.Stdout); err != nil {
		t.Fatal(err)
	}
	if a > largeMaxAlloc {
		t.Fatalf("signing allocated %d bytes, more than %d", a, largeMaxAlloc)
	}
}

// writeLargeImage writes a sparse PE image of largeSize bytes: headers, one
// section of 1 GiB - 0x400 bytes (mostly holes) and 5 trailing bytes.
func writeLargeImage(t *testing.T, path string) {
	const raw = 1<<30 - 0x400
	hdr := petest.Stub(0x400, []petest.Section{petest.Sec(".data", 0x1000, 0x200, 0x400, 0x200, []byte("start"))}, 0, nil)
	f, err := pe.Parse(bytes.NewReader(hdr), int64(len(hdr)))
	if err != nil {
		t.Fatal(err)
	}
	sh := f.SectionHeaderOffset(0)
	binary.LittleEndian.PutUint32(hdr[sh+8:], raw)  // VirtualSize
	binary.LittleEndian.PutUint32(hdr[sh+16:], raw) // SizeOfRawData
	binary.LittleEndian.PutUint32(hdr[f.OptionalOffset+pe.OptSizeOfImage:], 0x1000+raw)
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if _, err := out.Write(hdr); err != nil {
		t.Fatal(err)
	}
	if _, err := out.WriteAt([]byte("middle"), 1<<29); err != nil {
		t.Fatal(err)
	}
	if _, err := out.WriteAt([]byte("trail"), largeSize-5); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
