package pcr

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Sized is content whose length is known before it is read, so that it can
// be placed in a cpio archive or an initrd without being held in memory:
// Bytes, and the uki package's contents (sections, files), are.
type Sized interface {
	Content
	Size() int64
}

// concat is the concatenation of its parts, each opened only when the
// reader reaches it: the stub's cpio archives and initrd as a stream.
type concat []Sized

// Size is the sum of the parts' sizes.
func (c concat) Size() int64 {
	var n int64
	for _, p := range c {
		n += p.Size()
	}
	return n
}

// Open returns a reader of the parts in order; each part must yield
// exactly its Size.
func (c concat) Open() (io.ReadCloser, error) { return &concatReader{parts: c}, nil }

type concatReader struct {
	parts []Sized
	cur   io.ReadCloser
	left  int64 // bytes the current part still owes
}

func (r *concatReader) Read(p []byte) (int, error) {
	for {
		if r.cur == nil {
			if len(r.parts) == 0 {
				return 0, io.EOF
			}
			rc, err := r.parts[0].Open()
			if err != nil {
				return 0, err
			}
			r.cur, r.left = rc, r.parts[0].Size()
			r.parts = r.parts[1:]
		}
		if r.left > 0 {
			if int64(len(p)) > r.left {
				p = p[:r.left]
			}
			n, err := r.cur.Read(p)
			r.left -= int64(n)
			if err == io.EOF && r.left > 0 {
				err = io.ErrUnexpectedEOF
			}
			if n > 0 || (err != nil && err != io.EOF) {
				if err == io.EOF {
					err = nil
				}
				return n, err
			}
			continue
		}
		// The part is done; it must not have more.
		var one [1]byte
		if n, _ := r.cur.Read(one[:]); n > 0 {
			return 0, errors.New("a part is longer than its size (did it change?)")
		}
		err := r.cur.Close()
		r.cur = nil
		if err != nil {
			return 0, err
		}
	}
}

func (r *concatReader) Close() error {
	if r.cur == nil {
		return nil
	}
	err := r.cur.Close()
	r.cur = nil
	return err
}

// readAll returns c's bytes, for the APIs that return them whole.
func readAll(c Content) ([]byte, error) {
	if b, ok := c.(bytesContent); ok {
		return b, nil
	}
	rc, err := c.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, rc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// pad4 returns the zero bytes that pad n to a multiple of 4.
func pad4(n int64) Sized { return bytesContent(make([]byte, (4-n%4)%4)) }

// dataEvent is an event whose digest is H(c) in each bank, c read once
// and hashed in all banks in parallel (multiHasher).
func dataEvent(pcr int, t EventType, desc string, c Content, banks []Bank) (Event, error) {
	ev := Event{PCR: pcr, Type: t, Description: desc, Digests: make([]Value, len(banks))}
	digests, _, err := newMultiHasher(banks).sum(c)
	if err != nil {
		return ev, fmt.Errorf("%s: %w", desc, err)
	}
	for i, b := range banks {
		ev.Digests[i] = Value{Bank: b, Digest: digests[i]}
	}
	return ev, nil
}
