package kernel

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

// Decompressed-size limits used when Options.Limit is 0: the output may be
// MaxRatio times the compressed input, but at least MinLimit and at most
// DefaultLimit. Real kernels decompress to 3 to 6 times their compressed
// size (gzip, zstd, xz of vmlinux or an arm64 Image); a decompression bomb
// reaches thousands, so it is stopped after a few seconds and MinLimit bytes
// of scratch space instead of filling the disk with 2 GiB.
const (
	DefaultLimit int64 = 2 << 30  // 2 GiB
	MinLimit     int64 = 64 << 20 // 64 MiB
	MaxRatio     int64 = 32
)

// maxDictCap bounds the LZMA/LZMA2 dictionary a header may request, so that
// a 13-byte header cannot make the decoder allocate gigabytes: the
// dictionary is allocated in full when the stream starts. Kernel builds use
// at most 64 MiB (lzma -9; xz_wrap.sh uses 32 MiB). For zstd, the window is
// bounded by klauspost/compress's default of 512 MiB.
const maxDictCap = 256 << 20

// bufSize is the read buffer placed between the input and the decoders.
const bufSize = 64 << 10

// Options configures decompression and uname detection. The zero value is
// ready to use.
type Options struct {
	// Limit is the maximum number of decompressed bytes any decompressor
	// may produce; reading past it fails with an error wrapping ErrLimit.
	// 0 means MaxRatio times the compressed size, at least MinLimit and at
	// most DefaultLimit; a negative value disables the limit.
	Limit int64
	// Warn, if set, receives the diagnostics ukify prints to stderr: the
	// lz4-frame warning, and the reason each uname detection step failed.
	// The message has no trailing newline.
	Warn func(format string, args ...any)
}

// limit is the output limit for in compressed bytes.
func (o Options) limit(in int64) int64 {
	switch {
	case o.Limit == 0:
		if in > DefaultLimit/MaxRatio {
			return DefaultLimit
		}
		return max(MinLimit, in*MaxRatio)
	case o.Limit < 0:
		return -1
	}
	return o.Limit
}

func (o Options) warnf(format string, args ...any) {
	if o.Warn != nil {
		o.Warn(format, args...)
	}
}

// Decompress is Options{}.Decompress.
func Decompress(r io.ReaderAt, size int64, f Format) (io.ReadCloser, error) {
	return Options{}.Decompress(r, size, f)
}

// Decompress returns a stream of the decompressed content of the first size
// bytes of r, which is in format f (as returned by Detect). Besides the
// compression formats it accepts FormatZboot, for which it returns the
// decompressed payload of the EFI zboot image (see get_zboot_kernel in
// ukify). FormatELF, FormatPE and FormatUnknown are rejected.
//
// The stream is decoded incrementally; nothing is held in memory beyond the
// decoders' windows. Corrupt or truncated input yields an error wrapping
// ErrCorrupt, output beyond o.Limit an error wrapping ErrLimit, and LZO an
// error wrapping ErrUnsupported. The caller must Close the result.
//
// Handling of data after the compressed stream: gzip accepts further
// members and zero padding, and fails on other trailing data (as Python's
// gzip module); bzip2, zstd, lz4 and xz accept further streams (xz also
// stream padding) and ignore trailing data that does not start another
// stream, such as the 4-byte size that the kernel's size_append adds; lzma
// reads a single stream and ignores anything after it.
func (o Options) Decompress(r io.ReaderAt, size int64, f Format) (io.ReadCloser, error) {
	if size < 0 {
		return nil, fmt.Errorf("decompressing kernel: negative input size %d", size)
	}
	switch f {
	case FormatZboot:
		return o.zboot(r, size)
	case FormatELF, FormatPE:
		return nil, fmt.Errorf("decompressing kernel: %s image is not compressed", f)
	case FormatLZ4Frame:
		o.warnf("Newer lz4 stream format detected! This may not boot!")
	}
	return o.stream(r, 0, size, f, "kernel")
}

// MaybeDecompress is Options{}.MaybeDecompress.
func MaybeDecompress(r io.ReaderAt, size int64) (io.ReadCloser, Format, error) {
	return Options{}.MaybeDecompress(r, size)
}

