package eventlog

import (
	"io"
	"strings"
	"testing"

	"github.com/ukibuild/ukibuild/pcr"
)

// lying is content whose Size is not the length of what Open yields.
type lying struct {
	data string
	size int64
}

func (l lying) Size() int64                  { return l.size }
func (l lying) Open() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(l.data)), nil }

// TestJoinedHashing: hashing a concatenation with a piece longer or
// shorter than its size fails with an error naming the piece
// (internal/concat tests the reader itself).
func TestJoinedHashing(t *testing.T) {
	for _, bad := range []struct {
		pieces []pcr.Sized
		want   string
	}{
		{[]pcr.Sized{pcr.Bytes([]byte("ab")), lying{"cdX", 2}, pcr.Bytes([]byte("ef"))}, "part 1: longer than its size"},
		{[]pcr.Sized{pcr.Bytes([]byte("ab")), lying{"c", 2}, pcr.Bytes([]byte("ef"))}, "part 1: 1 bytes short of its size"},
	} {
		if _, _, err := pcr.HashContent(joined(4, bad.pieces), []pcr.Bank{pcr.SHA256}); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("hashing: %v, want %q", err, bad.want)
		}
	}
}
