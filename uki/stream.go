package uki

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"

	"github.com/ukibuild/ukibuild/internal/ctxio"
	"github.com/ukibuild/ukibuild/internal/fanout"
	"github.com/ukibuild/ukibuild/pcr"
	"github.com/ukibuild/ukibuild/pcrsig"
)

// This file folds the PCR 11 bank hashes into the pass that writes the
// image: a .pcrsig section is laid out with its final size before any
// section is read (pcrsig.PlaceholderSigner), the bank digests of the sections
// it covers are taken from the bytes as they go to the output file, and its
// content is made when the writer reaches it. Every input byte is then read
// once. When the size guessed beforehand turns out wrong (two variants with
// equal policies, which systemd-measure writes once) the write is abandoned
// and redone with the policies computed first.

// errNotStreamed makes Plan.WriteFile compute the .pcrsig sections before
// writing and write again.
var errNotStreamed = errors.New("the PCR signatures could not be made while writing")

// sectionRef is the content of Plan.Sections[index] in a PCRVariant: the
// index says whose digests to use when they were computed while writing.
type sectionRef struct {
	Content
	index int
}

// pcrSigJob is a .pcrsig section (Plan.Sections[index]) whose policies are
// signed when the image is written.
type pcrSigJob struct {
	plan     *Plan
	cfg      *Config
	index    int
	variants []PCRVariant
	size     int64
	// digests, during a streaming write, returns the bank digests of
	// Plan.Sections[i] computed from the bytes written.
	digests func(i int, banks []pcr.Bank) ([][]byte, int64, error)
	// ctx is that of the write under way (nil: none).
	ctx context.Context
}

func (j *pcrSigJob) Size() int64    { return j.size }
func (j *pcrSigJob) String() string { return "PCR signatures (.pcrsig)" }