// MaybeDecompress reproduces ukify's maybe_decompress: it detects the
// format and returns the content ukify would obtain.
//
//   - ELF: the whole file, unchanged.
//   - zboot: the decompressed payload.
//   - other "MZ" files: the file from offset 8 onwards. ukify reads 4 bytes
//     at offset 4 to look for "zimg" and then returns the rest of the file
//     from the current position, so the first 8 bytes are dropped. This
//     only matters for the uname scan and for MZ files that pefile rejects.
//   - compressed formats: the decompressed stream (see Decompress).
//   - unknown formats: an error wrapping ErrUnknownFormat; LZO: an error
//     wrapping ErrUnsupported (ukify raises NotImplementedError for both).
func (o Options) MaybeDecompress(r io.ReaderAt, size int64) (io.ReadCloser, Format, error) {
	if size < 0 {
		return nil, FormatUnknown, fmt.Errorf("reading kernel: negative input size %d", size)
	}
	f, err := Detect(io.NewSectionReader(r, 0, size))
	if err != nil {
		return nil, f, err
	}
	switch f {
	case FormatELF:
		return io.NopCloser(io.NewSectionReader(r, 0, size)), f, nil
	case FormatPE:
		off := min(int64(8), size)
		return io.NopCloser(io.NewSectionReader(r, off, size-off)), f, nil
	}
	rc, err := o.Decompress(r, size, f)
	return rc, f, err
}

// zboot decompresses the payload of an EFI zboot image, following
// get_zboot_kernel: signed 32-bit payload offset at 0x08 and size at 0x0c,
// compression type as a NUL-terminated string at 0x18, matched by prefix in
// ukify's order (gzip, lz4, lzma, lzo, xzkern, zstd).
//
// Differences from ukify, which are all extensions: "lz4" accepts the
// legacy format (the one the kernel's zboot actually uses; ukify's
// lz4.frame cannot read it) as well as the frame format; "xzkern" is
// decompressed as xz instead of raising NotImplementedError; "lzma" accepts
// xz as well as lzma-alone, like Python's lzma.decompress. As in ukify a
// negative size means "to the end of the file".
func (o Options) zboot(r io.ReaderAt, size int64) (io.ReadCloser, error) {
	hdr, err := readAtMost(r, 0, 0x18+6)
	if err != nil {
		return nil, fmt.Errorf("reading zboot header: %w", err)
	}
	if int64(len(hdr)) > size {
		hdr = hdr[:size]
	}
	if len(hdr) < 0x10 {
		return nil, fmt.Errorf("%w: zboot header truncated: file has %d bytes, payload offset and size need 16", ErrCorrupt, len(hdr))
	}
	start := int64(int32(binary.LittleEndian.Uint32(hdr[0x08:])))
	psize := int64(int32(binary.LittleEndian.Uint32(hdr[0x0c:])))
	var comp []byte
	if len(hdr) > 0x18 {
		comp = hdr[0x18:]
	}
	if start < 0 {
		return nil, fmt.Errorf("%w: zboot payload offset %d is negative", ErrCorrupt, start)
	}
	start = min(start, size)
	if psize < 0 || start+psize > size {
		psize = size - start
	}
	var f Format
	switch {
	case bytes.HasPrefix(comp, []byte("gzip")):
		f = FormatGzip
	case bytes.HasPrefix(comp, []byte("lz4")):
		f = FormatLZ4Frame
		if m, _ := readAtMost(r, start, 4); bytes.Equal(m, []byte("\x02\x21\x4c\x18")) {
			f = FormatLZ4Legacy
		}
	case bytes.HasPrefix(comp, []byte("lzma")):
		f = FormatLZMA
		if m, _ := readAtMost(r, start, len(xzMagic)); bytes.Equal(m, xzMagic) {
			f = FormatXZ
		}
	case bytes.HasPrefix(comp, []byte("lzo")):
		return nil, fmt.Errorf("%w: zboot payload is lzo-compressed; lzo decompression is not implemented", ErrUnsupported)
	case bytes.HasPrefix(comp, []byte("xzkern")):
		f = FormatXZ
	case bytes.HasPrefix(comp, []byte("zstd")):
		f = FormatZstd
	default:
		return nil, fmt.Errorf("%w: unknown zboot compression type: %s", ErrUnsupported, pyBytesRepr(comp))
	}
	return o.stream(r, start, psize, f, "zboot payload")
}

