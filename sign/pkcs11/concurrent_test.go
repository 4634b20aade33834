//go:build cgo

package pkcs11

import (
	"bytes"
	"testing"

	"github.com/ukibuild/ukibuild/pcr"
	"github.com/ukibuild/ukibuild/pcrsig"
)

// TestPCRSignConcurrent: a Key is a pcrsig.ConcurrentSigner with the size of
// crypto11's session pool (1 with its single CKM_RSA_X_509 session), and
// pcrsig.Sign gives the same policies (16: 4 banks × 4 phase paths) with the
// token's signatures made concurrently and one by one.
func TestPCRSignConcurrent(t *testing.T) {
	softhsm(t)
	u := uri("token="+testToken+";object=signer", "pin-value="+testPIN)
	in := defaultBuildInputs()
	sign := func(k *Key, max int) string {
		t.Helper()
		d, err := pcrsig.Sign(in, pcrsig.SignOptions{Signer: k, MaxConcurrency: max})
		if err != nil {
			t.Fatal(err)
		}
		return string(d.JSON(pcr.MeasureJSONShort))
	}
	var _ pcrsig.ConcurrentSigner = (*Key)(nil)
	k := open(t, u, Options{})
	// SoftHSM2 reports no read-write session limit: crypto11 lends
	// maxSessions-1 sessions.
	if n := k.MaxConcurrentSigns(); n != maxSessions-1 || pcrsig.SignConcurrency(k) != n {
		t.Errorf("MaxConcurrentSigns() = %d, SignConcurrency = %d, want %d", n, pcrsig.SignConcurrency(k), maxSessions-1)
	}
	seq := sign(k, 1)
	if got := sign(k, 0); got != seq {
		t.Error("concurrent signatures differ from sequential ones")
	}
	raw := openWith(t, u, Options{}, true)
	if n := raw.MaxConcurrentSigns(); n != 1 {
		t.Errorf("%s key: MaxConcurrentSigns() = %d, want 1", MechanismRawRSA, n)
	}
	if got := sign(raw, 0); got != seq {
		t.Errorf("%s signatures differ", MechanismRawRSA)
	}
}

// defaultBuildInputs are the 16 policies of a default build: 4 banks × 4
// phase paths.
func defaultBuildInputs() []pcrsig.PolicyInput {
	var in []pcrsig.PolicyInput
	for p, phase := range []string{"enter-initrd", "enter-initrd:leave-initrd", "enter-initrd:leave-initrd:sysinit", "enter-initrd:leave-initrd:sysinit:ready"} {
		for _, b := range pcr.AllBanks() {
			in = append(in, pcrsig.PolicyInput{Phase: phase, Bank: b, Value: bytes.Repeat([]byte{byte(p + 1)}, b.Hash.Size())})
		}
	}
	return in
}

// BenchmarkPCRSign signs the 16 policies of a default build with the
// SoftHSM2 fixture's RSA-2048 key, one by one and concurrently (3 sessions).
// SoftHSM2 signs on the CPU, so this shows the gain on this machine's cores,
// not a remote token's latency (see pcrsig's BenchmarkSignLatency).
func BenchmarkPCRSign(b *testing.B) {
	softhsm(b)
	k := open(b, uri("token="+testToken+";object=signer", "pin-value="+testPIN), Options{})
	in := defaultBuildInputs()
	for _, c := range []struct {
		name string
		max  int
	}{{"sequential", 1}, {"concurrent", 0}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := pcrsig.Sign(in, pcrsig.SignOptions{Signer: k, MaxConcurrency: c.max}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestPoolSize(t *testing.T) {
	for _, c := range []struct {
		maxRW uint
		want  int
	}{{0, 3}, {^uint(0), 3}, {1, 1}, {2, 1}, {3, 2}, {4, 3}, {100, 3}} {
		if got := poolSize(c.maxRW); got != c.want {
			t.Errorf("poolSize(%d) = %d, want %d", c.maxRW, got, c.want)
		}
	}
}
