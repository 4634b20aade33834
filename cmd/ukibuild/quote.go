package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/ukibuild/ukibuild/attest"
)

// quoteFlags are eventlog verify's options for a TPM2 quote signed by an
// attestation key, in the files tpm2-tools writes.
type quoteFlags struct {
	Quote    string `name:"quote" help:"A TPM2 quote, the TPMS_ATTEST the TPM signed (tpm2_quote -m): the log must replay to its PCR digest. Needs --quote-signature, --ak-public and --nonce." type:"existingfile" placeholder:"FILE"`
	QuoteSig string `name:"quote-signature" help:"The quote's TPMT_SIGNATURE (tpm2_quote -s)." type:"existingfile" placeholder:"FILE"`
	AKPublic string `name:"ak-public" help:"The attestation key that signed the quote: TPM2B_PUBLIC (tpm2_createak -u) or a PEM public key." type:"existingfile" placeholder:"FILE"`
	Nonce    string `name:"nonce" help:"The quote's qualifying data, the verifier's fresh nonce (tpm2_quote -q), in hex." placeholder:"HEX"`
}

func (q quoteFlags) given() bool {
	return q.Quote != "" || q.QuoteSig != "" || q.AKPublic != "" || q.Nonce != ""
}

// load reads the quote, its signature, the AK and the nonce (nil when no
// quote option is given).
func (q quoteFlags) load() (*attest.Quote, error) {
	if !q.given() {
		return nil, nil
	}
	var missing []string
	for _, f := range []struct{ name, v string }{{"--quote", q.Quote}, {"--quote-signature", q.QuoteSig}, {"--ak-public", q.AKPublic}, {"--nonce", q.Nonce}} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("a quote is checked with --quote, --quote-signature, --ak-public and --nonce together: %s missing", strings.Join(missing, ", "))
	}
	nonce, err := hex.DecodeString(strings.TrimPrefix(q.Nonce, "0x"))
	if err != nil {
		return nil, fmt.Errorf("--nonce: not hex: %w", err)
	}
	return attest.LoadQuote(q.Quote, q.QuoteSig, q.AKPublic, nonce)
}

// explain names the files behind a verification error: the log, or the
// quote's.
func (q quoteFlags) explain(log string, err error) error {
	var le *attest.LogError
	switch {
	case errors.As(err, &le):
		return fmt.Errorf("%s: %w", log, le.Err)
	case q.given():
		return fmt.Errorf("quote %s (signature %s, AK %s): %w", q.Quote, q.QuoteSig, q.AKPublic, err)
	}
	return err
}
