package quote

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"slices"
	"strings"

	"github.com/google/go-tpm/tpm2"
	"golang.org/x/crypto/cryptobyte"

	"github.com/ukibuild/ukibuild/eventlog"
	"github.com/ukibuild/ukibuild/pcr"
)

// The defects Verify, Parse and ParseAKPublic report; their
// errors wrap one of these (errors.Is) and say more.
var (
	// ErrFormat: the attest data or the signature is not a
	// well-formed TPMS_ATTEST of a quote / TPMT_SIGNATURE (wrong magic,
	// wrong type, truncated, trailing bytes, unknown bank).
	ErrFormat = errors.New("malformed quote")
	// ErrScheme: a signature scheme, hash or key type this package
	// does not verify.
	ErrScheme = errors.New("unsupported signature scheme")
	// ErrSignature: the signature is not the AK's over the attest
	// data.
	ErrSignature = errors.New("bad quote signature")
	// ErrNonce: the quote's qualifying data is not the nonce.
	ErrNonce = errors.New("quote nonce mismatch")
	// ErrPCRs: the PCR values given are incomplete or ambiguous for
	// the quote's selection.
	ErrPCRs = errors.New("PCR values do not cover the quote")
	// ErrPCRDigest: the quote's PCR digest is not the digest of the
	// PCR values given.
	ErrPCRDigest = errors.New("quote PCR digest mismatch")
	// ErrAKPublic: the AK public key cannot be used to check quotes.
	ErrAKPublic = errors.New("unusable attestation key")
)

// Quote is a TPM2 quote as tpm2_quote writes it: Attest is the marshalled
// TPMS_ATTEST the TPM signed (-m quote.msg), Signature the TPMT_SIGNATURE
// (-s quote.sig, in the default "tss" format). go-attestation's
// attest.Quote holds the same two byte strings.
type Quote struct {
	Attest    []byte
	Signature []byte
}

// PCRSelection is the set of PCRs a quote covers in one bank.
type PCRSelection struct {
	Bank pcr.Bank
	// PCRs in ascending order, as the TPM concatenates their values.
	PCRs []int
}

// String is "sha256:4,7,9".
func (s PCRSelection) String() string {
	var b strings.Builder
	b.WriteString(s.Bank.Name + ":")
	for i, p := range s.PCRs {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprint(&b, p)
	}
	return b.String()
}

// PCRValue is the value of one PCR in one bank.
type PCRValue struct {
	PCR int
	pcr.Value
}

// Info is what a quote says (TPMS_ATTEST with TPMS_QUOTE_INFO, and
// the signature's scheme). After Verify succeeded, all of it is
// signed by the AK and the PCR values given are those of Selection.
type Info struct {
	// Selection lists the banks and PCRs the quote covers, in the
	// quote's order (TPML_PCR_SELECTION).
	Selection []PCRSelection
	// PCRDigest is the TPM's digest of the selected PCR values,
	// concatenated in Selection's order, in SignatureHash.
	PCRDigest []byte
	// Nonce is the qualifying data (extraData; tpm2_quote -q).
	Nonce []byte
	// Signer is the qualified name of the signing key.
	Signer []byte
	// The TPM's clock: milliseconds, resets and restarts since it was
	// last cleared, and whether Clock never went backwards.
	Clock                    uint64
	ResetCount, RestartCount uint32
	Safe                     bool
	FirmwareVersion          uint64
	// SignatureScheme is "rsassa", "rsapss" or "ecdsa".
	SignatureScheme string
	// SignatureHash is the hash the scheme signed and the PCR digest
	// was computed with.
	SignatureHash crypto.Hash

	sig *quoteSignature
}

// Covers reports whether the quote covers PCR index in bank b.
func (qi *Info) Covers(index int, b pcr.Bank) bool {
	for _, s := range qi.Selection {
		if s.Bank.Name == b.Name && slices.Contains(s.PCRs, index) {
			return true
		}
	}
	return false
}

