// Package peakrss lets a test measure the peak resident set size of a child
// process it starts. getrusage's ru_maxrss cannot be used for that: Go
// starts children with vfork semantics, and at exec Linux folds the
// parent's high-water RSS into the child's ru_maxrss (exec_mmap), so a big
// test process makes every child look big. The child reports its own
// VmHWM from /proc/self/status instead, which belongs to its new address
// space only.
package peakrss

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

const marker = "UKIBUILD-PEAK-RSS-KIB "

// Report writes the calling process's peak RSS (VmHWM) as a marker line to
// w; the parent finds it with Parse.
func Report(w io.Writer) error {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return fmt.Errorf("peak RSS: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kib := strings.TrimSuffix(strings.TrimSpace(v), " kB")
			_, err := fmt.Fprintf(w, "\n%s%s\n", marker, kib)
			return err
		}
	}
	return fmt.Errorf("peak RSS: no VmHWM in /proc/self/status")
}

// Parse finds the peak RSS, in bytes, that Report wrote into output.
func Parse(output []byte) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(output))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), marker); ok {
			kib, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("peak RSS: %q: %w", v, err)
			}
			return kib << 10, nil
		}
	}
	return 0, fmt.Errorf("peak RSS: the child did not report it")
}
