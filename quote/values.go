package quote

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/ukibuild/ukibuild/pcr"
)

// ParseValues reads PCR values in the text form "ukibuild measure" and
// systemd-measure print, one "PCR:BANK=HEX" line each ("11:sha256=4a3f..."):
// values a TPM reported, say. Empty lines and lines starting with '#' are
// skipped. An error names the line.
func ParseValues(data []byte) ([]PCRValue, error) {
	var out []PCRValue
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		idx, rest, ok1 := strings.Cut(l, ":")
		bank, val, ok2 := strings.Cut(rest, "=")
		n, err := strconv.Atoi(idx)
		if !ok1 || !ok2 || err != nil || n < 0 || n > 23 {
			return nil, fmt.Errorf("line %d: want PCR:BANK=HEX with a PCR from 0 to 23, not %q", line, l)
		}
		b, err := pcr.ParseBank(bank)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		d, err := hex.DecodeString(val)
		if err != nil || len(d) != b.Hash.Size() {
			return nil, fmt.Errorf("line %d: %q is not a %s value (%d bytes in hex)", line, val, b.Name, b.Hash.Size())
		}
		out = append(out, PCRValue{PCR: n, Value: pcr.Value{Bank: b, Digest: d}})
	}
	return out, sc.Err()
}
