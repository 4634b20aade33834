package pcr

import (
	"bytes"
	"fmt"
	"hash"
	"io"
	"slices"
	"sync"
)

// Content is the data of one section, opened each time it is measured and
// streamed. uki.Content satisfies it. If it also has a Size() int64 method,
// the number of bytes read must equal it. A Content that also implements
// Digested is not read at all.
type Content interface {
	Open() (io.ReadCloser, error)
}

// Section is one UKI section to measure: Name is the PE section name
// (".linux"); see SectionForOption for systemd-measure's option names.
type Section struct {
	Name    string
	Content Content
}

// Sized is content whose length is known before it is read, so that it can
// be placed in a cpio archive or an initrd without being held in memory:
// Bytes, and the uki package's contents (sections, files), are.
type Sized interface {
	Content
	Size() int64
}

// Digested is a Content whose digests were computed elsewhere (while the
// data was written to a file, say): MeasuredSections and Measure use them
// instead of reading the data.
type Digested interface {
	Content
	// Digests returns the data's digest in each of banks, in that order,
	// and the data's length in bytes.
	Digests(banks []Bank) (digests [][]byte, n int64, err error)
}

// Bytes returns content held in memory.
func Bytes(b []byte) Sized { return bytesContent(b) }

type bytesContent []byte

func (b bytesContent) Open() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
func (b bytesContent) Size() int64                  { return int64(len(b)) }

// Value is a PCR value in one bank.
type Value struct {
	Bank   Bank
	Digest []byte
}

// Prediction is the value PCR 11 has in each bank once the stub measured the
// UKI and the words of Phase were measured after it.
type Prediction struct {
	Phase Phase
	// Values has one entry per bank, in systemd's bank order (sha1, sha256,
	// sha384, sha512).
	Values []Value
}

// Value returns the predicted digest in bank b.
func (p Prediction) Value(b Bank) ([]byte, bool) {
	for _, v := range p.Values {
		if v.Bank.Name == b.Name {
			return v.Digest, true
		}
	}
	return nil, false
}

// Measurement is PCR 11 right after systemd-stub measured a UKI's sections,
// before any boot phase: one value per bank.
type Measurement struct {
	Values []Value
}

