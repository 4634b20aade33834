package pcr

import (
	"context"
	"io"

	"github.com/ukibuild/ukibuild/internal/ctxio"
)

// MeasureContext is Measure honouring ctx: once ctx is done, reading the
// sections' data stops before the next chunk and the error wraps ctx.Err().
// Measure itself reads to the end (sections of a UKI can be hundreds of MiB).
func MeasureContext(ctx context.Context, order Order, sections []Section, banks []Bank) (*Measurement, error) {
	return Measure(order, withContext(ctx, sections), banks)
}

// PredictContext is Predict honouring ctx as MeasureContext does.
func PredictContext(ctx context.Context, order Order, sections []Section, banks []Bank, phases []string) ([]Prediction, error) {
	return Predict(order, withContext(ctx, sections), banks, phases)
}

// withContext returns sections whose contents check ctx on each read; a
// Digested content, which is not read, is kept as it is.
func withContext(ctx context.Context, sections []Section) []Section {
	if ctx.Done() == nil {
		return sections
	}
	out := make([]Section, len(sections))
	for i, s := range sections {
		if _, ok := s.Content.(Digested); !ok && s.Content != nil {
			s.Content = ctxContent{ctx, s.Content}
		}
		out[i] = s
	}
	return out
}

type ctxContent struct {
	ctx context.Context
	c   Content
}

func (c ctxContent) Open() (io.ReadCloser, error) {
	if err := c.ctx.Err(); err != nil {
		return nil, err
	}
	rc, err := c.c.Open()
	if err != nil {
		return nil, err
	}
	return ctxio.ReadCloser(c.ctx, rc), nil
}
