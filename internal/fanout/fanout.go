// Package fanout copies a stream to several writers at once, each in its own
// goroutine, so that the digests a build needs (PCR banks, Authenticode) and
// the output file are fed from one read of every input byte and run in
// parallel across cores. Memory is a fixed number of buffers, whatever the
// size of the stream.
package fanout

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
)

// DefaultBufSize and DefaultBuffers bound the memory of Copy: at most
// DefaultBuffers buffers of DefaultBufSize bytes are in flight.
const (
	DefaultBufSize = 256 << 10
	DefaultBuffers = 8
)

type chunk struct {
	b       []byte
	refs    atomic.Int32    // writers still to see b; the last one frees it
	barrier *sync.WaitGroup // non-nil: no data, each writer calls Done
}

// Copy reads r until EOF and writes every byte to each writer, in order.
// Each writer runs in its own goroutine; a writer that falls behind holds
// back the reader once all buffers are in flight. It returns the number of
// bytes read and the first error of the reader or of any writer (a short
// write is an error); after an error the remaining data is drained so that
// no goroutine is left behind.
func Copy(r io.Reader, ws ...io.Writer) (int64, error) {
	return CopyBuffer(r, DefaultBufSize, DefaultBuffers, ws...)
}

// CopyBuffer is Copy with nbuf buffers of bufSize bytes.
func CopyBuffer(r io.Reader, bufSize, nbuf int, ws ...io.Writer) (int64, error) {
	if len(ws) == 1 {
		buf := make([]byte, bufSize)
		return io.CopyBuffer(onlyWriter{ws[0]}, onlyReader{r}, buf)
	}
	w := NewWriter(bufSize, nbuf, ws...)
	n, rerr := w.ReadFrom(r)
	werr := w.Close()
	if rerr != nil && werr != nil && errors.Is(werr, rerr) {
		return n, werr // ReadFrom stopped on a writer's error
	}
	return n, errors.Join(rerr, werr)
}

// Writer is the push side of the fan-out: what is written to it goes to
// every writer, in order, each in its own goroutine. Data is dispatched in
// buffers of the Writer's buffer size; Flush dispatches a partial one and
// Sync waits until every writer has consumed everything written so far, so
// that a producer can use the writers' state (a digest of the bytes so
// far) in the middle of the stream. Close must be called once.
type Writer struct {
	bufSize int
	free    chan *chunk
	queues  []chan *chunk
	done    sync.WaitGroup
	cur     *chunk
	total   int64

	mu     sync.Mutex
	errs   []error // per writer; guarded by mu
	failed atomic.Bool
	closed bool
}

// NewWriter starts one goroutine per writer with nbuf buffers of bufSize
// bytes shared between them.
func NewWriter(bufSize, nbuf int, ws ...io.Writer) *Writer {
	w := &Writer{
		bufSize: bufSize,
		free:    make(chan *chunk, nbuf),
		queues:  make([]chan *chunk, len(ws)),
		errs:    make([]error, len(ws)),
	}
	for range nbuf {
		w.free <- &chunk{b: make([]byte, 0, bufSize)}
	}
	for i, dst := range ws {
		// The queue holds every buffer plus barriers: a writer never
		// blocks the producer on a send.
		q := make(chan *chunk, nbuf+1)
		w.queues[i] = q
		w.done.Add(1)
		go func() {
			defer w.done.Done()
			for c := range q {
				if c.barrier != nil {
					c.barrier.Done()
					continue
				}
				if !w.failed.Load() || w.err(i) == nil {
					n, err := dst.Write(c.b)
					if err == nil && n != len(c.b) {
						err = io.ErrShortWrite
					}
					if err != nil {
						w.setErr(i, err)
					}
				}
				if c.refs.Add(-1) == 0 {
					c.b = c.b[:0]
					w.free <- c
				}
			}
		}()
	}
	return w
}

func (w *Writer) err(i int) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.errs[i]
}

func (w *Writer) setErr(i int, err error) {
	w.mu.Lock()
	w.errs[i] = err
	w.mu.Unlock()
	w.failed.Store(true)
}

// Err returns the first error of any writer so far.
func (w *Writer) Err() error {
	if !w.failed.Load() {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, err := range w.errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// Written is the number of bytes written to w so far.
func (w *Writer) Written() int64 { return w.total }

// buffer returns the chunk being filled, taking a free one if needed.
func (w *Writer) buffer() *chunk {
	if w.cur == nil {
		w.cur = <-w.free
	}
	return w.cur
}

// Write copies p into the buffers, dispatching each one that fills up. It
// fails with the first writer error once one occurred.
func (w *Writer) Write(p []byte) (int, error) {
	if err := w.Err(); err != nil {
		return 0, err
	}
	n := 0
	for len(p) > 0 {
		c := w.buffer()
		k := copy(c.b[len(c.b):w.bufSize], p)
		c.b = c.b[:len(c.b)+k]
		p, n = p[k:], n+k
		w.total += int64(k)
		if len(c.b) == w.bufSize {
			w.dispatch()
		}
	}
	return n, nil
}

// ReadFrom reads r until EOF directly into the buffers (no extra copy).
func (w *Writer) ReadFrom(r io.Reader) (int64, error) {
	var n int64
	for {
		if err := w.Err(); err != nil {
			return n, err
		}
		c := w.buffer()
		k, err := io.ReadFull(r, c.b[len(c.b):w.bufSize])
		c.b = c.b[:len(c.b)+k]
		n += int64(k)
		w.total += int64(k)
		if len(c.b) == w.bufSize {
			w.dispatch()
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// dispatch sends the current buffer to every writer.
func (w *Writer) dispatch() {
	c := w.cur
	w.cur = nil
	if len(c.b) == 0 {
		w.free <- c
		return
	}
	c.refs.Store(int32(len(w.queues)))
	for _, q := range w.queues {
		q <- c
	}
}

// Flush dispatches the buffered bytes.
func (w *Writer) Flush() error {
	if w.cur != nil {
		w.dispatch()
	}
	return w.Err()
}

// Sync flushes and waits until every writer has consumed all the bytes
// written so far; it returns the first writer error.
func (w *Writer) Sync() error {
	w.Flush()
	var wg sync.WaitGroup
	wg.Add(len(w.queues))
	b := &chunk{barrier: &wg}
	for _, q := range w.queues {
		q <- b
	}
	wg.Wait()
	return w.Err()
}

// Close flushes, waits for every writer to finish and returns the first
// writer error. The writers themselves are not closed.
func (w *Writer) Close() error {
	if w.closed {
		return errors.New("fanout: Writer closed twice")
	}
	w.closed = true
	w.Flush()
	for _, q := range w.queues {
		close(q)
	}
	w.done.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	return errors.Join(w.errs...)
}

// onlyWriter and onlyReader hide ReadFrom/WriteTo so that io.CopyBuffer
// uses the given buffer.
type onlyWriter struct{ io.Writer }
type onlyReader struct{ io.Reader }