// Parse decodes a quote without verifying anything: which PCRs and
// banks it covers, its nonce, its signature scheme. It fails
// (ErrFormat, ErrScheme) on anything a TPM does not write for
// TPM2_Quote, and on trailing bytes (what a TPM signed has one encoding).
//
// The two structures (TPM 2.0 Library Part 2: TPMS_ATTEST with
// TPMS_QUOTE_INFO, 10.12.12; TPMT_SIGNATURE, 11.3.4) are read with
// cryptobyte rather than go-tpm's reflection-based tpm2.Unmarshal, which
// took about a third of a whole verification (log, quote and signature)
// in BenchmarkVerify; FuzzParse checks that both decoders agree.
func Parse(q Quote) (*Info, error) {
	a := q.Attest
	if len(a) < 6 {
		return nil, fmt.Errorf("%w: attest data is %d bytes, shorter than a TPMS_ATTEST header", ErrFormat, len(a))
	}
	if m := binary.BigEndian.Uint32(a); m != uint32(tpm2.TPMGeneratedValue) {
		return nil, fmt.Errorf("%w: magic %#08x is not TPM_GENERATED_VALUE %#08x: not made by a TPM", ErrFormat, m, uint32(tpm2.TPMGeneratedValue))
	}
	if t := binary.BigEndian.Uint16(a[4:]); t != uint16(tpm2.TPMSTAttestQuote) {
		return nil, fmt.Errorf("%w: attestation type %#04x is not TPM_ST_ATTEST_QUOTE %#04x", ErrFormat, t, uint16(tpm2.TPMSTAttestQuote))
	}
	info, err := parseAttest(a[6:])
	if err != nil {
		return nil, fmt.Errorf("%w: attest data: %v", ErrFormat, err)
	}
	if len(q.Signature) < 2 {
		return nil, fmt.Errorf("%w: the signature is %d bytes", ErrFormat, len(q.Signature))
	}
	sig := &quoteSignature{alg: tpm2.TPMAlgID(binary.BigEndian.Uint16(q.Signature))}
	switch sig.alg {
	case tpm2.TPMAlgRSASSA:
		info.SignatureScheme = "rsassa"
	case tpm2.TPMAlgRSAPSS:
		info.SignatureScheme = "rsapss"
	case tpm2.TPMAlgECDSA:
		info.SignatureScheme = "ecdsa"
	default:
		return nil, fmt.Errorf("%w: signature algorithm %#04x (want RSASSA, RSAPSS or ECDSA)", ErrScheme, uint16(sig.alg))
	}
	in := cryptobyte.String(q.Signature[2:])
	var h uint16
	ok := in.ReadUint16(&h)
	if sig.alg == tpm2.TPMAlgECDSA {
		ok = ok && readTPM2B(&in, &sig.r) && readTPM2B(&in, &sig.s)
	} else {
		ok = ok && readTPM2B(&in, &sig.rsa)
	}
	if !ok || !in.Empty() {
		return nil, fmt.Errorf("%w: signature: not a %s TPMT_SIGNATURE (truncated, or %d trailing bytes)", ErrFormat, info.SignatureScheme, len(in))
	}
	b, known := bankByAlg(h)
	if !known || !b.Hash.Available() {
		return nil, fmt.Errorf("%w: %s signature with hash algorithm %#04x", ErrScheme, info.SignatureScheme, h)
	}
	info.SignatureHash = b.Hash
	if len(info.PCRDigest) != b.Hash.Size() {
		return nil, fmt.Errorf("%w: the PCR digest is %d bytes, not a %s digest", ErrFormat, len(info.PCRDigest), b.Name)
	}
	info.sig = sig
	return info, nil
}

// quoteSignature is a decoded TPMT_SIGNATURE: the RSA signature, or the
// ECDSA r and s.
type quoteSignature struct {
	alg       tpm2.TPMAlgID
	rsa, r, s []byte
}

// readTPM2B reads a TPM2B: a 16-bit big-endian size and that many bytes.
func readTPM2B(in *cryptobyte.String, out *[]byte) bool {
	var b cryptobyte.String
	if !in.ReadUint16LengthPrefixed(&b) {
		return false
	}
	*out = b
	return true
}

