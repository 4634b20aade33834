package eventlog

import (
	"bytes"
	"fmt"
	"io"

	"github.com/ukibuild/ukibuild/internal/concat"
	"github.com/ukibuild/ukibuild/pcr"
)

// joined is the concatenation of pieces, each zero-padded to a multiple of
// align bytes (internal/concat: read as a stream, each piece exactly its
// size).
func joined(align int64, pieces []pcr.Sized) concat.Parts {
	c := concat.Parts{Align: align, Parts: make([]concat.Part, len(pieces))}
	for i, p := range pieces {
		c.Parts[i] = p
	}
	return c
}

// readAll returns c's bytes, for the APIs that return them whole.
func readAll(c pcr.Content) ([]byte, error) {
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
// and hashed in all banks in parallel (pcr.HashContent).
func dataEvent(index int, t EventType, desc string, c pcr.Content, banks []pcr.Bank) (Event, error) {
	ev := Event{PCR: index, Type: t, Description: desc}
	digests, _, err := pcr.HashContent(c, banks)
	if err != nil {
		return ev, fmt.Errorf("%s: %w", desc, err)
	}
	ev.Digests = digests
	return ev, nil
}
