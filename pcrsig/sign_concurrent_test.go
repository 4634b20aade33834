package pcrsig

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ukibuild/ukibuild/pcr"
)

// concInputs is a build's default workload: 4 banks × 4 phase paths.
func concInputs(t testing.TB) []PolicyInput {
	t.Helper()
	var in []PolicyInput
	for p, phase := range []string{"enter-initrd", "enter-initrd:leave-initrd", "enter-initrd:leave-initrd:sysinit", "enter-initrd:leave-initrd:sysinit:ready"} {
		for _, b := range pcr.AllBanks() {
			v := bytes.Repeat([]byte{byte(p + 1)}, b.Hash.Size())
			in = append(in, PolicyInput{Phase: phase, Bank: b, Value: v})
		}
	}
	return in
}

// countingSigner wraps an RSA key, records how many Sign calls overlapped
// and fails the call whose digest is failOn (when set).
type countingSigner struct {
	k        *rsa.PrivateKey
	limit    int // MaxConcurrentSigns when used as a ConcurrentSigner
	failOn   []byte
	inFlight atomic.Int32
	mu       sync.Mutex
	peak     int32
	calls    int
}

func (s *countingSigner) Public() crypto.PublicKey { return &s.k.PublicKey }

func (s *countingSigner) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	n := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	s.mu.Lock()
	s.peak = max(s.peak, n)
	s.calls++
	s.mu.Unlock()
	time.Sleep(2 * time.Millisecond) // a token's latency, so that calls overlap
	if s.failOn != nil && bytes.Equal(d, s.failOn) {
		return nil, errTokenFailed
	}
	return s.k.Sign(r, d, o)
}

var errTokenFailed = errors.New("token: CKR_DEVICE_ERROR")

// concurrentSigner declares itself safe for limit concurrent calls.
type concurrentSigner struct{ *countingSigner }

func (s concurrentSigner) MaxConcurrentSigns() int { return s.limit }

func docJSON(t *testing.T, inputs []PolicyInput, opts SignOptions) string {
	t.Helper()
	d, err := Sign(inputs, opts)
	if err != nil {
		t.Fatal(err)
	}
	return string(d.JSON(pcr.MeasureJSONShort))
}

// TestSignConcurrentSameBytes: signing the policies concurrently gives the
// document signing them one by one gives, for the PEM key and for a
// ConcurrentSigner, and the number of overlapping calls respects the
// signer's declared limit and MaxConcurrency; a crypto.Signer that declares
// nothing is never called concurrently.
func TestSignConcurrentSameBytes(t *testing.T) {
	k := sigTestKeys(t)[0].priv
	in := concInputs(t)
	for _, legacy := range []bool{false, true} {
		seq := docJSON(t, in, SignOptions{Signer: k, Legacy: legacy, MaxConcurrency: 1})
		if n := strings.Count(seq, `"sig"`); n != 16 {
			t.Fatalf("%d signatures, want 16", n)
		}
		if got := docJSON(t, in, SignOptions{Signer: k, Legacy: legacy}); got != seq {
			t.Errorf("legacy=%v: *rsa.PrivateKey, concurrent: the document differs", legacy)
		}
		for _, limit := range []int{2, 3, 8} {
			cs := concurrentSigner{&countingSigner{k: k, limit: limit}}
			if got := docJSON(t, in, SignOptions{Signer: cs, Legacy: legacy}); got != seq {
				t.Errorf("legacy=%v, limit %d: the document differs", legacy, limit)
			}
			if cs.peak > int32(limit) || cs.peak < 2 || cs.calls != 16 {
				t.Errorf("limit %d: peak %d concurrent calls, %d calls", limit, cs.peak, cs.calls)
			}
			capped := concurrentSigner{&countingSigner{k: k, limit: limit}}
			if got := docJSON(t, in, SignOptions{Signer: capped, Legacy: legacy, MaxConcurrency: 1}); got != seq {
				t.Errorf("legacy=%v, MaxConcurrency 1: the document differs", legacy)
			}
			if capped.peak != 1 {
				t.Errorf("MaxConcurrency 1: %d concurrent calls", capped.peak)
			}
		}
		plain := &countingSigner{k: k}
		if got := docJSON(t, in, SignOptions{Signer: plain, Legacy: legacy, MaxConcurrency: 16}); got != seq {
			t.Errorf("legacy=%v, plain signer: the document differs", legacy)
		}
		if plain.peak != 1 {
			t.Errorf("a signer that does not declare itself concurrent was called %d times at once", plain.peak)
		}
	}
	if n := SignConcurrency(&countingSigner{k: k}); n != 1 {
		t.Errorf("SignConcurrency(plain signer) = %d", n)
	}
	if n := SignConcurrency(concurrentSigner{&countingSigner{k: k, limit: 0}}); n != 1 {
		t.Errorf("SignConcurrency(limit 0) = %d", n)
	}
}

// TestSignConcurrentFailure: when one signature fails, Sign returns no
// document and an error that wraps the signer's and names the phase and
// bank, whatever the concurrency.
func TestSignConcurrentFailure(t *testing.T) {
	k := sigTestKeys(t)[0].priv
	in := concInputs(t)
	sorted := sortInputs(in)
	for _, victim := range []int{0, 9, 15} {
		pol, err := PolicyPCRDigest(sorted[victim].Bank, SignedPCR, sorted[victim].Value)
		if err != nil {
			t.Fatal(err)
		}
		h := crypto.SHA256.New()
		h.Write(PolicyToBeSigned(pol, ""))
		want := fmt.Sprintf("phase %q, bank %s", sorted[victim].Phase, sorted[victim].Bank.Name)
		for _, limit := range []int{1, 3} {
			cs := concurrentSigner{&countingSigner{k: k, limit: limit, failOn: h.Sum(nil)}}
			doc, err := Sign(in, SignOptions{Signer: cs})
			if doc != nil || !errors.Is(err, errTokenFailed) || !strings.Contains(err.Error(), want) {
				t.Errorf("signature %d fails, limit %d: doc %v, err %v (want it to name %s)", victim, limit, doc != nil, err, want)
			}
		}
	}
}
