package quote_test

import (
	"errors"
	"fmt"
	"os"

	"github.com/ukibuild/ukibuild/eventlog"
	"github.com/ukibuild/ukibuild/quote"
)

// An attestation server checks that a TPM quote, signed by the machine's
// attestation key for the server's nonce, covers the PCR values the
// machine's event log replays to; then the log's events can be trusted and
// compared with a prediction (CompareEvents). The files are what
// tpm2_createak -u and tpm2_quote -m -s wrote on a TPM extended with the
// events of a recorded boot (testdata/README.md).
func ExampleVerify() {
	q, err := quote.Load("testdata/quote.msg", "testdata/quote.sig")
	if err != nil {
		panic(err)
	}
	ak, err := quote.LoadAKPublic("testdata/ak.pub")
	if err != nil {
		panic(err)
	}
	log, err := os.ReadFile("../testvectors/eventlog/ovmf-sb-stub262-extras.bin")
	if err != nil {
		panic(err)
	}
	events, err := eventlog.Parse(log)
	if err != nil {
		panic(err)
	}
	nonce := []byte("ukibuild-example") // the server's, sent to the machine

	// Which PCRs and banks does the quote cover? Replay the log for those.
	info, err := quote.Parse(q)
	if err != nil {
		panic(err)
	}
	values, err := quote.Values(events, info.Selection)
	if err != nil {
		panic(err)
	}
	info, err = quote.Verify(q, ak, nonce, values)
	if err != nil {
		panic(err)
	}
	fmt.Printf("the log is quoted: %v, %s signature\n", info.Selection, info.SignatureScheme)

	// A replayed quote (another nonce) or another log is refused:
	_, err = quote.Verify(q, ak, []byte("an older nonce"), values)
	fmt.Println(errors.Is(err, quote.ErrNonce))
	_, err = quote.Verify(q, ak, nonce, values[1:])
	fmt.Println(err)
	values[0].Digest = make([]byte, 32)
	_, err = quote.Verify(q, ak, nonce, values)
	fmt.Println(errors.Is(err, quote.ErrPCRDigest))
	// Output:
	// the log is quoted: [sha256:4,7,9,11,12], ecdsa signature
	// true
	// PCR values do not cover the quote: no value for PCR 4 sha256, which the quote covers (selection sha256:4,7,9,11,12)
	// true
}
