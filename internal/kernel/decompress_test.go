package kernel

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

// syntheticData returns n bytes of deterministic, compressible text that
// contains a kernel banner in the middle.
func syntheticData(n int) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	words := []string{"kernel", "module", "initrd", "efi", "stub", "linux", "0x1f", "irq", "dma", "\n", "\x00\x00\x00\x00"}
	var b bytes.Buffer
	for b.Len() < n {
		b.WriteString(words[rng.IntN(len(words))])
		b.WriteByte(byte(rng.IntN(256)))
		if b.Len() > n/2 && b.Len() < n/2+64 {
			b.WriteString("Linux version 6.9.1-synthetic+ (builder@host) (gcc 14) #1 SMP\n")
		}
	}
	return b.Bytes()[:n]
}

func sha(b []byte) [32]byte { return sha256.Sum256(b) }

// decompressAll runs o.Decompress on data and returns the output.
func decompressAll(t *testing.T, o Options, data []byte, f Format) ([]byte, error) {
	t.Helper()
	rc, err := o.Decompress(bytes.NewReader(data), int64(len(data)), f)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// sizeAppend mimics the kernel's size_append: the uncompressed size as a
// 32-bit little-endian number after the compressed stream.
func sizeAppend(b []byte, n int) []byte {
	return binary.LittleEndian.AppendUint32(append([]byte(nil), b...), uint32(n))
}

func encGzip(t testing.TB, data []byte) []byte {
	var b bytes.Buffer
	w, _ := gzip.NewWriterLevel(&b, gzip.BestSpeed)
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encZstd(t testing.TB, data []byte) []byte {
	w, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	return w.EncodeAll(data, nil)
}

func encLZ4(t testing.TB, data []byte, legacy bool) []byte {
	var b bytes.Buffer
	w := lz4.NewWriter(&b)
	opts := []lz4.Option{lz4.ConcurrencyOption(1)}
	if legacy {
		opts = append(opts, lz4.LegacyOption(true))
	}
	if err := w.Apply(opts...); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encXZ(t testing.TB, data []byte) []byte {
	var b bytes.Buffer
	w, err := xz.NewWriter(&b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encLZMA(t testing.TB, data []byte) []byte {
	var b bytes.Buffer
	w, err := lzma.WriterConfig{EOSMarker: true, DictCap: 1 << 20}.NewWriter(&b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// shared holds 1 MiB of synthetic data and its Go-encoded forms, computed
// once because the pure-Go lzma/xz encoders are slow.
var shared struct {
	once sync.Once
	data []byte
	enc  map[Format][]byte
}

func sharedSynthetic(t *testing.T) ([]byte, map[Format][]byte) {
	t.Helper()
	shared.once.Do(func() {
		data := syntheticData(1 << 20)
		shared.enc = goEncoded(t, data)
		shared.data = data
	})
	if shared.data == nil {
		t.Fatal("encoding the shared synthetic data failed")
	}
	return shared.data, shared.enc
}

func goEncoded(t *testing.T, data []byte) map[Format][]byte {
	return map[Format][]byte{
		FormatGzip:      encGzip(t, data),
		FormatZstd:      encZstd(t, data),
		FormatLZ4Frame:  encLZ4(t, data, false),
		FormatLZ4Legacy: encLZ4(t, data, true),
		FormatXZ:        encXZ(t, data),
		FormatLZMA:      encLZMA(t, data),
	}
}

func TestDecompressGoEncoders(t *testing.T) {
	t.Parallel()
	data, enc := sharedSynthetic(t)
	gz := enc[FormatGzip]
	zs := enc[FormatZstd]
	tests := []struct {
		name string
		in   []byte
		want Format
		warn string
	}{
		{"gzip", gz, FormatGzip, ""},
		{"gzip two members with zero padding", append(append(encGzip(t, data[:1000]), 0, 0, 0), encGzip(t, data[1000:])...), FormatGzip, ""},
		{"gzip trailing zeros", append(append([]byte(nil), gz...), make([]byte, 7)...), FormatGzip, ""},
		{"zstd", zs, FormatZstd, ""},
		{"zstd with size_append", sizeAppend(zs, len(data)), FormatZstd, ""},
		{"zstd two frames", append(encZstd(t, data[:5000]), encZstd(t, data[5000:])...), FormatZstd, ""},
		{"lz4 frame", enc[FormatLZ4Frame], FormatLZ4Frame, "Newer lz4 stream format detected! This may not boot!"},
		{"lz4 legacy", enc[FormatLZ4Legacy], FormatLZ4Legacy, ""},
		{"lz4 legacy with size_append", sizeAppend(enc[FormatLZ4Legacy], len(data)), FormatLZ4Legacy, ""},
		{"xz", enc[FormatXZ], FormatXZ, ""},
		{"xz with size_append", sizeAppend(enc[FormatXZ], len(data)), FormatXZ, ""},
		{"lzma", enc[FormatLZMA], FormatLZMA, ""},
		{"lzma with size_append", sizeAppend(enc[FormatLZMA], len(data)), FormatLZMA, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Detect(bytes.NewReader(tc.in))
			if err != nil || f != tc.want {
				t.Fatalf("Detect = %v, %v; want %v", f, err, tc.want)
			}
			var warnings []string
			o := Options{Warn: func(format string, args ...any) { warnings = append(warnings, fmt.Sprintf(format, args...)) }}
			got, err := decompressAll(t, o, tc.in, f)
			if err != nil {
				t.Fatalf("Decompress: %v", err)
			}
			if sha(got) != sha(data) {
				t.Fatalf("Decompress output differs: %d bytes, want %d", len(got), len(data))
			}
			if tc.warn != "" && (len(warnings) != 1 || warnings[0] != tc.warn) {
				t.Errorf("warnings = %q, want [%q]", warnings, tc.warn)
			}
			if tc.warn == "" && len(warnings) != 0 {
				t.Errorf("unexpected warnings %q", warnings)
			}
		})
	}
}

// hostTool returns the path of a host compressor or fails naming the
// Debian package that provides it.
func hostTool(t *testing.T, name string) string {
	t.Helper()
	pkgs := map[string]string{"gzip": "gzip", "bzip2": "bzip2", "xz": "xz-utils", "lzma": "xz-utils", "zstd": "zstd", "lz4": "lz4"}
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("host tool %s not found (%v); install the Debian package %q", name, err, pkgs[name])
	}
	return p
}

// TestDecompressKernelHostTools compresses the reference kernel the way the
// kernel build does (scripts/Makefile.lib: the compressor's output followed
// by size_append, except gzip) and checks that Decompress restores it.
func TestDecompressKernelHostTools(t *testing.T) {
	t.Parallel()
	kernel, err := os.ReadFile(testKernelPath(t))
	if err != nil {
		t.Fatal(err)
	}
	// lzma and xz encoders are slow on this incompressible input: use a
	// 2 MiB prefix to keep the test fast.
	prefix := kernel[:2<<20]
	tests := []struct {
		tool       string
		args       []string
		in         []byte
		sizeAppend bool
		want       Format
	}{
		{"gzip", []string{"-n", "-f", "-9"}, kernel, false, FormatGzip},
		{"bzip2", []string{"-9"}, kernel, true, FormatBzip2},
		{"zstd", []string{"-3", "-q"}, kernel, true, FormatZstd},
		{"lz4", []string{"-l", "-9", "-q"}, kernel, true, FormatLZ4Legacy},
		{"lz4", []string{"-q"}, kernel, false, FormatLZ4Frame},
		{"lzma", []string{"-0"}, prefix, true, FormatLZMA},
		{"xz", []string{"-0", "--check=crc32"}, prefix, true, FormatXZ},
	}
	for _, tc := range tests {
		t.Run(tc.tool+strings.Join(tc.args, ""), func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(hostTool(t, tc.tool), tc.args...)
			cmd.Stdin = bytes.NewReader(tc.in)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%s: %v", cmd, err)
			}
			if tc.sizeAppend {
				out = sizeAppend(out, len(tc.in))
			}
			path := filepath.Join(t.TempDir(), "vmlinuz")
			if err := os.WriteFile(path, out, 0o644); err != nil {
				t.Fatal(err)
			}
			fh, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer fh.Close()
			if f, err := Detect(fh); err != nil || f != tc.want {
				t.Fatalf("Detect = %v, %v; want %v", f, err, tc.want)
			}
			if IsPE(fh, int64(len(out))) {
				t.Errorf("IsPE = true for a %v file", tc.want)
			}
			rc, f, err := MaybeDecompress(fh, int64(len(out)))
			if err != nil || f != tc.want {
				t.Fatalf("MaybeDecompress = %v, %v", f, err)
			}
			defer rc.Close()
			h := sha256.New()
			if _, err := io.Copy(h, rc); err != nil {
				t.Fatalf("reading decompressed stream: %v", err)
			}
			if [32]byte(h.Sum(nil)) != sha(tc.in) {
				t.Fatal("decompressed kernel differs from the original")
			}
		})
	}
}

func TestDecompressXZFilterUnsupported(t *testing.T) {
	t.Parallel()
	data := syntheticData(64 << 10)
	for _, tc := range []struct {
		args []string
		name string
	}{
		{[]string{"--x86", "--lzma2=preset=0", "--check=crc32"}, "x86 BCJ"},
		{[]string{"--arm64", "--lzma2=preset=0"}, "ARM64 BCJ"},
		{[]string{"--delta=dist=4", "--lzma2=preset=0"}, "delta"},
	} {
		cmd := exec.Command(hostTool(t, "xz"), append(tc.args, "-c")...)
		cmd.Stdin = bytes.NewReader(data)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		_, err = decompressAll(t, Options{}, out, FormatXZ)
		if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("xz %v: err = %v, want ErrUnsupported naming %q", tc.args, err, tc.name)
		}
	}
}

func TestDecompressLimit(t *testing.T) {
	t.Parallel()
	zeros := make([]byte, 8<<20)
	enc := goEncoded(t, zeros)
	for f, in := range enc {
		t.Run(f.String(), func(t *testing.T) {
			// Exactly at the limit is fine.
			got, err := decompressAll(t, Options{Limit: int64(len(zeros))}, in, f)
			if err != nil || len(got) != len(zeros) {
				t.Fatalf("limit = size: got %d bytes, %v", len(got), err)
			}
			// One byte less is a bomb.
			got, err = decompressAll(t, Options{Limit: 1 << 20}, in, f)
			if !errors.Is(err, ErrLimit) {
				t.Fatalf("err = %v, want ErrLimit", err)
			}
			if len(got) != 1<<20 {
				t.Errorf("returned %d bytes before the error, want exactly the limit %d", len(got), 1<<20)
			}
			if !strings.Contains(err.Error(), "more than 1048576 bytes") {
				t.Errorf("error %q does not state the limit", err)
			}
			// Negative: unlimited.
			if _, err := decompressAll(t, Options{Limit: -1}, in, f); err != nil {
				t.Fatalf("unlimited: %v", err)
			}
		})
	}
}

func TestDecompressTruncated(t *testing.T) {
	t.Parallel()
	_, enc := sharedSynthetic(t)
	for f, in := range enc {
		for _, cut := range []int{len(in) / 2, len(in) - 1, 12} {
			t.Run(fmt.Sprintf("%v/%d", f, cut), func(t *testing.T) {
				got, err := decompressAll(t, Options{}, in[:cut], f)
				if err == nil {
					t.Fatalf("no error for stream truncated to %d of %d bytes (got %d bytes)", cut, len(in), len(got))
				}
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("err = %v, want ErrCorrupt", err)
				}
				if !strings.Contains(err.Error(), f.String()) {
					t.Errorf("error %q does not name the format", err)
				}
			})
		}
	}
}

func TestDetectAndUnsupported(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    Format
		errIs   error
		errText string
	}{
		{"\x7fELF\x02\x01", FormatELF, nil, ""},
		{"MZ\x00\x00zimg", FormatZboot, nil, ""},
		{"MZ\x00\x00zim", FormatPE, nil, ""},
		{"MZ", FormatPE, nil, ""},
		{"\x1f\x8b", FormatGzip, nil, ""},
		{"\x28\xb5\x2f\xfd", FormatZstd, nil, ""},
		{"\x02\x21\x4c\x18", FormatLZ4Legacy, nil, ""},
		{"\x04\x22\x4d\x18", FormatLZ4Frame, nil, ""},
		{"\x89LZO\x00", FormatLZO, nil, ""},
		{"BZh9", FormatBzip2, nil, ""},
		{"\x5d\x00\x00\x80", FormatLZMA, nil, ""},
		{"\xfd7zXZ\x00\x00", FormatXZ, nil, ""},
		{"\xfd7zXZ", FormatUnknown, ErrUnknownFormat, `starts with b'\xfd7zX'`},
		{"\x00\x01\x02\x03\x04", FormatUnknown, ErrUnknownFormat, `starts with b'\x00\x01\x02\x03'`},
		{"", FormatUnknown, ErrUnknownFormat, `starts with b''`},
		{"it's", FormatUnknown, ErrUnknownFormat, `starts with b"it's"`},
	}
	for _, tc := range tests {
		f, err := Detect(strings.NewReader(tc.in))
		if f != tc.want || !errors.Is(err, tc.errIs) || (tc.errIs == nil) != (err == nil) {
			t.Errorf("Detect(%q) = %v, %v; want %v, %v", tc.in, f, err, tc.want, tc.errIs)
			continue
		}
		if err != nil && !strings.Contains(err.Error(), tc.errText) {
			t.Errorf("Detect(%q) error %q does not contain %q", tc.in, err, tc.errText)
		}
	}
	in := []byte("\x89LZO\x00\r\n\x1a\n")
	if _, err := decompressAll(t, Options{}, in, FormatLZO); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "lzo") {
		t.Errorf("LZO: err = %v, want ErrUnsupported mentioning lzo", err)
	}
	if _, _, err := MaybeDecompress(strings.NewReader("\x00\x01\x02\x03"), 4); !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("MaybeDecompress(unknown): err = %v, want ErrUnknownFormat", err)
	}
	for _, f := range []Format{FormatELF, FormatPE, FormatUnknown} {
		if _, err := Decompress(strings.NewReader("x"), 1, f); err == nil {
			t.Errorf("Decompress(%v) succeeded", f)
		}
	}
}

