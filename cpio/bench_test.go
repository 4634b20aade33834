//go:build linux

package cpio

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ukibuild/ukibuild/internal/peakrss"
)

// benchChildDir set in the environment makes the test binary archive that
// tree (to io.Discard, compressed as benchChildCompression says) and report
// its peak RSS instead of running tests: BenchmarkTree's child process.
const (
	benchChildDir         = "UKIBUILD_CPIO_BENCH_DIR"
	benchChildCompression = "UKIBUILD_CPIO_BENCH_COMPRESSION"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(benchChildDir); dir != "" {
		c, err := ParseCompression(os.Getenv(benchChildCompression))
		if err == nil {
			err = Write(io.Discard, dir, Options{Compression: c})
		}
		if err == nil {
			err = peakrss.Report(os.Stdout)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// benchTree makes dirs directories of files files each, every file a sparse
// file of size bytes; with outside, each file also gets a hard link outside
// the tree (so that every file is held back to the end).
func benchTree(b *testing.B, dirs, files int, size int64, outside bool) string {
	b.Helper()
	base := b.TempDir()
	root := filepath.Join(base, "tree")
	for d := range dirs {
		dir := filepath.Join(root, fmt.Sprintf("dir%04d", d))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		for f := range files {
			p := filepath.Join(dir, fmt.Sprintf("file%06d", f))
			fh, err := os.Create(p)
			if err != nil {
				b.Fatal(err)
			}
			if err := fh.Truncate(size); err != nil {
				b.Fatal(err)
			}
			fh.Close()
			if outside {
				if err := os.Link(p, filepath.Join(base, fmt.Sprintf("out%04d-%06d", d, f))); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	return root
}

// BenchmarkTree archives trees of 10 MiB and 1 GiB (sparse files), plain
// and compressed, and trees of 100,000 empty files, in a child process, and
// reports the child's peak RSS: it must not grow with the data.
func BenchmarkTree(b *testing.B) {
	for _, c := range []struct {
		name        string
		dirs, files int
		size        int64
		outside     bool
		compression Compression
	}{
		{name: "10MiB", dirs: 10, files: 1, size: 1 << 20},
		{name: "10MiB-zstd", dirs: 10, files: 1, size: 1 << 20, compression: Zstd},
		{name: "10MiB-xz", dirs: 10, files: 1, size: 1 << 20, compression: XZ},
		{name: "1GiB", dirs: 16, files: 64, size: 1 << 20},
		{name: "1GiB-one-file", dirs: 1, files: 1, size: 1 << 30},
		{name: "1GiB-zstd", dirs: 16, files: 64, size: 1 << 20, compression: Zstd},
		{name: "100k-files-100-dirs", dirs: 100, files: 1000},
		{name: "100k-files-1-dir", dirs: 1, files: 100000},
		{name: "100k-files-linked-outside", dirs: 100, files: 1000, outside: true},
	} {
		b.Run(c.name, func(b *testing.B) {
			dir := benchTree(b, c.dirs, c.files, c.size, c.outside)
			b.SetBytes(int64(c.dirs) * int64(c.files) * c.size)
			var peak int64
			b.ResetTimer()
			for b.Loop() {
				cmd := exec.Command(os.Args[0])
				cmd.Env = append(os.Environ(), benchChildDir+"="+dir, benchChildCompression+"="+c.compression.String())
				out, err := cmd.CombinedOutput()
				if err != nil {
					b.Fatalf("child: %v\n%s", err, out)
				}
				rss, err := peakrss.Parse(out)
				if err != nil {
					b.Fatal(err)
				}
				peak = max(peak, rss)
			}
			b.ReportMetric(float64(peak>>10), "peak-RSS-KiB")
		})
	}
}
