package sign

import (
	"bytes"
	"crypto"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/ukibuild/ukibuild/internal/pe"
)

// ErrNotStreamable is returned by NewStream for images whose Authenticode
// ranges do not follow file order (sections out of PointerToRawData order,
// gaps that the trailing-data rule hashes again) or that already carry a
// certificate table; sign such images with NewRequest from a file.
var ErrNotStreamable = errors.New("the image cannot be signed while it is written")

// Stream signs an image while it is being written, so that every byte is
// read and written once: write the complete unsigned image to the output
// and, in the same order, to the Stream (io.MultiWriter, or a fan-out that
// runs both concurrently); then Finish signs the digest and appends the
// signature to the output.
type Stream struct {
	opts   Options
	size   int64
	ranges []pe.Range
	h      hash.Hash
	ck     *pe.Checksum
	ckOff  int64
	sdOff  int64
	pos    int64
	next   int // the first range not yet hashed completely
}

// NewStream prepares to sign an image of size bytes whose first bytes,
// including all its headers (SizeOfHeaders), are head. opts are those of
// NewRequest; Replace does not apply (the image must not be signed yet).
func NewStream(head []byte, size int64, opts Options) (*Stream, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	if opts.Certificate != nil {
		if err := checkCertificate(opts.Certificate); err != nil {
			return nil, err
		}
	}
	f, err := pe.Parse(bytes.NewReader(head), int64(len(head)))
	if err != nil {
		return nil, err
	}
	if int64(f.SizeOfHeaders) > int64(len(head)) {
		return nil, fmt.Errorf("NewStream: head holds %d bytes, fewer than SizeOfHeaders %d", len(head), f.SizeOfHeaders)
	}
	sdOff, ok := f.SecurityDirOffset()
	if !ok {
		return nil, &pe.FormatError{Defect: fmt.Sprintf("the optional header has %d data directories, no certificate table entry (index 4)", f.NumberOfRvaAndSizes)}
	}
	if !bytes.Equal(head[sdOff:sdOff+8], make([]byte, 8)) {
		return nil, fmt.Errorf("%w: it has a certificate table directory entry", ErrNotStreamable)
	}
	padded := int64(pe.RoundUp(uint64(size), pe.CertTableAlignment))
	ranges, err := f.AuthenticodeRanges(padded)
	if err != nil {
		return nil, err
	}
	for i := 1; i < len(ranges); i++ {
		if ranges[i].Off < ranges[i-1].End {
			return nil, fmt.Errorf("%w: its Authenticode ranges are not in file order", ErrNotStreamable)
		}
	}
	ckOff := f.ChecksumOffset()
	return &Stream{opts: opts, size: size, ranges: ranges, h: opts.hash().New(), ck: pe.NewChecksum(ckOff), ckOff: ckOff, sdOff: sdOff}, nil
}

// Write feeds the next bytes of the image; it fails only when more than
// size bytes are written.
func (s *Stream) Write(p []byte) (int, error) {
	if s.pos+int64(len(p)) > s.size {
		return 0, fmt.Errorf("sign: %d bytes written to a stream for a %d-byte image", s.pos+int64(len(p)), s.size)
	}
	s.ck.Write(p)
	s.hashUpTo(p, s.pos+int64(len(p)))
	return len(p), nil
}

// hashUpTo hashes the parts of p (which starts at s.pos) inside the ranges,
// up to end, and advances s.pos to end.
func (s *Stream) hashUpTo(p []byte, end int64) {
	for s.next < len(s.ranges) {
		r := s.ranges[s.next]
		if r.Off >= end {
			break
		}
		lo, hi := max(r.Off, s.pos), min(r.End, end)
		if hi > lo {
			s.h.Write(p[lo-s.pos : hi-s.pos])
		}
		if r.End > end {
			break
		}
		s.next++
	}
	s.pos = end
}

// Finish signs the image with signer once all of it was written, then
// writes, at the end of dst (which holds the image as written), the zero
// padding to 8 bytes and the certificate table, and patches the certificate
// table directory entry and the checksum in its headers. It returns the
// size of the signed image.
func (s *Stream) Finish(dst io.WriterAt, signer crypto.Signer) (int64, error) {
	if s.pos != s.size {
		return 0, fmt.Errorf("sign: %d of %d image bytes were written before Finish", s.pos, s.size)
	}
	padded := int64(pe.RoundUp(uint64(s.size), pe.CertTableAlignment))
	pad := make([]byte, padded-s.size)
	s.ck.Write(pad)
	s.hashUpTo(pad, padded)
	req, err := newRequest(s.opts, s.h.Sum(nil))
	if err != nil {
		return 0, err
	}
	p7, err := req.Sign(signer)
	if err != nil {
		return 0, err
	}
	entry := certEntry(p7, s.opts.Profile)
	total := padded + int64(len(entry))
	if total > 0xffffffff {
		return 0, fmt.Errorf("the signed image would be %d bytes, beyond the 4 GiB the certificate table directory entry can address", total)
	}
	s.ck.Write(entry)
	var dir [8]byte
	binary.LittleEndian.PutUint32(dir[0:], uint32(padded))
	binary.LittleEndian.PutUint32(dir[4:], uint32(len(entry)))
	s.ck.AddAt(s.sdOff, dir[:])
	var sum [4]byte
	binary.LittleEndian.PutUint32(sum[:], s.ck.Sum())
	for _, w := range []struct {
		off int64
		b   []byte
	}{{s.size, append(pad, entry...)}, {s.sdOff, dir[:]}, {s.ckOff, sum[:]}} {
		if _, err := dst.WriteAt(w.b, w.off); err != nil {
			return 0, fmt.Errorf("writing the signature: %w", err)
		}
	}
	return total, nil
}
