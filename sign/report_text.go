package sign

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// SignatureSummary is what a report says of one signature, in the form
// "ukibuild verify --json" prints it.
type SignatureSummary struct {
	Index   int    `json:"index"`             // position in the certificate table
	Signer  string `json:"signer"`            // the signer's subject, "" when unknown
	Hash    string `json:"hash"`              // the digest algorithm: "sha256", "sha384", ...
	OK      bool   `json:"ok"`                // the signature verified
	Problem string `json:"problem,omitempty"` // why it did not
}

// Summary returns a SignatureSummary for each of rep's signatures (nil
// when it has none).
func (rep *Report) Summary() []SignatureSummary {
	var sigs []SignatureSummary
	for i := range rep.Signatures {
		s := &rep.Signatures[i]
		p := ""
		if s.Err != nil {
			p = s.Err.Error()
		}
		sigs = append(sigs, SignatureSummary{s.Index, s.Subject(), strings.ToLower(strings.ReplaceAll(s.Hash.String(), "-", "")), s.OK(), p})
	}
	return sigs
}

// WriteText writes a line per signature: "signature N: SUBJECT (HASH):
// ok", or "FAILED: " and why instead of "ok".
func (rep *Report) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	for _, s := range rep.Summary() {
		status := "ok"
		if !s.OK {
			status = "FAILED: " + s.Problem
		}
		fmt.Fprintf(bw, "signature %d: %s (%s): %s\n", s.Index, s.Signer, s.Hash, status)
	}
	return bw.Flush()
}
