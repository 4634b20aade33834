package pcrsig

import (
	"crypto"
	"io"
	"testing"
	"time"
)

// slowSigner adds a fixed latency to every signature, as a token's round
// trip would; it declares the concurrency a session pool would allow.
type slowSigner struct {
	*countingSigner
	delay time.Duration
}

func (s slowSigner) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	time.Sleep(s.delay)
	return s.k.Sign(r, d, o)
}

func (s slowSigner) MaxConcurrentSigns() int { return s.limit }

// BenchmarkSignLatency signs the 16 policies of a default build (4 banks ×
// 4 phase paths) with a signer that takes 50 ms per signature (a slow
// token; the latency is simulated) and allows 3 at once (sign/pkcs11's
// pool), one by one and concurrently.
func BenchmarkSignLatency(b *testing.B) {
	k := sigTestKeys(b)[0].priv
	in := concInputs(b)
	s := slowSigner{&countingSigner{k: k, limit: 3}, 50 * time.Millisecond}
	for _, c := range []struct {
		name string
		max  int
	}{{"sequential", 1}, {"concurrent", 0}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := Sign(in, SignOptions{Signer: s, MaxConcurrency: c.max}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
