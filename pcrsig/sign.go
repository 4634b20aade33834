package pcrsig

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/ukibuild/ukibuild/pcr"
)

// ErrNotRSA is returned for PCR signing keys that are not RSA keys.
// systemd-measure 262 would sign with other keys (an EC key yields an ECDSA
// signature), but systemd only ever verifies PCR policy signatures as
// RSASSA-PKCS1-v1_5 with SHA-256 (tpm2_policy_authorize() in
// src/shared/tpm2-util.c), so such a .pcrsig could never unlock anything.
var ErrNotRSA = errors.New("pcrsig: the PCR signing key must be an RSA key: systemd can only verify RSASSA (RSA PKCS#1 v1.5) PCR policy signatures")

// PublicKeyFingerprint returns the "pkfp" of a PCR signing key: the SHA-256
// digest of its PKCS#1 RSAPublicKey DER encoding (what OpenSSL's
// i2d_PublicKey() writes for RSA; systemd's pubkey_fingerprint()). Keys
// that are not RSA keys are refused with ErrNotRSA.
func PublicKeyFingerprint(pub crypto.PublicKey) ([]byte, error) {
	rp, err := rsaPublic(pub)
	if err != nil {
		return nil, err
	}
	d := sha256.Sum256(x509.MarshalPKCS1PublicKey(rp))
	return d[:], nil
}

