package eventlog_test

import (
	"bytes"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/ukibuild/ukibuild/eventlog"
	"github.com/ukibuild/ukibuild/pcr"
)

// TestEventLogVectorsPCR9: the first PCR 9 event of the recorded boots is
// LinuxEvents' LoadOptions event for the UKI's .cmdline (as ukify inspect
// printed it), in both banks; the second is the initrd's, whose data (the
// UKI's .initrd with the stub's archives) is not kept here: the boot tests
// check it against StubInitrd.
func TestEventLogVectorsPCR9(t *testing.T) {
	for _, version := range []string{"252", "262"} {
		v := loadVector(t, version)
		cmdline := v.inspect[".cmdline"].Text
		if cmdline == nil {
			t.Fatalf("%s: no .cmdline text", v.name)
		}
		want, err := eventlog.LinuxEvents(*cmdline, nil, []pcr.Bank{pcr.SHA1, pcr.SHA256})
		if err != nil {
			t.Fatal(err)
		}
		seen := eventlog.Select(v.events, []int{9})
		if len(seen) != 2 || seen[1].Type != eventlog.EvEventTag || seen[1].Description != "tag 0x8f3b22ec Linux initrd" {
			t.Fatalf("%s: PCR 9 events %v", v.name, seen)
		}
		if r := eventlog.CompareEvents(want, seen[:1], []int{9})[0]; !r.Match {
			t.Errorf("%s: %s", v.name, r)
		}
		other, err := eventlog.LinuxEvents(*cmdline+" quiet", nil, []pcr.Bank{pcr.SHA256})
		if err != nil {
			t.Fatal(err)
		}
		if r := eventlog.CompareEvents(other, seen[:1], []int{9})[0]; r.Match || r.Index != 0 {
			t.Errorf("%s: another command line: %s", v.name, r)
		}
	}
}

// readSized reads all of c (nil: nothing).
func readSized(t *testing.T, c pcr.Sized) []byte {
	t.Helper()
	if c == nil {
		return nil
	}
	rc, err := c.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(b)) != c.Size() {
		t.Fatalf("read %d bytes of a %d-byte content", len(b), c.Size())
	}
	return b
}

// TestStubInitrdVersions: only the stub versions the boot tests cover are
// modelled; from 257 on the stub adds an os-release archive.
func TestStubInitrdVersions(t *testing.T) {
	secs := map[string]pcr.Sized{".initrd": pcr.Bytes([]byte("initrd")), ".pcrpkey": pcr.Bytes([]byte("key")), ".osrel": pcr.Bytes([]byte("ID=x"))}
	got := map[int][]byte{}
	for _, major := range []int{252, 254, 257, 262} {
		c, err := eventlog.StubInitrd(major, secs, eventlog.StubExtras{})
		if err != nil {
			t.Fatal(err)
		}
		got[major] = readSized(t, c)
	}
	if a, b := got[252], got[262]; len(b) <= len(a) || !bytes.HasPrefix(a, []byte("initrd")) {
		t.Errorf("262 must add os-release to 252's initrd: %d, %d bytes", len(a), len(b))
	}
	if !bytes.Equal(got[252], got[254]) || !bytes.Equal(got[257], got[262]) {
		t.Errorf("254's initrd must be 252's (%d, %d bytes), 257's 262's (%d, %d bytes)", len(got[252]), len(got[254]), len(got[257]), len(got[262]))
	}
	for _, major := range []int{253, 255, 258} {
		if _, err := eventlog.StubInitrd(major, secs, eventlog.StubExtras{}); err == nil {
			t.Errorf("stub %d's initrd is not modelled, yet no error", major)
		}
	}
}

