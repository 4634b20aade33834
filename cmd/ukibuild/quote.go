package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/ukibuild/ukibuild/pcr"
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

// check verifies the quote (signature by the AK, nonce) and that the
// events replay to its PCR digest; it prints what it found and returns the
// number of mismatches (0 or 1). PCRs of pcrs the quote does not cover are
// named: their events are not attested by it.
func (q quoteFlags) check(w io.Writer, seen []pcr.Event, pcrs []int) (int, error) {
	var missing []string
	for _, f := range []struct{ name, v string }{{"--quote", q.Quote}, {"--quote-signature", q.QuoteSig}, {"--ak-public", q.AKPublic}, {"--nonce", q.Nonce}} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return 0, fmt.Errorf("a quote is checked with --quote, --quote-signature, --ak-public and --nonce together: %s missing", strings.Join(missing, ", "))
	}
	nonce, err := hex.DecodeString(strings.TrimPrefix(q.Nonce, "0x"))
	if err != nil {
		return 0, fmt.Errorf("--nonce: not hex: %w", err)
	}
	quote, err := pcr.LoadQuote(q.Quote, q.QuoteSig)
	if err != nil {
		return 0, err
	}
	ak, err := pcr.LoadAKPublic(q.AKPublic)
	if err != nil {
		return 0, err
	}
	info, err := pcr.ParseQuote(quote)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", q.Quote, err)
	}
	values, err := pcr.QuoteValues(seen, info.Selection)
	if err != nil {
		return 0, fmt.Errorf("the event log and the quote %s: %w", q.Quote, err)
	}
	sel := make([]string, len(info.Selection))
	for i, s := range info.Selection {
		sel[i] = s.String()
	}
	bad := 0
	_, err = pcr.VerifyQuote(quote, ak, nonce, values)
	switch {
	case err == nil:
		fmt.Fprintf(w, "quote %s: signed by %s, nonce matches, the log replays to its PCR digest over %s\n", q.Quote, q.AKPublic, strings.Join(sel, " "))
	case errors.Is(err, pcr.ErrQuotePCRDigest):
		fmt.Fprintf(w, "quote %s: signed by %s, nonce matches, but the log does not replay to its PCR digest over %s\n", q.Quote, q.AKPublic, strings.Join(sel, " "))
		bad++
	default:
		return 0, fmt.Errorf("quote %s (signature %s, AK %s): %w", q.Quote, q.QuoteSig, q.AKPublic, err)
	}
	for _, n := range pcrs {
		if !slices.ContainsFunc(info.Selection, func(s pcr.PCRSelection) bool { return slices.Contains(s.PCRs, n) }) {
			fmt.Fprintf(w, "PCR %d: not in the quote, so its events are not attested by it\n", n)
		}
	}
	return bad, nil
}