// PublicKeyPEM returns the .pcrpkey section content for pub as ukify derives
// it from a private key or certificate with `systemd-keyutil extract-public`:
// the PEM encoding of the X.509 SubjectPublicKeyInfo, type "PUBLIC KEY",
// base64 in lines of 64 characters, each line (the last one included) ending
// in "\n". (When ukify is given a PEM public key file, the file's bytes are
// used as they are instead.) Keys that are not RSA keys are refused with
// ErrNotRSA.
func PublicKeyPEM(pub crypto.PublicKey) ([]byte, error) {
	rp, err := rsaPublic(pub)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(rp)
	if err != nil {
		return nil, fmt.Errorf("pcrsig: encoding the PCR public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// SignPolicy signs tbs (see PolicyToBeSigned) with RSASSA-PKCS1-v1_5 using
// hash: crypto.SHA256 for what systemd-measure ≥ 260 writes and systemd
// verifies, the bank's hash for the signatures of systemd-measure ≤ 259.
// PKCS#1 v1.5 signatures are deterministic, so the result is byte-identical to
// systemd-measure's for the same key. Keys that are not RSA keys are refused
// with ErrNotRSA.
func SignPolicy(signer crypto.Signer, tbs []byte, hash crypto.Hash) ([]byte, error) {
	if signer == nil {
		return nil, errors.New("pcrsig: no PCR signing key")
	}
	pub, err := rsaPublic(signer.Public())
	if err != nil {
		return nil, err
	}
	if p, ok := signer.(placeholderSigner); ok {
		return p.Sign(nil, nil, hash)
	}
	if !hash.Available() {
		return nil, fmt.Errorf("pcrsig: hash %v is not available", hash)
	}
	h := hash.New()
	h.Write(tbs)
	digest := h.Sum(nil)
	sig, err := signer.Sign(rand.Reader, digest, hash)
	if err != nil {
		return nil, fmt.Errorf("pcrsig: signing the PCR policy: %w", err)
	}
	// A crypto.Signer may use any scheme (an HSM key might pick PSS for
	// SignerOpts without PSS options, against the interface's contract):
	// check we got what the TPM will verify.
	if err := rsa.VerifyPKCS1v15(pub, hash, digest, sig); err != nil {
		return nil, fmt.Errorf("pcrsig: the signer did not produce an RSASSA-PKCS1-v1_5 signature: %w", err)
	}
	return sig, nil
}

// PlaceholderSigner returns a crypto.Signer for the RSA public key pub whose
// signatures are all zero bytes, of the length real ones have (the modulus
// size). SignPolicy, and so Sign, accept it without verifying: a document
// made with it has the exact length of the one the real key makes for
// other PCR values of the same lengths, which lets a .pcrsig section be laid
// out before the sections it covers have been hashed. Never publish what it
// signs.
func PlaceholderSigner(pub crypto.PublicKey) (crypto.Signer, error) {
	k, err := rsaPublic(pub)
	if err != nil {
		return nil, err
	}
	return placeholderSigner{k}, nil
}

type placeholderSigner struct{ pub *rsa.PublicKey }

func (p placeholderSigner) Public() crypto.PublicKey { return p.pub }

func (p placeholderSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return make([]byte, p.pub.Size()), nil
}

// rsaPublic returns pub as an RSA public key or ErrNotRSA.
func rsaPublic(pub crypto.PublicKey) (*rsa.PublicKey, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k == nil || k.N == nil {
			return nil, errors.New("pcrsig: no RSA public key")
		}
		return k, nil
	case rsa.PublicKey:
		return rsaPublic(&k)
	case nil:
		return nil, errors.New("pcrsig: no public key")
	default:
		return nil, fmt.Errorf("%w (got %T)", ErrNotRSA, pub)
	}
}

// PolicyInput is the predicted value of PCR 11 in one bank once one boot phase
// path has been measured: the input of one signed policy.
type PolicyInput struct {
	// Phase is the boot phase path, normalised as systemd-measure does
	// (colon-separated words without empty words; "" for none). It only
	// determines the order of the policies.
	Phase string
	// Bank is the PCR bank.
	Bank pcr.Bank
	// Value is the expected PCR 11 value in Bank.
	Value []byte
}

// SignOptions selects what Sign emulates.
type SignOptions struct {
	// Signer is the PCR signing key (--private-key=); nil leaves the
	// policies unsigned. Only RSA keys are accepted.
	Signer crypto.Signer
	// PublicKey, when set, is the public key whose fingerprint ("pkfp") the
	// policies carry (--public-key= or the key of --certificate=). It is
	// used as given, even when it does not match Signer, as systemd-measure
	// does. When nil, sign derives it from Signer; policy-digest writes no
	// fingerprint.
	PublicKey crypto.PublicKey
	// PolicyRef is the policy reference (--policyref=): written as "ref" and
	// signed as part of the to-be-signed data; "" for none.
	PolicyRef string
	// PolicyDigest emulates `systemd-measure policy-digest` instead of
	// `sign`: every policy carries "tbs", the data to sign offline, and the
	// fingerprint is not derived from Signer.
	PolicyDigest bool
	// Legacy emulates systemd-measure up to 259: the signature uses the
	// bank's hash algorithm instead of SHA-256 (so that systemd, which
	// verifies RSASSA-SHA256, only ever accepts the sha256 bank's), the
	// policy-digest verb (258, 259) writes no "tbs", and there are no policy
	// references. Checked against systemd-measure 257.13; systemd issue
	// #40245 made later versions sign with SHA-256 for every bank. The
	// default is systemd-measure 262.1's behaviour.
	Legacy bool
	// Append is the JSON object the policies are added to
	// (--append=FILE, parsed with ParsePolicyDocument); nil starts from an
	// empty object. It is not modified.
	Append *PolicyDocument
	// MaxConcurrency bounds how many policies are signed at once: 0 lets
	// SignConcurrency(Signer) decide, 1 signs one after another, larger
	// values are further capped by SignConcurrency(Signer). The document is
	// the same whatever the value: RSASSA-PKCS1-v1_5 is deterministic and
	// the policies keep their order.
	MaxConcurrency int
}

// ConcurrentSigner is a crypto.Signer that declares it may be called from
// several goroutines at once, and how many of its Sign calls may run at the
// same time (a PKCS #11 key: the size of its session pool). Sign calls a
// signer concurrently only when it says so through this interface (or is an
// *rsa.PrivateKey, which is safe for concurrent use): a token waits tens to
// hundreds of milliseconds per signature, and a build signs up to 16
// policies per key.
type ConcurrentSigner interface {
	crypto.Signer
	// MaxConcurrentSigns is the number of Sign calls that may run at once;
	// values below 2 mean one at a time.
	MaxConcurrentSigns() int
}

// SignConcurrency is how many Sign calls Sign makes at once with signer when
// SignOptions.MaxConcurrency does not lower it: the signer's
// MaxConcurrentSigns for a ConcurrentSigner, GOMAXPROCS for an
// *rsa.PrivateKey (CPU-bound and safe for concurrent use), else 1 (a
// crypto.Signer that says nothing is never called concurrently).
func SignConcurrency(signer crypto.Signer) int {
	n := 1
	switch s := signer.(type) {
	case ConcurrentSigner:
		n = s.MaxConcurrentSigns()
	case *rsa.PrivateKey:
		n = runtime.GOMAXPROCS(0)
	}
	return max(n, 1)
}

// Sign computes the signed (or, without a Signer, unsigned) PCR 11 policies
// for inputs, like `systemd-measure sign` (or `policy-digest`) 262.1: one
// entry per phase path and bank, in systemd-measure's order (phase paths
// sorted bytewise, then banks sha1, sha256, sha384, sha512; duplicate
// phase/bank pairs are measured once), each appended to its bank's array
// unless an equal entry is already there. Use (*PolicyDocument).JSON for
// systemd-measure's output text and (*PolicyDocument).Object for the object
// ukify parses from it.
func Sign(inputs []PolicyInput, opts SignOptions) (*PolicyDocument, error) {
	if opts.Legacy && opts.PolicyRef != "" {
		return nil, errors.New("pcrsig: the legacy (systemd ≤ 259) format has no policy references")
	}
	var fingerprint []byte
	switch {
	case opts.PublicKey != nil:
		fp, err := PublicKeyFingerprint(opts.PublicKey)
		if err != nil {
			return nil, err
		}
		fingerprint = fp
	case opts.Signer != nil && !opts.PolicyDigest:
		fp, err := PublicKeyFingerprint(opts.Signer.Public())
		if err != nil {
			return nil, err
		}
		fingerprint = fp
	}
	if opts.Signer != nil {
		if _, err := rsaPublic(opts.Signer.Public()); err != nil {
			return nil, err
		}
	}

	inputs = sortInputs(inputs)
	entries := make([]PolicyEntry, len(inputs))
	tbss := make([][]byte, len(inputs))
	for i, in := range inputs {
		pol, err := PolicyPCRDigest(in.Bank, SignedPCR, in.Value)
		if err != nil {
			return nil, fmt.Errorf("phase %q: %w", in.Phase, err)
		}
		entries[i] = PolicyEntry{
			PCRs:        []uint32{SignedPCR},
			Fingerprint: fingerprint,
			PolicyRef:   opts.PolicyRef,
			Policy:      pol,
		}
		tbss[i] = PolicyToBeSigned(pol, opts.PolicyRef)
		if opts.PolicyDigest && !opts.Legacy {
			entries[i].ToBeSigned = tbss[i]
		}
	}
	if opts.Signer != nil {
		err := signAll(len(inputs), signWorkers(opts), func(i int) error {
			in := inputs[i]
			hash := crypto.SHA256
			if opts.Legacy {
				hash = in.Bank.Hash
			}
			sig, err := SignPolicy(opts.Signer, tbss[i], hash)
			if err != nil {
				return fmt.Errorf("phase %q, bank %s: %w", in.Phase, in.Bank.Name, err)
			}
			entries[i].Signature = sig
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	doc := opts.Append.clone()
	for i, in := range inputs {
		if err := doc.Append(in.Bank.Name, entries[i]); err != nil {
			return nil, err
		}
	}
	return doc, nil
}

// signWorkers is the number of signatures Sign makes at once.
func signWorkers(opts SignOptions) int {
	n := SignConcurrency(opts.Signer)
	if opts.MaxConcurrency > 0 {
		n = min(n, opts.MaxConcurrency)
	}
	return n
}

// signAll calls sign(i) for i in [0, n) with at most workers calls running
// at once. After a failure no further call starts; the error returned is
// that of the lowest failed index, so that it does not depend on timing
// more than it must.
func signAll(n, workers int, sign func(int) error) error {
	if workers <= 1 || n <= 1 {
		for i := range n {
			if err := sign(i); err != nil {
				return err
			}
		}
		return nil
	}
	errs := make([]error, n)
	var next atomic.Int64
	var failed atomic.Bool
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !failed.Load() {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if errs[i] = sign(i); errs[i] != nil {
					failed.Store(true)
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// sortInputs returns inputs in systemd-measure's processing order without
// duplicate phase/bank pairs (the first one wins).
func sortInputs(inputs []PolicyInput) []PolicyInput {
	rank := func(b pcr.Bank) int {
		for i, k := range pcr.AllBanks() {
			if k == b {
				return i
			}
		}
		return len(pcr.AllBanks())
	}
	s := make([]PolicyInput, len(inputs))
	copy(s, inputs)
	sort.SliceStable(s, func(i, j int) bool {
		if s[i].Phase != s[j].Phase {
			return s[i].Phase < s[j].Phase // bytewise, like strcmp
		}
		return rank(s[i].Bank) < rank(s[j].Bank)
	})
	out := make([]PolicyInput, 0, len(s))
	for _, in := range s {
		if n := len(out); n > 0 && in.Phase == out[n-1].Phase && in.Bank == out[n-1].Bank {
			continue
		}
		out = append(out, in)
	}
	return out
}

// PolicyInputs flattens predictions into Sign's inputs.
func PolicyInputs(preds []pcr.Prediction) []PolicyInput {
	var in []PolicyInput
	for _, p := range preds {
		for _, v := range p.Values {
			in = append(in, PolicyInput{Phase: string(p.Phase), Bank: v.Bank, Value: v.Digest})
		}
	}
	return in
}

// GenerateKey makes a PCR signing key pair as "ukify genkey" does (ukify
// 262, generate_priv_pub_key_pair): RSA-2048, the private key as PEM "RSA
// PRIVATE KEY" (PKCS#1), the public key as PEM "PUBLIC KEY" (SPKI). rnd is
// the randomness source (nil: crypto/rand).
func GenerateKey(rnd io.Reader) (privatePEM, publicPEM []byte, err error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	key, err := rsa.GenerateKey(rnd, 2048)
	if err != nil {
		return nil, nil, err
	}
	if publicPEM, err = PublicKeyPEM(&key.PublicKey); err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), publicPEM, nil
}
