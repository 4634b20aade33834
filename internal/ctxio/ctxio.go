// Package ctxio makes reads and writes fail with the context's error once it
// is done, so that the long streaming operations of the public packages
// (building, signing and measuring images of hundreds of MiB) honour
// cancellation between chunks: each Read, ReadAt or Write checks the context
// before it runs. A context that can never be done (context.Background)
// gets the reader or writer itself back, at no cost.
package ctxio

import (
	"context"
	"io"
)

// Reader returns r, checking ctx before each Read.
func Reader(ctx context.Context, r io.Reader) io.Reader {
	if ctx.Done() == nil {
		return r
	}
	return &reader{ctx, r}
}

// ReadCloser returns rc, checking ctx before each Read.
func ReadCloser(ctx context.Context, rc io.ReadCloser) io.ReadCloser {
	if ctx.Done() == nil {
		return rc
	}
	return &readCloser{reader{ctx, rc}, rc}
}

// ReaderAt returns r, checking ctx before each ReadAt.
func ReaderAt(ctx context.Context, r io.ReaderAt) io.ReaderAt {
	if ctx.Done() == nil {
		return r
	}
	return &readerAt{ctx, r}
}

// Writer returns w, checking ctx before each Write.
func Writer(ctx context.Context, w io.Writer) io.Writer {
	if ctx.Done() == nil {
		return w
	}
	return &writer{ctx, w}
}

type reader struct {
	ctx context.Context
	r   io.Reader
}

func (r *reader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}

type readCloser struct {
	reader
	c io.Closer
}

func (r *readCloser) Close() error { return r.c.Close() }

type readerAt struct {
	ctx context.Context
	r   io.ReaderAt
}

func (r *readerAt) ReadAt(p []byte, off int64) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.ReadAt(p, off)
}

type writer struct {
	ctx context.Context
	w   io.Writer
}

func (w *writer) Write(p []byte) (int, error) {
	if err := w.ctx.Err(); err != nil {
		return 0, err
	}
	return w.w.Write(p)
}
