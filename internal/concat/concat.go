// Package concat streams the concatenation of parts whose sizes are known
// before they are read: several initrds joined into one section (uki), the
// stub's cpio archives and the initrd it hands to the kernel (eventlog). Each
// part is opened only when the reader reaches it and closed when it is
// done, so nothing is held in memory. It is shared by uki and eventlog
// (whose tests build UKIs with uki).
package concat

import (
	"errors"
	"fmt"
	"io"
)

// Part is content whose length is known before it is read.
type Part interface {
	Open() (io.ReadCloser, error)
	Size() int64
}

// Parts is the concatenation of its Parts, each followed by zero bytes up
// to a multiple of Align bytes (0 or 1: no padding).
type Parts struct {
	Parts []Part
	Align int64
}

// padded is n rounded up to a multiple of c.Align.
func (c Parts) padded(n int64) int64 {
	if c.Align <= 1 {
		return n
	}
	return (n + c.Align - 1) / c.Align * c.Align
}

// Size is the length of the concatenation, padding included.
func (c Parts) Size() int64 {
	var n int64
	for _, p := range c.Parts {
		n += c.padded(p.Size())
	}
	return n
}

// Open returns a reader of the parts in order, with their padding. Each
// part must yield exactly its Size, or reading fails with an error naming
// the part; the first error is kept and every later Read returns it.
func (c Parts) Open() (io.ReadCloser, error) { return &reader{c: c}, nil }

type reader struct {
	c      Parts
	index  int // of the current part
	cur    io.ReadCloser
	left   int64 // bytes the current part still owes
	pad    int64 // zero bytes still to emit after it
	err    error
	closed bool
}

func (r *reader) Read(p []byte) (int, error) {
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

func (r *reader) read(p []byte) (int, error) {
	for {
		if r.pad > 0 {
			n := min(int64(len(p)), r.pad)
			clear(p[:n])
			r.pad -= n
			return int(n), nil
		}
		if r.cur == nil {
			if r.index == len(r.c.Parts) {
				return 0, io.EOF
			}
			part := r.c.Parts[r.index]
			rc, err := part.Open()
			if err != nil {
				return 0, fmt.Errorf("part %d: %w", r.index, err)
			}
			r.cur, r.left = rc, part.Size()
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
		size := r.c.Parts[r.index].Size()
		r.pad = r.c.padded(size) - size
		r.index++
	}
}

func (r *reader) Close() error {
	r.closed = true
	if r.cur == nil {
		return nil
	}
	err := r.cur.Close()
	r.cur = nil
	return err
}