// parseAttest decodes a TPMS_ATTEST after its magic and type: the
// qualified signer, the extra data, TPMS_CLOCK_INFO, the firmware version
// and TPMS_QUOTE_INFO (TPML_PCR_SELECTION and the PCR digest), with
// nothing left over.
func parseAttest(a []byte) (*Info, error) {
	in := cryptobyte.String(a)
	info := &Info{}
	var safe uint8
	var count uint32
	if !readTPM2B(&in, &info.Signer) || !readTPM2B(&in, &info.Nonce) || !in.ReadUint64(&info.Clock) ||
		!in.ReadUint32(&info.ResetCount) || !in.ReadUint32(&info.RestartCount) || !in.ReadUint8(&safe) ||
		!in.ReadUint64(&info.FirmwareVersion) || !in.ReadUint32(&count) {
		return nil, errors.New("truncated TPMS_ATTEST")
	}
	if safe > 1 {
		return nil, fmt.Errorf("clock safe flag %d is not a TPMI_YES_NO", safe)
	}
	info.Safe = safe == 1
	if uint64(count) > uint64(len(in))/3 {
		return nil, fmt.Errorf("%d PCR selections in %d bytes", count, len(in))
	}
	for range count {
		var alg uint16
		var bits cryptobyte.String
		if !in.ReadUint16(&alg) || !in.ReadUint8LengthPrefixed(&bits) {
			return nil, errors.New("truncated PCR selection")
		}
		b, ok := bankByAlg(alg)
		if !ok {
			return nil, fmt.Errorf("PCR selection of unknown bank algorithm %#04x", alg)
		}
		for _, prev := range info.Selection {
			if prev.Bank.Name == b.Name {
				return nil, fmt.Errorf("the PCR selection names bank %s twice", b.Name)
			}
		}
		sel := PCRSelection{Bank: b}
		for i, byt := range bits {
			for bit := range 8 {
				if byt&(1<<bit) != 0 {
					sel.PCRs = append(sel.PCRs, 8*i+bit)
				}
			}
		}
		info.Selection = append(info.Selection, sel)
	}
	if !readTPM2B(&in, &info.PCRDigest) {
		return nil, errors.New("truncated PCR digest")
	}
	if !in.Empty() {
		return nil, fmt.Errorf("%d trailing bytes", len(in))
	}
	return info, nil
}

// Verify checks that the quote q is signed by the attestation key ak
// (an *rsa.PublicKey or *ecdsa.PublicKey, see ParseAKPublic), that its
// qualifying data equals nonce, and that its PCR digest is the digest of
// values for exactly the PCRs and banks the quote selects (values may hold
// more, which are ignored; each selected one must be there once). It
// returns what the quote says; the error wraps ErrFormat,
// ErrScheme, ErrSignature, ErrNonce, ErrPCRs or
// ErrPCRDigest, checked in that order.
//
// The values to give are normally the replay of an event log (see
// Values): then the quote proves the log, for the PCRs and banks it
// covers. A quote may cover fewer PCRs than the caller relies on: check
// the returned Selection (Info.Covers).
//
// go-attestation's (*attest.AKPublic).Verify does the same three checks,
// but it decodes with go-tpm's legacy package, which refuses quotes over
// more than one bank, knows RSASSA and ECDSA only, hashes with the AK's
// scheme (a PEM key has none) and reports its errors as text only. So the
// checks are written here, on go-tpm's decoding and key conversion and
// the standard library's signature verification; the tests check that
// go-attestation accepts what this accepts.
func Verify(q Quote, ak crypto.PublicKey, nonce []byte, values []PCRValue) (*Info, error) {
	info, err := Parse(q)
	if err != nil {
		return nil, err
	}
	return info, VerifyParsed(info, q, ak, nonce, values)
}

