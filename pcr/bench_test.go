package pcr

import "testing"

// BenchmarkMeasure hashes a 64 MiB initrd and a small command line into
// all four banks (one read, the banks in parallel).
func BenchmarkMeasure(b *testing.B) {
	initrd := make([]byte, 64<<20)
	secs := []Section{{Name: ".cmdline", Content: Bytes([]byte("quiet"))}, {Name: ".initrd", Content: Bytes(initrd)}}
	order, err := OrderFor("262.1")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(initrd)))
	for b.Loop() {
		if _, err := Measure(order, secs, AllBanks()); err != nil {
			b.Fatal(err)
		}
	}
}