// TestStubInitrdPadding: an initrd whose length is not a multiple of 4 is
// padded with zeros when the stub appends archives to it (combine_initrd
// in 252, combine_initrds in 262), and handed over as it is when alone;
// the archives are StubCPIO's, read from the files' contents.
func TestStubInitrdPadding(t *testing.T) {
	initrd := pcr.Bytes([]byte("initrd!")) // 7 bytes
	for _, major := range []int{252, 262} {
		alone, err := eventlog.StubInitrd(major, map[string]pcr.Sized{".initrd": initrd}, eventlog.StubExtras{})
		if err != nil {
			t.Fatal(err)
		}
		if got := string(readSized(t, alone)); got != "initrd!" {
			t.Errorf("%d: a lone initrd became %q", major, got)
		}
		cred := []eventlog.ExtraFile{{Name: "a.cred", Data: []byte("abc")}}
		withCred, err := eventlog.StubInitrd(major, map[string]pcr.Sized{".initrd": initrd}, eventlog.StubExtras{Credentials: cred})
		if err != nil {
			t.Fatal(err)
		}
		archive, err := eventlog.StubCPIO(".extra/credentials", 0o500, 0o400, cred)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := readSized(t, withCred), append([]byte("initrd!\x00"), archive...); !bytes.Equal(got, want) {
			t.Errorf("%d: initrd with a credential %q, want %q", major, got, want)
		}
	}
}

// shortContent claims more bytes than it yields.
type shortContent struct{}

func (shortContent) Size() int64 { return 10 }
func (shortContent) Open() (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader("12345")), nil
}

// TestStubCPIOContentSize: a file that yields fewer bytes than its size
// said (it changed while being read) fails the prediction, and one given
// as Content packs like the same bytes given as Data.
func TestStubCPIOContentSize(t *testing.T) {
	_, err := eventlog.ExtrasEvents(eventlog.StubExtras{Sysexts: []eventlog.ExtraFile{{Name: "x.raw", Content: shortContent{}}}}, []pcr.Bank{pcr.SHA256})
	if err == nil {
		t.Error("a file shorter than its size was packed")
	}
	a, err := eventlog.ExtrasEvents(eventlog.StubExtras{Sysexts: []eventlog.ExtraFile{{Name: "x.raw", Content: pcr.Bytes([]byte("12345"))}}}, []pcr.Bank{pcr.SHA256})
	if err != nil {
		t.Fatal(err)
	}
	b, err := eventlog.ExtrasEvents(eventlog.StubExtras{Sysexts: []eventlog.ExtraFile{{Name: "x.raw", Data: []byte("12345")}}}, []pcr.Bank{pcr.SHA256})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a[0].Digests[0].Digest, b[0].Digests[0].Digest) {
		t.Error("Content and Data pack differently")
	}
}

// TestStubInitrdAfter: stub 262 puts a boot loader's initrd before .initrd
// and the profile's .profile as /.extra/profile after os-release (stub.c's
// initrd slots), each piece padded to 4 bytes; other versions refuse both.
// (Boot test case 15 checks the digest against systemd-stub 262.1's.)
func TestStubInitrdAfter(t *testing.T) {
	prev := []byte("previous")
	secs := map[string]pcr.Sized{".initrd": pcr.Bytes([]byte("initrd")), ".osrel": pcr.Bytes([]byte("ID=x")), ".profile": pcr.Bytes([]byte("ID=one"))}
	c, err := eventlog.StubInitrdAfter(262, pcr.Bytes(prev), secs, eventlog.StubExtras{})
	if err != nil {
		t.Fatal(err)
	}
	osrel, err := eventlog.StubCPIO(".extra", 0o555, 0o444, []eventlog.ExtraFile{{Name: "os-release", Data: []byte("ID=x")}})
	if err != nil {
		t.Fatal(err)
	}
	profile, err := eventlog.StubCPIO(".extra", 0o555, 0o444, []eventlog.ExtraFile{{Name: "profile", Data: []byte("ID=one")}})
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Concat(prev, []byte("initrd\x00\x00"), osrel, profile)
	if got := readSized(t, c); !bytes.Equal(got, want) {
		t.Errorf("262: %d bytes, want %d (previous, .initrd padded, os-release, profile)", len(got), len(want))
	}
	if _, err := eventlog.StubInitrdAfter(257, pcr.Bytes(prev), map[string]pcr.Sized{".initrd": pcr.Bytes([]byte("initrd"))}, eventlog.StubExtras{}); err == nil {
		t.Error("257 with a previous initrd: no error")
	}
	if _, err := eventlog.StubInitrdAfter(257, nil, secs, eventlog.StubExtras{}); err == nil {
		t.Error("257 with a .profile: no error")
	}
}