// TestMaybeDecompressPassThrough checks the non-compressed cases of
// maybe_decompress: ELF unchanged, MZ without "zimg" from offset 8.
func TestMaybeDecompressPassThrough(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"\x7fELF rest of file", "\x7fELF rest of file"},
		{"MZ\x00\x00ABCDefgh", "efgh"},
		{"MZ\x00\x00ABC", ""},
		{"MZ", ""},
	} {
		rc, _, err := MaybeDecompress(strings.NewReader(tc.in), int64(len(tc.in)))
		if err != nil {
			t.Fatalf("MaybeDecompress(%q): %v", tc.in, err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || string(got) != tc.want {
			t.Errorf("MaybeDecompress(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// buildZboot synthesises an EFI zboot image like the kernel's
// zboot-header.S: "MZ", "zimg" at 4, payload offset at 8, payload size at
// 0xc, compression type at 0x18, a PE header at 0x40, and the payload.
func buildZboot(comp string, payload []byte, sizeField int32) []byte {
	const payloadOff = 0x200
	img := make([]byte, payloadOff, payloadOff+len(payload)+16)
	copy(img, "MZ")
	copy(img[4:], "zimg")
	binary.LittleEndian.PutUint32(img[0x08:], payloadOff)
	binary.LittleEndian.PutUint32(img[0x0c:], uint32(sizeField))
	copy(img[0x18:], comp)
	binary.LittleEndian.PutUint32(img[0x3c:], 0x40)
	copy(img[0x40:], "PE\x00\x00")
	binary.LittleEndian.PutUint16(img[0x44:], 0xaa64)     // Machine: arm64
	binary.LittleEndian.PutUint16(img[0x44+16:], 0xf0)    // SizeOfOptionalHeader
	binary.LittleEndian.PutUint16(img[0x58:], pePE32Plus) // optional header magic
	img = append(img, payload...)
	// The kernel appends the size after the payload for all but gzip.
	return binary.LittleEndian.AppendUint32(img, 0x12345678)
}

func TestZboot(t *testing.T) {
	t.Parallel()
	data, enc := sharedSynthetic(t)
	tests := []struct {
		comp    string
		payload []byte
		errIs   error
	}{
		{"gzip\x00", enc[FormatGzip], nil},
		{"lz4\x00", enc[FormatLZ4Legacy], nil},
		{"lz4\x00", enc[FormatLZ4Frame], nil},
		{"lzma\x00", enc[FormatLZMA], nil},
		{"lzma\x00", enc[FormatXZ], nil},
		{"xzkern", enc[FormatXZ], nil},
		{"zstd\x00", enc[FormatZstd], nil},
		{"zstd22", enc[FormatZstd], nil}, // prefix match, as ukify
		{"lzo\x00", []byte("\x89LZO"), ErrUnsupported},
		{"bzip2\x00", []byte("BZh9"), ErrUnsupported},
	}
	for _, tc := range tests {
		name := strings.TrimRight(tc.comp, "\x00")
		t.Run(name, func(t *testing.T) {
			img := buildZboot(tc.comp, tc.payload, int32(len(tc.payload)))
			if f, _ := Detect(bytes.NewReader(img)); f != FormatZboot {
				t.Fatalf("Detect = %v, want zboot", f)
			}
			if !IsPE(bytes.NewReader(img), int64(len(img))) {
				t.Error("IsPE = false for the synthetic zboot image")
			}
			got, err := decompressAll(t, Options{}, img, FormatZboot)
			if tc.errIs != nil {
				if !errors.Is(err, tc.errIs) {
					t.Fatalf("err = %v, want %v", err, tc.errIs)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decompress: %v", err)
			}
			if sha(got) != sha(data) {
				t.Fatal("zboot payload decompressed wrongly")
			}
			// The uname scan of a zboot image reads the payload.
			v, err := Options{}.DetectUnameAt(bytes.NewReader(img), int64(len(img)), "zboot")
			if err != nil || v != "6.9.1-synthetic+" {
				t.Errorf("DetectUnameAt = %q, %v", v, err)
			}
		})
	}
	t.Run("negative size reads to end", func(t *testing.T) {
		img := buildZboot("gzip", enc[FormatGzip], -1)
		img = img[:len(img)-4] // gzip fails on trailing data, as in Python
		got, err := decompressAll(t, Options{}, img, FormatZboot)
		if err != nil || sha(got) != sha(data) {
			t.Fatalf("got %d bytes, %v", len(got), err)
		}
	})
	t.Run("negative offset", func(t *testing.T) {
		img := buildZboot("gzip", enc[FormatGzip], 10)
		binary.LittleEndian.PutUint32(img[8:], 0xfffffff0)
		if _, err := decompressAll(t, Options{}, img, FormatZboot); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("err = %v, want ErrCorrupt", err)
		}
	})
	t.Run("truncated header", func(t *testing.T) {
		if _, err := decompressAll(t, Options{}, []byte("MZ\x00\x00zimg\x00"), FormatZboot); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("err = %v, want ErrCorrupt", err)
		}
	})
	t.Run("limit", func(t *testing.T) {
		img := buildZboot("zstd", enc[FormatZstd], int32(len(enc[FormatZstd])))
		if _, err := decompressAll(t, Options{Limit: 1000}, img, FormatZboot); !errors.Is(err, ErrLimit) {
			t.Fatalf("err = %v, want ErrLimit", err)
		}
	})
}

// TestDecompressEveryPrefix checks that every proper prefix of a small
// multi-block stream is reported as corrupt, for each format with an end
// marker (lz4 legacy has none: a cut at a block boundary is undetectable).
// Small dictionaries and blocks keep the ~1000 decodes fast.
func TestDecompressEveryPrefix(t *testing.T) {
	t.Parallel()
	data := syntheticData(24 << 10)
	var xzb, lzb, l4b bytes.Buffer
	xw, err := xz.WriterConfig{BlockSize: 4 << 10, DictCap: 64 << 10}.NewWriter(&xzb)
	if err != nil {
		t.Fatal(err)
	}
	lw, err := lzma.WriterConfig{EOSMarker: true, DictCap: 64 << 10}.NewWriter(&lzb)
	if err != nil {
		t.Fatal(err)
	}
	l4w := lz4.NewWriter(&l4b)
	if err := l4w.Apply(lz4.BlockSizeOption(lz4.Block64Kb), lz4.ChecksumOption(false)); err != nil {
		t.Fatal(err)
	}
	for _, w := range []io.WriteCloser{xw, lw, l4w} {
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	inputs := map[string]struct {
		f  Format
		in []byte
	}{
		"xz multi-block": {FormatXZ, xzb.Bytes()},
		"gzip":           {FormatGzip, encGzip(t, data)},
		"zstd":           {FormatZstd, encZstd(t, data)},
		"lz4 frame":      {FormatLZ4Frame, l4b.Bytes()},
		"lzma":           {FormatLZMA, lzb.Bytes()},
	}
	for name, tc := range inputs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			n := len(tc.in)
			for cut := 0; cut < n; cut++ {
				if cut > 64 && cut < n-64 && cut%13 != 0 {
					continue
				}
				got, err := decompressAll(t, Options{}, tc.in[:cut], tc.f)
				if err == nil {
					t.Fatalf("prefix of %d/%d bytes decompressed without error to %d bytes", cut, n, len(got))
				}
			}
		})
	}
}

func TestDecompressDictionaryBound(t *testing.T) {
	t.Parallel()
	// An lzma-alone header asking for a 1 GiB dictionary, unknown size.
	lz := []byte("\x5d\x00\x00\x00\x40\xff\xff\xff\xff\xff\xff\xff\xff\x00\x00\x00\x00")
	if _, err := decompressAll(t, Options{}, lz, FormatLZMA); !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "dictionary size 1073741824") {
		t.Errorf("lzma: err = %v, want ErrLimit naming the dictionary size", err)
	}
	// An xz stream whose LZMA2 filter asks for a 1 GiB dictionary (dict
	// property 36), built from a real stream by patching the block header.
	xzs := encXZ(t, []byte("hello"))
	hdr := xzs[12 : 12+int(xzs[12]+1)*4]
	if hdr[2] != 0x21 || hdr[3] != 1 {
		t.Fatalf("unexpected xz block header % x", hdr)
	}
	hdr[4] = 36
	binary.LittleEndian.PutUint32(hdr[len(hdr)-4:], crc32.ChecksumIEEE(hdr[:len(hdr)-4]))
	if _, err := decompressAll(t, Options{}, xzs, FormatXZ); !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "dictionary size 1073741824") {
		t.Errorf("xz: err = %v, want ErrLimit naming the dictionary size", err)
	}
}

