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
// exactly its Size, or reading fails. The first error is kept: every later
// Read returns it.
func (c concat) Open() (io.ReadCloser, error) { return &concatReader{parts: c}, nil }

type concatReader struct {
	parts  []Sized
	index  int // of the current part in the concatenation
	cur    io.ReadCloser
	left   int64 // bytes the current part still owes
	err    error
	closed bool
}

func (r *concatReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.closed {
		return 0, errors.New("read after close")
	}
	if len(p) == 0 {
		return 0, nil
	}
	n, err := r.read(p)
	if err != nil && err != io.EOF {
		r.err = err
		if r.cur != nil {
			r.cur.Close()
			r.cur = nil
		}
	}
	return n, err
}

func (r *concatReader) read(p []byte) (int, error) {
	for {
		if r.cur == nil {
			if r.index == len(r.parts) {
				return 0, io.EOF
			}
			rc, err := r.parts[r.index].Open()
			if err != nil {
				return 0, fmt.Errorf("part %d: %w", r.index, err)
			}
			r.cur, r.left = rc, r.parts[r.index].Size()
		}
		if r.left > 0 {
			if int64(len(p)) > r.left {
				p = p[:r.left]
			}
			n, err := r.cur.Read(p)
			r.left -= int64(n)
			switch {
			case err == io.EOF && r.left > 0:
				return n, fmt.Errorf("part %d: %d bytes short of its size (did it change?)", r.index, r.left)
			case err != nil && err != io.EOF:
				return n, fmt.Errorf("part %d: %w", r.index, err)
			case n > 0:
				return n, nil
			}
			continue // (0, nil): read again
		}
		// The part is done; it must not have more.
		var one [1]byte
		n, err := io.ReadFull(r.cur, one[:])
		if n > 0 {
			return 0, fmt.Errorf("part %d: longer than its size (did it change?)", r.index)
		}
		if err != io.EOF {
			return 0, fmt.Errorf("part %d: %w", r.index, err)
		}
		err = r.cur.Close()
		r.cur = nil
		if err != nil {
			return 0, fmt.Errorf("part %d: %w", r.index, err)
		}
		r.index++
	}
}

func (r *concatReader) Close() error {
	r.closed = true
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
