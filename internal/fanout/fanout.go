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
	b    []byte
	refs atomic.Int32 // writers still to see b; the last one frees it
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
	free := make(chan *chunk, nbuf)
	for range nbuf {
		free <- &chunk{b: make([]byte, bufSize)}
	}
	queues := make([]chan *chunk, len(ws))
	errs := make([]error, len(ws))
	var done sync.WaitGroup
	for i, w := range ws {
		queues[i] = make(chan *chunk, nbuf)
		done.Add(1)
		go func() {
			defer done.Done()
			for c := range queues[i] {
				if errs[i] == nil {
					n, err := w.Write(c.b)
					if err == nil && n != len(c.b) {
						err = io.ErrShortWrite
					}
					errs[i] = err
				}
				if c.refs.Add(-1) == 0 {
					free <- c
				}
			}
		}()
	}
	var total int64
	var rerr error
	for {
		c := <-free
		c.b = c.b[:cap(c.b)]
		n, err := io.ReadFull(r, c.b)
		if n > 0 {
			c.b = c.b[:n]
			total += int64(n)
			c.refs.Store(int32(len(ws)))
			for _, q := range queues {
				q <- c
			}
		} else {
			free <- c
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			rerr = err
			break
		}
	}
	for _, q := range queues {
		close(q)
	}
	done.Wait()
	return total, errors.Join(append([]error{rerr}, errs...)...)
}

// onlyWriter and onlyReader hide ReadFrom/WriteTo so that io.CopyBuffer
// uses the given buffer.
type onlyWriter struct{ io.Writer }
type onlyReader struct{ io.Reader }
