package pcr

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// lying is content whose Size is not the length of what Open yields.
type lying struct {
	data string
	size int64
}

func (l lying) Size() int64                  { return l.size }
func (l lying) Open() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(l.data)), nil }

// TestConcat: the parts in order (empty ones too), whatever the read size;
// an empty read reads nothing; a part longer or shorter than its size is
// an error naming it, returned again on every later read; no read after
// Close.
func TestConcat(t *testing.T) {
	c := concat{bytesContent("ab"), bytesContent(nil), bytesContent("cde"), pad4(5), bytesContent("f")}
	if c.Size() != 9 {
		t.Errorf("size %d, want 9", c.Size())
	}
	for _, size := range []int{1, 2, 3, 64} {
		rc, _ := c.Open()
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
		if out.String() != "abcde\x00\x00\x00f" {
			t.Errorf("reads of %d: %q", size, out.String())
		}
		if _, err := rc.Read(buf); err == nil {
			t.Errorf("a read after Close succeeded")
		}
	}
	for _, bad := range []struct {
		c    concat
		want string
	}{
		{concat{bytesContent("ab"), lying{"cdX", 2}, bytesContent("ef")}, "part 1: longer than its size"},
		{concat{bytesContent("ab"), lying{"c", 2}, bytesContent("ef")}, "part 1: 1 bytes short of its size"},
	} {
		rc, _ := bad.c.Open()
		_, err := io.ReadAll(rc)
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("error %v, want %q", err, bad.want)
		}
		if _, again := rc.Read(make([]byte, 8)); again != err {
			t.Errorf("the next read: %v, want the first error again", again)
		}
		if _, _, err := newMultiHasher([]Bank{SHA256}).sum(bad.c); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("hashing: %v, want %q", err, bad.want)
		}
	}
}