// TestDecompressTrailingData covers data after the last stream: gzip
// rejects it like Python's gzip module, the others ignore it like Python's
// bz2/lzma modules (and the kernel's own decompressors).
func TestDecompressTrailingData(t *testing.T) {
	t.Parallel()
	data := syntheticData(200 << 10)
	half := len(data) / 2
	bz := func(b []byte) []byte {
		cmd := exec.Command(hostTool(t, "bzip2"), "-1", "-c")
		cmd.Stdin = bytes.NewReader(b)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		return out
	}
	two := func(enc func([]byte) []byte, pad ...byte) []byte {
		return append(append(enc(data[:half]), pad...), enc(data[half:])...)
	}
	xzEnc := func(b []byte) []byte { return encXZ(t, b) }
	tests := []struct {
		name string
		f    Format
		in   []byte
		ok   bool
	}{
		{"bzip2 two streams + size", FormatBzip2, sizeAppend(two(bz), len(data)), true},
		{"bzip2 + garbage", FormatBzip2, append(bz(data), "garbage"...), true},
		{"xz two streams with padding + size", FormatXZ, sizeAppend(two(xzEnc, 0, 0, 0, 0, 0, 0, 0, 0), len(data)), true},
		{"xz + garbage", FormatXZ, append(encXZ(t, data), "garbage!!!!!!!!!!!!!!"...), true},
		{"gzip + garbage", FormatGzip, append(encGzip(t, data), "garbage"...), false},
		{"gzip + one byte", FormatGzip, append(encGzip(t, data), 1), false},
	}
	for _, tc := range tests {
		got, err := decompressAll(t, Options{}, tc.in, tc.f)
		if tc.ok && (err != nil || sha(got) != sha(data)) {
			t.Errorf("%s: got %d bytes, %v; want the original %d bytes", tc.name, len(got), err, len(data))
		}
		if !tc.ok && !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: err = %v, want ErrCorrupt", tc.name, err)
		}
	}
}
