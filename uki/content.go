package uki

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/ukibuild/ukibuild/internal/concat"
)

// Content is the data of one section. It is opened each time it is needed
// (once to check it, once to write it, later once per digest pass) and is
// streamed: a file is never loaded whole into memory.
type Content interface {
	// Size is the exact number of bytes Open yields.
	Size() int64
	// Open returns a reader positioned at the first byte.
	Open() (io.ReadCloser, error)
	// String describes where the data comes from, for error messages.
	String() string
}

// Bytes returns content held in memory. what describes it in messages.
func Bytes(what string, b []byte) Content { return &bytesContent{what: what, b: b} }

// Text returns the UTF-8 bytes of s as content.
func Text(what, s string) Content { return &bytesContent{what: what, b: []byte(s)} }

type bytesContent struct {
	what string
	b    []byte
}

func (c *bytesContent) Size() int64 { return int64(len(c.b)) }
func (c *bytesContent) Open() (io.ReadCloser, error) {
	return readerAtCloser{bytes.NewReader(c.b)}, nil
}
func (c *bytesContent) String() string { return c.what }

type readerAtCloser struct{ *bytes.Reader }

func (readerAtCloser) Close() error { return nil }

// File returns the content of the regular file at path. The file is checked
// now (it must exist, be readable and not be a directory); its size is taken
// now and verified again when it is read.
func File(path string) (Content, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	return &fileContent{path: path, size: st.Size()}, nil
}

type fileContent struct {
	path string
	size int64
}

func (c *fileContent) Size() int64                  { return c.size }
func (c *fileContent) String() string               { return c.path }
func (c *fileContent) Open() (io.ReadCloser, error) { return openChecked(c.path, c.size) }

// openChecked opens the file at path, which must still be size bytes long
// (an input that changes while a UKI is built is an error, not a mix).
func openChecked(path string, size int64) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if st.Size() != size {
		f.Close()
		return nil, fmt.Errorf("%s: size changed from %d to %d bytes while building", path, size, st.Size())
	}
	return f, nil
}

// Path returns the file behind c, if c is a file.
func Path(c Content) (string, bool) {
	switch f := c.(type) {
	case *fileContent:
		return f.path, true
	case *namedContent:
		return Path(f.Content)
	}
	return "", false
}

// Concat returns the concatenation of parts, each followed by zero bytes up to
// a multiple of align bytes. ukify joins several initrds this way (align 4);
// a single initrd is used as it is, unpadded (see JoinInitrds). It is read
// as a stream (internal/concat); a part that does not yield exactly its
// size is an error.
func Concat(what string, align int64, parts ...Content) Content {
	c := &concatContent{what: what, Parts: concat.Parts{Align: align, Parts: make([]concat.Part, len(parts))}}
	for i, p := range parts {
		c.Parts.Parts[i] = p
	}
	return c
}

type concatContent struct {
	what string
	concat.Parts
}

func (c *concatContent) String() string { return c.what }

// JoinInitrds joins initrds as ukify 262 does (join_initrds): none gives nil,
// one is used as it is, several are concatenated, each zero-padded to a
// multiple of 4 bytes.
func JoinInitrds(initrds []Content) Content {
	switch len(initrds) {
	case 0:
		return nil
	case 1:
		return initrds[0]
	}
	what := "initrds"
	for i, c := range initrds {
		if i == 0 {
			what += " " + c.String()
		} else {
			what += ", " + c.String()
		}
	}
	return Concat(what, 4, initrds...)
}

// copyExactly copies c to w and checks that exactly c.Size() bytes came.
func copyExactly(w io.Writer, c Content, buf []byte) error {
	rc, err := c.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	n, err := io.CopyBuffer(w, io.LimitReader(rc, c.Size()), buf)
	if err != nil {
		return fmt.Errorf("%s: %w", c, err)
	}
	if n != c.Size() {
		return fmt.Errorf("%s: got %d bytes, expected %d (file changed while building?)", c, n, c.Size())
	}
	return rc.Close()
}
