package pcr_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"

	"github.com/ukibuild/ukibuild/pcr"
)

// The sections a systemd-stub 262.1 measures, in its order, with their
// digests: .pcrsig is never measured and an empty section is skipped. The
// printed checks hold by construction: each digest is SHA-256 of the
// section's bytes, and extending PCR 11 with H(name + NUL) and the digest of
// each gives Measure's value.
func ExampleMeasuredSections() {
	order, err := pcr.OrderFor("262.1")
	if err != nil {
		panic(err)
	}
	data := map[string]string{".cmdline": "root=/dev/vda1", ".linux": "kernel image", ".initrd": "", ".pcrsig": "{}"}
	var sections []pcr.Section
	for _, name := range []string{".cmdline", ".linux", ".initrd", ".pcrsig"} {
		sections = append(sections, pcr.Section{Name: name, Content: pcr.Bytes([]byte(data[name]))})
	}
	banks := []pcr.Bank{pcr.SHA256}
	measured, err := pcr.MeasuredSections(order, sections, banks)
	if err != nil {
		panic(err)
	}
	v := pcr.SHA256.Zero()
	for _, ms := range measured {
		want := sha256.Sum256([]byte(data[ms.Name]))
		fmt.Printf("%s %d bytes, digest is SHA-256 of the data: %v\n", ms.Name, ms.Size, bytes.Equal(ms.Digests[0].Digest, want[:]))
		name := sha256.Sum256(append([]byte(ms.Name), 0))
		v = pcr.SHA256.Extend(pcr.SHA256.Extend(v, name[:]), ms.Digests[0].Digest)
	}
	m, err := pcr.Measure(order, sections, banks)
	if err != nil {
		panic(err)
	}
	fmt.Println("replay equals Measure:", bytes.Equal(v, m.Values[0].Digest))
	// Output:
	// .linux 12 bytes, digest is SHA-256 of the data: true
	// .cmdline 14 bytes, digest is SHA-256 of the data: true
	// replay equals Measure: true
}

// HashContent reads a content once and hashes it in every bank; each digest
// is the bank's hash of the bytes.
func ExampleHashContent() {
	data := []byte("an initrd")
	digests, n, err := pcr.HashContent(pcr.Bytes(data), []pcr.Bank{pcr.SHA1, pcr.SHA256})
	if err != nil {
		panic(err)
	}
	for _, d := range digests {
		h := d.Bank.Hash.New()
		h.Write(data)
		fmt.Printf("%s: %d bytes hashed, digest matches: %v\n", d.Bank, n, bytes.Equal(d.Digest, h.Sum(nil)))
	}
	// Output:
	// sha1: 9 bytes hashed, digest matches: true
	// sha256: 9 bytes hashed, digest matches: true
}
