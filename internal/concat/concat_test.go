package concat

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// part is content whose Size may lie about what Open yields.
type part struct {
	data string
	size int64
}

func (p part) Size() int64                  { return p.size }
func (p part) Open() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(p.data)), nil }

func honest(s string) part { return part{s, int64(len(s))} }

// TestParts: the parts in order (empty ones too), each padded to Align,
// whatever the read size; an empty read reads nothing; a part longer or
// shorter than its size is an error naming it, returned again on every
// later read; no read after Close.
func TestParts(t *testing.T) {
	for _, c := range []struct {
		align int64
		want  string
	}{
		{0, "abcdef"},
		{1, "abcdef"},
		{4, "ab\x00\x00cde\x00f\x00\x00\x00"},
	} {
		ps := Parts{Parts: []Part{honest("ab"), honest(""), honest("cde"), honest("f")}, Align: c.align}
		if ps.Size() != int64(len(c.want)) {
			t.Errorf("align %d: size %d, want %d", c.align, ps.Size(), len(c.want))
		}
		for _, size := range []int{1, 2, 3, 64} {
			rc, _ := ps.Open()
			if n, err := rc.Read(nil); n != 0 || err != nil {
				t.Errorf("an empty read: %d, %v", n, err)
			}
			var out bytes.Buffer
			buf := make([]byte, size)
			for {
				n, err := rc.Read(buf)
				out.Write(buf[:n])
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			rc.Close()
			if out.String() != c.want {
				t.Errorf("align %d, reads of %d: %q, want %q", c.align, size, out.String(), c.want)
			}
			if _, err := rc.Read(buf); err == nil {
				t.Errorf("a read after Close succeeded")
			}
		}
	}
	for _, bad := range []struct {
		ps   Parts
		want string
	}{
		{Parts{Parts: []Part{honest("ab"), part{"cdX", 2}, honest("ef")}}, "part 1: longer than its size"},
		{Parts{Parts: []Part{honest("ab"), part{"c", 2}, honest("ef")}, Align: 4}, "part 1: 1 bytes short of its size"},
	} {
		rc, _ := bad.ps.Open()
		_, err := io.ReadAll(rc)
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("error %v, want %q", err, bad.want)
		}
		if _, again := rc.Read(make([]byte, 8)); again != err {
			t.Errorf("the next read: %v, want the first error again", again)
		}
	}
}