// stream builds the decoder for format f reading size bytes at off.
func (o Options) stream(r io.ReaderAt, off, size int64, f Format, what string) (rc io.ReadCloser, err error) {
	src := bufio.NewReaderSize(io.NewSectionReader(r, off, size), bufSize)
	ctx := fmt.Sprintf("%s (%s)", what, f)
	defer func() {
		if v := recover(); v != nil {
			rc, err = nil, fmt.Errorf("decompressing %s: %w: decoder failed: %v", ctx, ErrCorrupt, v)
		}
	}()
	if size <= 0 && f != FormatLZO && f.Compressed() {
		return nil, fmt.Errorf("decompressing %s: %w: no compressed data", ctx, ErrCorrupt)
	}
	var (
		dec     io.Reader
		closeFn func()
	)
	switch f {
	case FormatGzip:
		dec, err = newGzipReader(src)
	case FormatBzip2:
		dec = &bzip2Reader{r: bzip2.NewReader(src)}
	case FormatZstd:
		var zd *zstd.Decoder
		zd, err = zstd.NewReader(src, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
		if err == nil {
			dec = &zstdReader{d: zd}
			closeFn = zd.Close
		}
	case FormatLZ4Legacy, FormatLZ4Frame:
		zr := lz4.NewReader(src)
		if err = zr.Apply(lz4.ConcurrencyOption(1)); err == nil {
			dec = zr
		}
	case FormatLZMA:
		dec, err = lzma.ReaderConfig{DictCap: maxDictCap}.NewReader(src)
	case FormatXZ:
		dec, err = newXZReader(r, off, off+size)
	case FormatLZO:
		return nil, fmt.Errorf("decompressing %s: %w: lzo decompression is not implemented", ctx, ErrUnsupported)
	default:
		return nil, fmt.Errorf("decompressing %s: %w: cannot decompress format %s", ctx, ErrUnknownFormat, f)
	}
	if err != nil {
		return nil, fmt.Errorf("decompressing %s: %w", ctx, classify(err))
	}
	return &limitReader{r: dec, limit: o.limit(size), ctx: ctx, closeFn: closeFn}, nil
}

// classify wraps decoder errors in ErrCorrupt (or ErrLimit for dictionary
// sizes above maxDictCap), keeping the original message.
func classify(err error) error {
	if errors.Is(err, ErrLimit) || errors.Is(err, ErrCorrupt) || errors.Is(err, ErrUnsupported) {
		return err
	}
	var ds *lzma.ErrDictSize
	if errors.As(err, &ds) {
		return fmt.Errorf("%w: lzma dictionary size %d exceeds the supported maximum %d", ErrLimit, ds.HeaderDictSize, maxDictCap)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: compressed data is truncated (%v)", ErrCorrupt, err)
	}
	return fmt.Errorf("%w: %v", ErrCorrupt, err)
}

// limitReader enforces the output limit, wraps decoder errors with context
// and converts decoder panics (which would be library bugs) into errors.
type limitReader struct {
	r       io.Reader
	n       int64
	limit   int64 // negative: unlimited
	ctx     string
	closeFn func()
	err     error
}

func (l *limitReader) Read(p []byte) (n int, err error) {
	if l.err != nil {
		return 0, l.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if l.limit >= 0 {
		// Allow one byte beyond the limit so that reaching it exactly at the
		// end of the stream is not an error.
		if room := l.limit - l.n + 1; int64(len(p)) > room {
			p = p[:room]
		}
	}
	defer func() {
		if v := recover(); v != nil {
			n = 0
			l.err = fmt.Errorf("decompressing %s: %w: decoder failed: %v", l.ctx, ErrCorrupt, v)
			err = l.err
		}
	}()
	n, err = l.r.Read(p)
	if n < 0 || n > len(p) {
		n = 0
		err = fmt.Errorf("decoder returned invalid count")
	}
	l.n += int64(n)
	if l.limit >= 0 && l.n > l.limit {
		n -= int(l.n - l.limit)
		l.n = l.limit
		l.err = fmt.Errorf("decompressing %s: %w: more than %d bytes (a decompression bomb?)", l.ctx, ErrLimit, l.limit)
		return n, l.err
	}
	if err != nil && err != io.EOF {
		l.err = fmt.Errorf("decompressing %s: after %d output bytes: %w", l.ctx, l.n, classify(err))
		return n, l.err
	}
	if err == io.EOF {
		l.err = io.EOF
	}
	return n, err
}

func (l *limitReader) Close() error {
	if l.closeFn != nil {
		l.closeFn()
		l.closeFn = nil
	}
	if l.err == nil {
		l.err = errors.New("read from closed decompressor")
	}
	return nil
}

// gzipReader decodes concatenated gzip members like Python's gzip module:
// zero bytes between or after members are skipped, end of input after a
// member ends the stream, and anything else must be another member.
type gzipReader struct {
	src     *bufio.Reader
	z       *gzip.Reader
	members int
}

func newGzipReader(src *bufio.Reader) (*gzipReader, error) {
	z, err := gzip.NewReader(src)
	if err != nil {
		return nil, fmt.Errorf("invalid gzip header: %w", err)
	}
	z.Multistream(false)
	return &gzipReader{src: src, z: z, members: 1}, nil
}

func (g *gzipReader) Read(p []byte) (int, error) {
	for {
		n, err := g.z.Read(p)
		if err != io.EOF {
			if err != nil {
				err = fmt.Errorf("gzip member %d: %w", g.members, err)
			}
			return n, err
		}
		// End of a member: skip zero padding, then expect EOF or a member.
		for {
			b, err := g.src.ReadByte()
			if err == io.EOF {
				return n, io.EOF
			}
			if err != nil {
				return n, err
			}
			if b != 0 {
				_ = g.src.UnreadByte()
				break
			}
		}
		g.members++
		if err := g.z.Reset(g.src); err != nil {
			return n, fmt.Errorf("data after gzip member %d is not a gzip member: %w", g.members-1, err)
		}
		g.z.Multistream(false)
		if n > 0 {
			return n, nil
		}
	}
}

// bzip2ContinuationErr is the error compress/bzip2 returns when the bytes
// after a complete bzip2 stream do not start with "BZ".
const bzip2ContinuationErr = bzip2.StructuralError("bad magic value in continuation file")

// bzip2Reader ignores trailing non-bzip2 data after a complete stream, as
// Python's bz2 module does (the kernel appends a 4-byte size).
type bzip2Reader struct {
	r io.Reader
}

func (b *bzip2Reader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == bzip2ContinuationErr {
		err = io.EOF
	}
	return n, err
}

// zstdReader ignores trailing data after a complete zstd frame that is not
// another frame (the kernel appends a 4-byte size). The first frame's magic
// was checked by Detect, so a magic mismatch can only occur at a later frame
// boundary.
type zstdReader struct {
	d *zstd.Decoder
}

func (z *zstdReader) Read(p []byte) (int, error) {
	n, err := z.d.Read(p)
	if errors.Is(err, zstd.ErrMagicMismatch) {
		err = io.EOF
	}
	return n, err
}

// checkXZFilters inspects the first block header of an xz stream so that
// unsupported filter chains (BCJ filters, delta) fail with a clear message
// instead of ulikunitz/xz's "unsupported filter count", and so that an
// LZMA2 dictionary above maxDictCap is refused before it is allocated.
// Only the first block is checked; later blocks are validated by the
// decoder itself.
func checkXZFilters(r io.ReaderAt, off, size int64) error {
	const streamHeaderLen = 12
	buf, err := readAtMost(r, off, streamHeaderLen+1024+4)
	if err != nil {
		return err
	}
	if int64(len(buf)) > size {
		buf = buf[:size]
	}
	if len(buf) < streamHeaderLen+1 || buf[streamHeaderLen] == 0 {
		return nil // truncated or empty stream: let the decoder report it
	}
	hsize := (int(buf[streamHeaderLen]) + 1) * 4
	if len(buf) < streamHeaderLen+hsize {
		return nil
	}
	h := buf[streamHeaderLen+1 : streamHeaderLen+hsize]
	flags := h[0]
	nfilters := int(flags&3) + 1
	p := 1
	uvarint := func() (uint64, bool) {
		v, k := binary.Uvarint(h[p:])
		if k <= 0 {
			return 0, false
		}
		p += k
		return v, true
	}
	if flags&0x40 != 0 {
		if _, ok := uvarint(); !ok {
			return nil
		}
	}
	if flags&0x80 != 0 {
		if _, ok := uvarint(); !ok {
			return nil
		}
	}
	var ids []string
	var unsupported bool
	var dictProp = -1
	for i := 0; i < nfilters; i++ {
		id, ok := uvarint()
		if !ok {
			return nil
		}
		psz, ok := uvarint()
		if !ok || psz > uint64(len(h)-p) {
			return nil
		}
		if id == 0x21 && psz == 1 {
			dictProp = int(h[p])
		}
		p += int(psz)
		name, known := xzFilterNames[id]
		if !known {
			name = fmt.Sprintf("unknown filter %#x", id)
		}
		if id != 0x21 {
			unsupported = true
		}
		ids = append(ids, name)
	}
	if unsupported {
		return fmt.Errorf("%w: xz filter chain %q; only a plain LZMA2 filter is supported (kernels compressed with a BCJ filter, as scripts/xz_wrap.sh does, cannot be decompressed)", ErrUnsupported, ids)
	}
	if dictProp >= 0 && dictProp <= 40 {
		var dict uint64 = 1<<32 - 1
		if dictProp < 40 {
			dict = (2 | uint64(dictProp)&1) << (dictProp/2 + 11)
		}
		if dict > maxDictCap {
			return fmt.Errorf("%w: xz LZMA2 dictionary size %d exceeds the supported maximum %d", ErrLimit, dict, maxDictCap)
		}
	}
	return nil
}

var xzFilterNames = map[uint64]string{
	0x03: "delta",
	0x04: "x86 BCJ",
	0x05: "PowerPC BCJ",
	0x06: "IA-64 BCJ",
	0x07: "ARM BCJ",
	0x08: "ARM-Thumb BCJ",
	0x09: "SPARC BCJ",
	0x0a: "ARM64 BCJ",
	0x0b: "RISC-V BCJ",
	0x21: "LZMA2",
}

// xzUnexpectedData is the text of the error ulikunitz/xz returns in
// single-stream mode when data follows a complete, verified stream.
const xzUnexpectedData = "xz: unexpected data after stream"

// xzReader decodes concatenated xz streams with ulikunitz/xz in
// single-stream mode, so that it knows where each stream ends: stream
// padding (groups of four zero bytes) is skipped, another stream is decoded,
// and any other trailing data (the kernel's 4-byte size) is ignored. It also
// detects truncation at a block boundary, which ulikunitz/xz reports as a
// clean end of input, by requiring a valid stream footer at the end of the
// input in that case.
type xzReader struct {
	ra       io.ReaderAt
	off, end int64 // start of the current stream; end of input
	cr       *countingReader
	br       *bufio.Reader
	x        *xz.Reader
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func newXZReader(ra io.ReaderAt, off, end int64) (*xzReader, error) {
	x := &xzReader{ra: ra, end: end}
	if err := x.start(off); err != nil {
		return nil, err
	}
	return x, nil
}

func (x *xzReader) start(off int64) error {
	if err := checkXZFilters(x.ra, off, x.end-off); err != nil {
		return err
	}
	x.off = off
	x.cr = &countingReader{r: io.NewSectionReader(x.ra, off, x.end-off)}
	x.br = bufio.NewReaderSize(x.cr, bufSize)
	var err error
	x.x, err = xz.ReaderConfig{DictCap: lzma.MinDictCap, SingleStream: true}.NewReader(x.br)
	return err
}

func (x *xzReader) Read(p []byte) (int, error) {
	for {
		n, err := x.x.Read(p)
		switch {
		case err == nil:
			return n, nil
		case err == io.EOF:
			if !x.footerAtEnd() {
				return n, fmt.Errorf("%w: xz stream is truncated (input ends without a stream footer)", ErrCorrupt)
			}
			return n, io.EOF
		case err.Error() == xzUnexpectedData:
			// The reader consumed one byte after the stream to see this.
			pos := x.off + x.cr.n - int64(x.br.Buffered()) - 1
			for {
				pad, rerr := readAtMost(x.ra, pos, 4)
				if rerr != nil {
					return n, rerr
				}
				if pos+4 > x.end || !bytes.Equal(pad, []byte{0, 0, 0, 0}) {
					break
				}
				pos += 4
			}
			magic, rerr := readAtMost(x.ra, pos, len(xzMagic))
			if rerr != nil {
				return n, rerr
			}
			if pos+int64(len(xzMagic)) > x.end || !bytes.Equal(magic, xzMagic) {
				return n, io.EOF // trailing data is ignored
			}
			if serr := x.start(pos); serr != nil {
				return n, fmt.Errorf("xz stream at offset %d: %w", pos, serr)
			}
			if n > 0 {
				return n, nil
			}
		default:
			return n, err
		}
	}
}

// footerAtEnd reports whether the input ends with a valid xz stream footer
// (CRC32 of backward size and flags, then "YZ").
func (x *xzReader) footerAtEnd() bool {
	if x.end-x.off < 12+12 {
		return false
	}
	f, err := readAtMost(x.ra, x.end-12, 12)
	if err != nil || len(f) != 12 || string(f[10:]) != "YZ" {
		return false
	}
	return crc32.ChecksumIEEE(f[4:10]) == binary.LittleEndian.Uint32(f)
}
