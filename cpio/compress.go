package cpio

import (
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

// Compression is how Write compresses the archive.
type Compression int

const (
	// None writes the archive as it is.
	None Compression = iota
	// Zstd compresses as mkosi's "zstd -q -3 -T0" would, with
	// github.com/klauspost/compress/zstd (see the package documentation:
	// not the same bytes).
	Zstd
	// XZ compresses as mkosi's "xz --check=crc32 -3 -T0" would, with
	// github.com/ulikunitz/xz (not the same bytes either).
	XZ
)

// String returns the name ParseCompression accepts.
func (c Compression) String() string {
	switch c {
	case None:
		return "none"
	case Zstd:
		return "zstd"
	case XZ:
		return "xz"
	}
	return fmt.Sprintf("Compression(%d)", int(c))
}

// ParseCompression parses "none", "zstd" or "xz".
func ParseCompression(s string) (Compression, error) {
	for _, c := range []Compression{None, Zstd, XZ} {
		if s == c.String() {
			return c, nil
		}
	}
	return None, fmt.Errorf("cpio: unknown compression %q (none, zstd or xz)", s)
}

// Parameters of zstd -3 and xz -3 (zstd's lib/compress/clevels.h: window
// log 21 for level 3; xz's liblzma lzma_lzma_preset: a 4 MiB dictionary
// and the hc4 match finder for preset 3).
const (
	zstdWindow = 1 << 21
	xzDictCap  = 4 << 20
)

// newCompressor returns a writer compressing into w; Close finishes the
// stream (it does not close w).
func newCompressor(w io.Writer, c Compression) (io.WriteCloser, error) {
	switch c {
	case Zstd:
		// One encoder goroutine: the output must not depend on how
		// the work is split.
		enc, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithWindowSize(zstdWindow),
			zstd.WithEncoderCRC(true), zstd.WithEncoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("cpio: zstd: %w", err)
		}
		return enc, nil
	case XZ:
		enc, err := xz.WriterConfig{DictCap: xzDictCap, CheckSum: xz.CRC32, Matcher: lzma.HashTable4}.NewWriter(w)
		if err != nil {
			return nil, fmt.Errorf("cpio: xz: %w", err)
		}
		return enc, nil
	}
	return nil, fmt.Errorf("cpio: unknown compression %v", c)
}
