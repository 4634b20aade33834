package attest_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"strings"

	"github.com/ukibuild/ukibuild/attest"
	"github.com/ukibuild/ukibuild/quote"
)

// A quote taken in the initrd once systemd 262.1 had measured its phase
// and separators (boot test case 19): the firmware's log replays to the
// quote's PCR digest only with systemd's log after it. The verdicts come
// from the TPM's signature over the PCRs; the records' check from the
// hashes of their strings.
func ExampleEvidence_systemdLog() {
	base := "../testvectors/eventlog/ovmf-sb-systemd262-initrd"
	read := func(ext string) []byte {
		b, err := os.ReadFile(base + ext)
		if err != nil {
			panic(err)
		}
		return b
	}
	ak, err := quote.ParseAKPublic(read(".ak.pub"))
	if err != nil {
		fmt.Println(err)
		return
	}
	nonce, _ := hex.DecodeString(strings.TrimSpace(string(read(".nonce"))))
	ev := attest.Evidence{Log: read(".bin"),
		Quote: &attest.Quote{Quote: quote.Quote{Attest: read(".quote.msg"), Signature: read(".quote.sig")}, AK: ak, Nonce: nonce}}
	for _, withSystemd := range []bool{false, true} {
		if withSystemd {
			ev.SystemdLog, ev.SystemdVersion = read(".cel"), "262.1"
		}
		rep, err := attest.VerifyLog(context.Background(), ev, nil)
		if err != nil {
			fmt.Println(err)
			return
		}
		ok := 0
		for _, s := range rep.Systemd {
			if s.Err == nil {
				ok++
			}
		}
		fmt.Printf("with systemd's log: %v, replays to the quote: %v, systemd records as systemd measures them: %d of %d\n",
			withSystemd, rep.Quote.Replays, ok, len(rep.Systemd))
	}
	// Output:
	// with systemd's log: false, replays to the quote: false, systemd records as systemd measures them: 0 of 0
	// with systemd's log: true, replays to the quote: true, systemd records as systemd measures them: 14 of 14
}
