package kernel

import (
	"errors"
	"strings"
	"testing"
)

func TestDefaultLimit(t *testing.T) {
	for _, c := range []struct{ in, want int64 }{
		{0, MinLimit},
		{1 << 20, MinLimit},
		{MinLimit / MaxRatio, MinLimit},
		{10 << 20, 10 << 20 * MaxRatio},
		{DefaultLimit / MaxRatio, DefaultLimit},
		{DefaultLimit, DefaultLimit},
		{1 << 40, DefaultLimit},
	} {
		if got := (Options{}).limit(c.in); got != c.want {
			t.Errorf("default limit for %d input bytes = %d, want %d", c.in, got, c.want)
		}
	}
	if got := (Options{Limit: 5}).limit(1 << 30); got != 5 {
		t.Errorf("explicit limit = %d", got)
	}
	if got := (Options{Limit: -1}).limit(1 << 30); got != -1 {
		t.Errorf("no limit = %d", got)
	}
}

// TestDecompressionBomb: a small stream that expands far beyond MaxRatio
// stops at MinLimit with ErrLimit, without the caller setting a limit.
func TestDecompressionBomb(t *testing.T) {
	bomb := encZstd(t, make([]byte, MinLimit+1<<20))
	if int64(len(bomb))*MaxRatio >= MinLimit {
		t.Fatalf("the test bomb is %d bytes, not a bomb", len(bomb))
	}
	rc, err := Decompress(strings.NewReader(string(bomb)), int64(len(bomb)), FormatZstd)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var n int64
	buf := make([]byte, 1<<20)
	for {
		k, err := rc.Read(buf)
		n += int64(k)
		if err != nil {
			if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "decompression bomb") {
				t.Fatalf("after %d bytes: %v, want ErrLimit", n, err)
			}
			break
		}
	}
	if n != MinLimit {
		t.Errorf("read %d bytes before the limit, want %d", n, MinLimit)
	}
}
