package pcr

import (
	"bytes"
	"fmt"
	"io"

	"github.com/ukibuild/ukibuild/internal/concat"
)

// Sized is content whose length is known before it is read, so that it can
// be placed in a cpio archive or an initrd without being held in memory:
// Bytes, and the uki package's contents (sections, files), are.
type Sized interface {
	Content
	Size() int64
}

// joined is the concatenation of pieces, each zero-padded to a multiple of
// align bytes (internal/concat: read as a stream, each piece exactly its
// size).
func joined(align int64, pieces []Sized) concat.Parts {
	c := concat.Parts{Align: align, Parts: make([]concat.Part, len(pieces))}
	for i, p := range pieces {
		c.Parts[i] = p
	}
	return c
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