// VerifyParsed is Verify for a quote already parsed by
// Parse (info), so that a verifier that needs the selection first
// (to replay a log for it: Values) decodes the quote once.
func VerifyParsed(info *Info, q Quote, ak crypto.PublicKey, nonce []byte, values []PCRValue) error {
	if err := verifySignature(info, q.Attest, ak); err != nil {
		return err
	}
	if !bytes.Equal(info.Nonce, nonce) {
		return fmt.Errorf("%w: the quote's qualifying data is %x, the nonce %x", ErrNonce, info.Nonce, nonce)
	}
	h := info.SignatureHash.New()
	for _, s := range info.Selection {
		for _, p := range s.PCRs {
			var found []byte
			for _, v := range values {
				if v.PCR != p || v.Bank.Name != s.Bank.Name {
					continue
				}
				if found != nil && !bytes.Equal(found, v.Digest) {
					return fmt.Errorf("%w: two different values for PCR %d %s", ErrPCRs, p, s.Bank.Name)
				}
				found = v.Digest
			}
			if found == nil {
				return fmt.Errorf("%w: no value for PCR %d %s, which the quote covers (selection %s)", ErrPCRs, p, s.Bank.Name, formatSelection(info.Selection))
			}
			if len(found) != s.Bank.Hash.Size() {
				return fmt.Errorf("%w: the value of PCR %d %s is %d bytes", ErrPCRs, p, s.Bank.Name, len(found))
			}
			h.Write(found)
		}
	}
	if got := h.Sum(nil); !bytes.Equal(got, info.PCRDigest) {
		return fmt.Errorf("%w: the quote's digest of %s is %x, the values given digest to %x", ErrPCRDigest, formatSelection(info.Selection), info.PCRDigest, got)
	}
	return nil
}

// Values returns the replay (Replay) of events for every PCR and
// bank of sel: the values to give Verify to check a log against a
// quote with that selection (Info.Selection).
func Values(events []eventlog.Event, sel []PCRSelection) ([]PCRValue, error) {
	var out []PCRValue
	for _, s := range sel {
		for _, p := range s.PCRs {
			v, err := eventlog.Replay(events, p, s.Bank)
			if err != nil {
				return nil, err
			}
			out = append(out, PCRValue{PCR: p, Value: pcr.Value{Bank: s.Bank, Digest: v}})
		}
	}
	return out, nil
}

func verifySignature(info *Info, attest []byte, ak crypto.PublicKey) error {
	h := info.SignatureHash.New()
	h.Write(attest)
	digest := h.Sum(nil)
	sig := info.sig
	switch pub := ak.(type) {
	case *rsa.PublicKey:
		var err error
		switch sig.alg {
		case tpm2.TPMAlgRSASSA:
			err = rsa.VerifyPKCS1v15(pub, info.SignatureHash, digest, sig.rsa)
		case tpm2.TPMAlgRSAPSS:
			err = rsa.VerifyPSS(pub, info.SignatureHash, digest, sig.rsa, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto})
		default:
			return fmt.Errorf("%w: an %s signature for an RSA key", ErrSignature, info.SignatureScheme)
		}
		if err != nil {
			return fmt.Errorf("%w: %s %s signature does not verify with the RSA AK", ErrSignature, info.SignatureScheme, strings.ToLower(info.SignatureHash.String()))
		}
	case *ecdsa.PublicKey:
		if sig.alg != tpm2.TPMAlgECDSA {
			return fmt.Errorf("%w: an %s signature for an ECC key", ErrSignature, info.SignatureScheme)
		}
		r, ss := new(big.Int).SetBytes(sig.r), new(big.Int).SetBytes(sig.s)
		if !ecdsa.Verify(pub, digest, r, ss) {
			return fmt.Errorf("%w: ecdsa %s signature does not verify with the ECC AK", ErrSignature, strings.ToLower(info.SignatureHash.String()))
		}
	case nil:
		return fmt.Errorf("%w: no AK public key", ErrAKPublic)
	default:
		return fmt.Errorf("%w: AK key type %T (want *rsa.PublicKey or *ecdsa.PublicKey)", ErrScheme, ak)
	}
	return nil
}

