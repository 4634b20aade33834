package eventlog

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"

	"github.com/ukibuild/ukibuild/pcr"
)

// TestEntryExtrasEvents: systemd-boot's archive of one file is
// systemd-stub's (StubCPIO, whose digests the boot tests check against
// stub 252-262's logs: the same cpio.c functions, prefix once, inodes from
// 1); with several files the prefix is repeated and the inodes run on
// across kinds, in the entry's order; unknown kinds and empty files are
// skipped. (The boot test, internal/e2e case 15, checks the digests
// against systemd-boot 262.1's log.)
func TestEntryExtrasEvents(t *testing.T) {
	banks := []pcr.Bank{pcr.SHA256}
	one := []byte("a credential\n")
	evs, err := EntryExtrasEvents([]EntryExtra{{Name: "a.cred", Content: pcr.Bytes(one)}}, banks)
	if err != nil {
		t.Fatal(err)
	}
	stub, err := StubCPIO(".extra/credentials", 0o500, 0o400, []ExtraFile{{Name: "a.cred", Data: one}})
	if err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(stub)
	if len(evs) != 1 || evs[0].PCR != 12 || evs[0].Type != EvIPL || !bytes.Equal(evs[0].Digests[0].Digest, want[:]) {
		t.Fatalf("one credential: %v, want PCR 12 EV_IPL sha256 %x", evs, want)
	}

	files := []EntryExtra{
		{Name: "z.sysext.raw", Content: pcr.Bytes([]byte("sysext"))},
		{Name: "b.cred", Content: pcr.Bytes([]byte("b"))},
		{Name: "plain.raw", Content: pcr.Bytes([]byte("not a sysext for systemd-boot"))},
		{Name: "empty.cred", Content: pcr.Bytes([]byte(""))},
		{Name: "A.CRED", Content: pcr.Bytes([]byte("a"))},
		{Name: "c.confext.raw", Content: pcr.Bytes([]byte("confext"))},
	}
	evs, err = EntryExtrasEvents(files, banks)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range evs {
		got = append(got, ev.Description)
	}
	wantDesc := "Entry credentials initrd (b.cred A.CRED)|Entry system extension initrd (z.sysext.raw)|Entry configuration extension initrd (c.confext.raw)"
	if strings.Join(got, "|") != wantDesc || evs[0].PCR != 12 || evs[1].PCR != 13 || evs[2].PCR != 12 {
		t.Fatalf("events %v, want %s on PCR 12, 13, 12", evs, wantDesc)
	}
	// The credentials' archive: inodes 1-2 the prefix of z.sysext.raw, 3
	// the file; 4-5 the prefix again, 6 b.cred; 7-8, 9 A.CRED.
	var a []byte
	hdr := func(ino, mode uint32, size int, name string) {
		a = append(a, "070701"...)
		for _, w := range []uint32{ino, mode, 0, 0, 1, 0, uint32(size), 0, 0, 0, 0, uint32(len(name) + 1), 0} {
			a = fmt.Appendf(a, "%08x", w)
		}
		a = append(a, name...)
		a = append(a, 0)
		for len(a)%4 != 0 {
			a = append(a, 0)
		}
	}
	for _, f := range []struct {
		ino  uint32
		name string
	}{{4, "b.cred"}, {7, "A.CRED"}} {
		hdr(f.ino, 0o40555, 0, ".extra")
		hdr(f.ino+1, 0o40500, 0, ".extra/credentials")
		hdr(f.ino+2, 0o100400, 1, ".extra/credentials/"+f.name)
		a = append(a, strings.ToLower(f.name[:1])[0], 0, 0, 0)
	}
	// The trailer as cpio.c writes it: nlink 1, name size "0000000B".
	a = append(a, "070701"+strings.Repeat("0", 32)+"00000001"+strings.Repeat("0", 48)+"0000000B00000000TRAILER!!!\x00\x00\x00\x00"...)
	want = sha256.Sum256(a)
	if !bytes.Equal(evs[0].Digests[0].Digest, want[:]) {
		t.Errorf("credentials archive: sha256 %x, want %x", evs[0].Digests[0].Digest, want)
	}
}
