package attest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ukibuild/ukibuild/attest"
)

// A TPM event log recorded in a boot test, checked against the quote
// swtpm signed with an attestation key (tpm2_createak, tpm2_quote) over
// the PCR values of that boot: the signature, the nonce and that the log
// replays to the quoted PCR digest. The printed verdict comes from the
// recorded TPM's own signature; PCR 13 was not quoted.
func ExampleVerifyLog() {
	log, err := os.ReadFile("../testvectors/eventlog/ovmf-sb-stub262-extras.bin")
	if err != nil {
		fmt.Println(err)
		return
	}
	dir := "../quote/testdata"
	quote, err := attest.LoadQuote(filepath.Join(dir, "quote.msg"), filepath.Join(dir, "quote.sig"), filepath.Join(dir, "ak.pub"), []byte("ukibuild-example"))
	if err != nil {
		fmt.Println(err)
		return
	}
	ev := attest.Evidence{Log: log, Quote: quote}
	rep, err := attest.VerifyLog(context.Background(), ev, []int{4, 7, 9, 11, 12, 13})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(rep)
	fmt.Println("OK:", rep.OK())
	// Output:
	// quote: signature and nonce verify, the log replays to its PCR digest over sha256:4,7,9,11,12
	// PCR 13: not in the quote, so its events are not attested by it
	// OK: true
}
