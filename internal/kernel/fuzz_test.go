package kernel

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// fuzzLimit keeps the fuzzer's decompression output small.
const fuzzLimit = 1 << 20

// FuzzDecompress feeds arbitrary kernels to format detection and
// decompression (every format, zboot included): no panic, output never
// beyond the limit, and every error wraps one of the package's sentinels.
func FuzzDecompress(f *testing.F) {
	data := syntheticData(4 << 10)
	f.Add(encGzip(f, data))
	f.Add(encZstd(f, data))
	f.Add(encLZ4(f, data, false))
	f.Add(encLZ4(f, data, true))
	f.Add(encXZ(f, data))
	f.Add(encLZMA(f, data))
	f.Add(sizeAppend(encGzip(f, data), len(data)))
	f.Add(buildZboot("zstd", encZstd(f, data), -1))
	f.Add(buildZboot("gzip", encGzip(f, data), 100))
	f.Add([]byte("BZh91AY&SY"))
	f.Add([]byte("\x89LZO\x00"))
	f.Add(encZstd(f, make([]byte, 4<<20))) // more than fuzzLimit
	sentinel := func(err error) bool {
		for _, s := range []error{ErrUnknownFormat, ErrUnsupported, ErrCorrupt, ErrLimit} {
			if errors.Is(err, s) {
				return true
			}
		}
		return false
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		_ = IsPE(r, int64(len(b)))
		_, _, _ = Machine(r, int64(len(b))) // no panic; reads at most 4 KiB of output
		o := Options{Limit: fuzzLimit}
		rc, format, err := o.MaybeDecompress(r, int64(len(b)))
		if err != nil {
			if !sentinel(err) {
				t.Fatalf("%v: error %v wraps no sentinel", format, err)
			}
			return
		}
		defer rc.Close()
		n, err := io.Copy(io.Discard, rc)
		if format.Compressed() || format == FormatZboot {
			if n > fuzzLimit {
				t.Fatalf("%v: %d bytes out, limit %d", format, n, fuzzLimit)
			}
			if err != nil && !sentinel(err) {
				t.Fatalf("%v: error %v wraps no sentinel", format, err)
			}
		} else if err != nil {
			t.Fatalf("%v: reading the file itself: %v", format, err)
		}
	})
}
