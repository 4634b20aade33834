// Package quote verifies TPM2 quotes: that a TPM signed a set of PCR values
// with an attestation key, over a given nonce.
//
// An event log proves nothing by itself: an attestation server trusts it
// when the TPM signed the PCR values it replays to. Verify checks a TPM2
// quote (Quote: the TPMS_ATTEST and TPMT_SIGNATURE tpm2_quote writes with -m
// and -s, read by Load) made with an attestation key (ParseAKPublic,
// LoadAKPublic: tpm2_createak's TPM2B_PUBLIC or PEM): the signature, the
// nonce (the qualifying data) and that the quote's PCR digest is the digest
// of the given PCR values. Parse says which PCRs and banks a quote covers
// (Info.Selection) without verifying anything, VerifyParsed verifies a quote
// so parsed, and Values replays an event log for exactly those PCRs.
// ParseValues reads PCR values in the text form systemd-measure prints. Each
// refusal wraps an error naming the defect (ErrSignature, ErrNonce,
// ErrPCRDigest, ...).
//
// The TPM structures follow the TPM 2.0 Library specification, Part 2. The
// tests check quotes of the TCG reference TPM and of swtpm through
// tpm2-tools.
package quote