// NormalizeBanks returns the banks systemd-measure uses for --bank= options
// naming banks: none means all four; otherwise sorted by name and without
// duplicates (strv_sort and strv_uniq on OpenSSL's names SHA1, SHA256,
// SHA384, SHA512, which sort as AllBanks does).
func NormalizeBanks(banks []Bank) []Bank {
	if len(banks) == 0 {
		return AllBanks()
	}
	out := slices.Clone(banks)
	slices.SortFunc(out, func(a, b Bank) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return slices.CompactFunc(out, func(a, b Bank) bool { return a.Name == b.Name })
}

// Measure computes PCR 11 after the stub of the given order measured
// sections, in each of banks (in the given order; see NormalizeBanks for
// systemd-measure's): starting from zero, for each section of the order's
// list that is among sections and not empty, extend with H(name + NUL),
// then with H(data).
//
// Sections the order does not measure (.pcrsig, sections of newer stubs,
// anything else) are ignored: they are in the UKI but this stub does not
// measure them. Each content is read once; every bank hashes the same
// buffer, the banks in parallel. A section named twice is an error.
//
// For a UKI with several profiles (systemd 257 and newer), pass the sections
// the stub uses when it boots the profile of interest: those before the
// first .profile section, replaced by the ones of that profile that have the
// same name (src/boot/stub.c, find_sections); ukify signs each profile this
// way. A UKI may hold several .dtbauto sections, of which the stub measures
// the one it picks for the machine: predict once for each (ukify does).
func Measure(order Order, sections []Section, banks []Bank) (*Measurement, error) {
	measured, err := MeasuredSections(order, sections, banks)
	if err != nil {
		return nil, err
	}
	m := &Measurement{Values: make([]Value, len(banks))}
	for i, b := range banks {
		v := b.Zero()
		h := b.Hash.New()
		for _, ms := range measured {
			h.Reset()
			h.Write([]byte(ms.Name))
			h.Write([]byte{0})
			v = b.Extend(v, h.Sum(nil))
			v = b.Extend(v, ms.Digests[i].Digest)
		}
		m.Values[i] = Value{Bank: b, Digest: v}
	}
	return m, nil
}

// MeasuredSection is a section systemd-stub measures into PCR 11: its name,
// the size of its data and the data's digest in each bank.
type MeasuredSection struct {
	Name    string
	Size    int64
	Digests []Value
}

// MeasuredSections returns the sections systemd-stub measures into PCR 11
// (see Measure for which and in what order), with their digests in banks
// (in that order): for each, Measure extends PCR 11 with H(name + NUL),
// then with the data's digest. Each content is read once, the banks hashing
// it in parallel; a Digested content gives its own digests. Empty sections
// are left out, as the stub skips them.
func MeasuredSections(order Order, sections []Section, banks []Bank) ([]MeasuredSection, error) {
	if len(banks) == 0 {
		return nil, fmt.Errorf("measure: no PCR bank given")
	}
	byName := make(map[string]Content, len(sections))
	for _, s := range sections {
		if s.Name == "" {
			return nil, fmt.Errorf("measure: a section has no name")
		}
		if _, dup := byName[s.Name]; dup {
			return nil, fmt.Errorf("measure: section %s is given twice", s.Name)
		}
		if s.Content == nil {
			return nil, fmt.Errorf("measure: section %s has no content", s.Name)
		}
		byName[s.Name] = s.Content
	}
	for _, b := range banks {
		if b.Hash == 0 || !b.Hash.Available() {
			return nil, fmt.Errorf("measure: PCR bank %q has no usable hash", b.Name)
		}
	}
	var out []MeasuredSection
	h := newMultiHasher(banks)
	for _, name := range order.Sections {
		c, ok := byName[name]
		if !ok {
			continue
		}
		var digests [][]byte
		var n int64
		var err error
		if d, ok := c.(Digested); ok {
			digests, n, err = d.Digests(banks)
			if err == nil && len(digests) != len(banks) {
				err = fmt.Errorf("%d digests given for %d banks", len(digests), len(banks))
			}
		} else {
			digests, n, err = h.sum(c)
		}
		if err != nil {
			return nil, fmt.Errorf("measure: section %s: %w", name, err)
		}
		if n == 0 { // the stub skips empty sections, systemd-measure empty files
			continue
		}
		ms := MeasuredSection{Name: name, Size: n, Digests: make([]Value, len(banks))}
		for i, b := range banks {
			ms.Digests[i] = Value{Bank: b, Digest: digests[i]}
		}
		out = append(out, ms)
	}
	return out, nil
}

// HashContent returns the digest of c in each of banks, in that order, and
// its length in bytes: c is read once, the banks hashing it in parallel. A
// Sized content must have the size it says.
func HashContent(c Content, banks []Bank) ([]Value, int64, error) {
	digests, n, err := newMultiHasher(banks).sum(c)
	if err != nil {
		return nil, n, err
	}
	out := make([]Value, len(banks))
	for i, b := range banks {
		out[i] = Value{Bank: b, Digest: digests[i]}
	}
	return out, n, nil
}

// Phase returns PCR 11 after the words of p were measured on top of m.
func (m *Measurement) Phase(p Phase) Prediction {
	pred := Prediction{Phase: p, Values: make([]Value, len(m.Values))}
	for i, v := range m.Values {
		pred.Values[i] = Value{Bank: v.Bank, Digest: p.Extend(v.Bank, v.Digest)}
	}
	return pred
}

// Predict does what "systemd-measure calculate" does: banks are normalized
// (NormalizeBanks), phases parsed (ParsePhases: none means DefaultPhases),
// the sections measured by order (Measure), and one Prediction made per
// phase, in that order.
func Predict(order Order, sections []Section, banks []Bank, phases []string) ([]Prediction, error) {
	ps, err := ParsePhases(phases)
	if err != nil {
		return nil, fmt.Errorf("predict: %w", err)
	}
	m, err := Measure(order, sections, NormalizeBanks(banks))
	if err != nil {
		return nil, fmt.Errorf("predict: %w", err)
	}
	out := make([]Prediction, len(ps))
	for i, p := range ps {
		out[i] = m.Phase(p)
	}
	return out, nil
}

// chunkSize is the read size; smallChunk is the size below which the banks
// hash a chunk one after the other rather than in parallel.
const (
	chunkSize  = 1 << 20
	smallChunk = 64 << 10
)

// multiHasher hashes a content once per bank from one read pass. It reads
// the next chunk while the banks hash the previous one.
type multiHasher struct {
	banks []Bank
	bufs  [2][]byte
}

func newMultiHasher(banks []Bank) *multiHasher {
	return &multiHasher{banks: banks}
}

func (m *multiHasher) sum(c Content) (digests [][]byte, n int64, err error) {
	rc, err := c.Open()
	if err != nil {
		return nil, 0, err
	}
	closed := false
	defer func() {
		if !closed {
			rc.Close()
		}
	}()
	hs := make([]hash.Hash, len(m.banks))
	for i, b := range m.banks {
		hs[i] = b.Hash.New()
	}
	var wg sync.WaitGroup
	cur := 0
	for {
		if m.bufs[cur] == nil {
			m.bufs[cur] = make([]byte, chunkSize)
		}
		k, rerr := io.ReadFull(rc, m.bufs[cur])
		wg.Wait() // the previous chunk is hashed
		if k > 0 {
			chunk := m.bufs[cur][:k]
			if len(hs) == 1 || k < smallChunk {
				for _, h := range hs {
					h.Write(chunk)
				}
			} else {
				for _, h := range hs {
					wg.Go(func() { h.Write(chunk) })
				}
			}
			n += int64(k)
			cur ^= 1
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			wg.Wait()
			return nil, n, rerr
		}
	}
	wg.Wait()
	if s, ok := c.(Sized); ok && s.Size() != n {
		return nil, n, fmt.Errorf("read %d bytes, but its size is %d (did it change?)", n, s.Size())
	}
	closed = true
	if err := rc.Close(); err != nil {
		return nil, n, err
	}
	digests = make([][]byte, len(hs))
	for i, h := range hs {
		digests[i] = h.Sum(nil)
	}
	return digests, n, nil
}