// Open makes the section's content: from the digests of the write under
// way if there is one, else by reading the sections.
func (j *pcrSigJob) Open() (io.ReadCloser, error) {
	b, err := j.content()
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (j *pcrSigJob) content() ([]byte, error) {
	variants := j.variants
	if j.digests != nil {
		variants = make([]PCRVariant, len(j.variants))
		for k, v := range j.variants {
			v.Sections = slices.Clone(v.Sections)
			for i, s := range v.Sections {
				ref, ok := s.Content.(sectionRef)
				if !ok {
					return nil, fmt.Errorf("internal error: section %s of a PCR variant is not a plan section", s.Name)
				}
				v.Sections[i].Content = digestedRef{ref, j.digests}
			}
			variants[k] = v
		}
	}
	ctx := j.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	b, err := signPCRVariants(ctx, j.plan, variants, j.cfg)
	if err != nil {
		return nil, err
	}
	if int64(len(b)) != j.size {
		return nil, fmt.Errorf("%w: .pcrsig is %d bytes, %d were reserved", errNotStreamed, len(b), j.size)
	}
	return b, nil
}

// digestedRef is a variant section whose digests come from the write.
type digestedRef struct {
	sectionRef
	digests func(i int, banks []pcr.Bank) ([][]byte, int64, error)
}

func (d digestedRef) Digests(banks []pcr.Bank) ([][]byte, int64, error) {
	return d.digests(d.index, banks)
}

// newPCRSigJob lays out the .pcrsig of variants: its size is that of the
// document signed with placeholder signatures over distinct made-up PCR
// values (every field of the JSON has a length that depends only on the
// banks, phases and keys).
func newPCRSigJob(plan *Plan, cfg *Config, variants []PCRVariant) (*pcrSigJob, error) {
	sizing := *cfg
	sizing.PCRKeys = slices.Clone(cfg.PCRKeys)
	for i, k := range sizing.PCRKeys {
		if k.Signer == nil {
			return nil, fmt.Errorf("PCR key %d: no signing key", i+1)
		}
		s, err := pcrsig.PlaceholderSigner(k.Signer.Public())
		if err != nil {
			return nil, fmt.Errorf("PCR key %d: %w", i+1, err)
		}
		sizing.PCRKeys[i].Signer = s
	}
	fake := make([]PCRVariant, len(variants))
	seed := 0
	for k, v := range variants {
		v.Sections = slices.Clone(v.Sections)
		for i := range v.Sections {
			seed++
			v.Sections[i].Content = madeUpDigests(seed)
		}
		fake[k] = v
	}
	b, err := signPCRVariants(context.Background(), plan, fake, &sizing) // made-up digests: nothing is read
	if err != nil {
		return nil, err
	}
	return &pcrSigJob{plan: plan, cfg: cfg, variants: variants, size: int64(len(b))}, nil
}

// madeUpDigests stands for a section of one byte whose digests differ from
// every other made-up section's.
type madeUpDigests int

func (m madeUpDigests) Open() (io.ReadCloser, error) {
	return nil, errors.New("internal error: made-up section read")
}

func (m madeUpDigests) Digests(banks []pcr.Bank) ([][]byte, int64, error) {
	out := make([][]byte, len(banks))
	for i, b := range banks {
		h := b.Hash.New()
		fmt.Fprintf(h, "%d", int(m))
		out[i] = h.Sum(nil)
	}
	return out, 1, nil
}

// deferredJobs returns the plan's .pcrsig sections still to be signed
// while writing.
func (p *Plan) deferredJobs() []*pcrSigJob {
	var jobs []*pcrSigJob
	for _, s := range p.Sections {
		if j, ok := s.Content.(*pcrSigJob); ok {
			jobs = append(jobs, j)
		}
	}
	return jobs
}

// resolvePCRSigs replaces each deferred .pcrsig by its content, computed
// by reading the sections it covers.
func (p *Plan) resolvePCRSigs(ctx context.Context) error {
	for i, s := range p.Sections {
		j, ok := s.Content.(*pcrSigJob)
		if !ok {
			continue
		}
		b, err := signPCRVariants(ctx, p, j.variants, j.cfg)
		if err != nil {
			return err
		}
		p.Sections[i].Content = Bytes("PCR signatures", b)
	}
	return nil
}

// bankTap hashes, in one bank, the data of the sections the deferred
// .pcrsig sections cover, from the image bytes written in order.
type bankTap struct {
	bank   pcr.Bank
	spans  []tapSpan // in file order, not overlapping
	hashes []hash.Hash
	pos    int64
	next   int
}

type tapSpan struct {
	index int
	fileSpan
}

func (t *bankTap) Write(p []byte) (int, error) {
	start := t.pos
	end := start + int64(len(p))
	t.pos = end
	for t.next < len(t.spans) {
		s := t.spans[t.next]
		if s.off >= end {
			break
		}
		lo, hi := max(s.off, start), min(s.off+s.n, end)
		if lo < hi {
			t.hashes[t.next].Write(p[lo-start : hi-start])
		}
		if s.off+s.n > end {
			break
		}
		t.next++
	}
	return len(p), nil
}

// taps hashes the data of the sections of jobs' variants while img is
// written, one writer per bank, so that the banks run in parallel.
type taps struct {
	banks  []pcr.Bank
	byBank []*bankTap
}

func newTaps(img *Image, jobs []*pcrSigJob, banks []pcr.Bank) (*taps, error) {
	want := map[int]bool{}
	for _, j := range jobs {
		for _, v := range j.variants {
			for _, s := range v.Sections {
				ref, ok := s.Content.(sectionRef)
				if !ok {
					return nil, fmt.Errorf("internal error: section %s of a PCR variant is not a plan section", s.Name)
				}
				want[ref.index] = true
			}
		}
	}
	var spans []tapSpan
	for i := range want {
		if i >= len(img.data) {
			return nil, fmt.Errorf("internal error: section %d not in the image", i)
		}
		spans = append(spans, tapSpan{i, img.data[i]})
	}
	slices.SortFunc(spans, func(a, b tapSpan) int { return int(a.off - b.off) })
	for k := 1; k < len(spans); k++ {
		if spans[k].off < spans[k-1].off+spans[k-1].n {
			return nil, errNotStreamed // overlapping data: cannot happen for composed images
		}
	}
	t := &taps{banks: banks}
	for _, b := range banks {
		bt := &bankTap{bank: b, spans: spans, hashes: make([]hash.Hash, len(spans))}
		for k := range spans {
			bt.hashes[k] = b.Hash.New()
		}
		t.byBank = append(t.byBank, bt)
	}
	return t, nil
}

func (t *taps) writers() []io.Writer {
	ws := make([]io.Writer, len(t.byBank))
	for i, bt := range t.byBank {
		ws[i] = bt
	}
	return ws
}

// digests returns the digests of section i in banks once all its bytes were
// written (call after the fan-out's Sync).
func (t *taps) digests(i int, banks []pcr.Bank) ([][]byte, int64, error) {
	out := make([][]byte, len(banks))
	var n int64
	for k, b := range banks {
		var bt *bankTap
		for _, have := range t.byBank {
			if have.bank.Name == b.Name {
				bt = have
			}
		}
		if bt == nil {
			return nil, 0, fmt.Errorf("%w: bank %s was not hashed", errNotStreamed, b.Name)
		}
		idx := slices.IndexFunc(bt.spans, func(s tapSpan) bool { return s.index == i })
		if idx < 0 {
			return nil, 0, fmt.Errorf("%w: section %d was not hashed", errNotStreamed, i)
		}
		s := bt.spans[idx]
		if bt.pos < s.off+s.n {
			// The section lies after its .pcrsig in the file.
			return nil, 0, fmt.Errorf("%w: section %d is not written yet", errNotStreamed, i)
		}
		out[k] = bt.hashes[idx].Sum(nil)
		n = s.n
	}
	return out, n, nil
}

// writeImage writes img to w, and to each of also in parallel, signing the
// deferred .pcrsig sections of p from the bytes as they go by.
func (p *Plan) writeImage(ctx context.Context, img *Image, w io.Writer, also ...io.Writer) error {
	jobs := p.deferredJobs()
	ws := append([]io.Writer{w}, also...)
	var t *taps
	if len(jobs) > 0 {
		var err error
		t, err = newTaps(img, jobs, pcr.NormalizeBanks(jobs[0].cfg.PCRBanks))
		if err != nil {
			return err
		}
		ws = append(ws, t.writers()...)
	}
	if len(ws) == 1 {
		_, err := img.WriteTo(ctxio.Writer(ctx, w))
		return err
	}
	fw := fanout.NewWriter(fanout.DefaultBufSize, fanout.DefaultBuffers, ws...)
	for _, j := range jobs {
		j.ctx = ctx
		j.digests = func(i int, banks []pcr.Bank) ([][]byte, int64, error) {
			if err := fw.Sync(); err != nil {
				return nil, 0, err
			}
			return t.digests(i, banks)
		}
	}
	defer func() {
		for _, j := range jobs {
			j.digests, j.ctx = nil, nil
		}
	}()
	_, werr := img.WriteTo(ctxio.Writer(ctx, fw))
	cerr := fw.Close()
	if werr != nil {
		return werr
	}
	return cerr
}