// ParseAKPublic reads an attestation key's public part: a TPM2B_PUBLIC
// (tpm2_createak -u, tpm2_readpublic -o), a TPMT_PUBLIC (go-attestation's
// AttestationParameters.Public) or a PEM "PUBLIC KEY" (tpm2_createak -f
// pem). A TPM public area must be a restricted signing key, as an AK is:
// only such a key refuses to sign data that looks like a TPMS_ATTEST, so
// only its quotes prove anything. A PEM key carries no attributes: the
// caller vouches for it. The result is an *rsa.PublicKey or an
// *ecdsa.PublicKey.
func ParseAKPublic(data []byte) (crypto.PublicKey, error) {
	if blk, _ := pem.Decode(data); blk != nil {
		if blk.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("%w: PEM block %q (want PUBLIC KEY)", ErrAKPublic, blk.Type)
		}
		k, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrAKPublic, err)
		}
		switch k.(type) {
		case *rsa.PublicKey, *ecdsa.PublicKey:
			return k, nil
		}
		return nil, fmt.Errorf("%w: PEM key of type %T (want RSA or ECDSA)", ErrAKPublic, k)
	}
	body := data
	if len(data) >= 2 && int(binary.BigEndian.Uint16(data)) == len(data)-2 {
		body = data[2:] // TPM2B_PUBLIC: size, then TPMT_PUBLIC
	}
	pub, err := unmarshalExact[tpm2.TPMTPublic](body)
	if err != nil {
		return nil, fmt.Errorf("%w: not a TPM2B_PUBLIC, TPMT_PUBLIC or PEM public key: %v", ErrAKPublic, err)
	}
	if !pub.ObjectAttributes.SignEncrypt || !pub.ObjectAttributes.Restricted {
		return nil, fmt.Errorf("%w: the key is not a restricted signing key (sign %v, restricted %v)", ErrAKPublic, pub.ObjectAttributes.SignEncrypt, pub.ObjectAttributes.Restricted)
	}
	k, err := tpm2.Pub(*pub)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrAKPublic, err)
	}
	return k, nil
}

// Load reads the files tpm2_quote writes with -m (TPMS_ATTEST) and
// -s (TPMT_SIGNATURE).
func Load(msgFile, sigFile string) (Quote, error) {
	msg, err := os.ReadFile(msgFile)
	if err != nil {
		return Quote{}, err
	}
	sig, err := os.ReadFile(sigFile)
	if err != nil {
		return Quote{}, err
	}
	return Quote{Attest: msg, Signature: sig}, nil
}

// LoadAKPublic reads an AK public key file (see ParseAKPublic).
func LoadAKPublic(file string) (crypto.PublicKey, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	k, err := ParseAKPublic(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return k, nil
}

// unmarshalExact decodes a T with go-tpm and refuses trailing bytes
// (go-tpm's Unmarshal ignores them), comparing the re-marshalled bytes:
// what a TPM signed has one encoding. go-tpm's reflection-based decoder is
// kept from panicking on garbage by a recover, since the input comes from
// the network.
func unmarshalExact[T tpm2.Marshallable, P interface {
	*T
	tpm2.Unmarshallable
}](data []byte) (t *T, err error) {
	defer func() {
		if r := recover(); r != nil {
			t, err = nil, fmt.Errorf("undecodable: %v", r)
		}
	}()
	t, err = tpm2.Unmarshal[T, P](data)
	if err != nil {
		return nil, err
	}
	if again := tpm2.Marshal(*t); !bytes.Equal(again, data) {
		if len(again) < len(data) && bytes.Equal(again, data[:len(again)]) {
			return nil, fmt.Errorf("%d trailing bytes", len(data)-len(again))
		}
		return nil, errors.New("not in the TPM's encoding")
	}
	return t, nil
}

func bankByAlg(id uint16) (pcr.Bank, bool) {
	for _, b := range pcr.AllBanks() {
		if b.AlgID == id {
			return b, true
		}
	}
	return pcr.Bank{}, false
}

func formatSelection(sel []PCRSelection) string {
	if len(sel) == 0 {
		return "(none)"
	}
	s := make([]string, len(sel))
	for i, x := range sel {
		s[i] = x.String()
	}
	return strings.Join(s, "+")
}
