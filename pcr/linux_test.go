package pcr_test

import (
	"testing"

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
		want := pcr.LinuxEvents(*cmdline, nil, []pcr.Bank{pcr.SHA1, pcr.SHA256})
		seen := pcr.Select(v.events, []int{9})
		if len(seen) != 2 || seen[1].Type != pcr.EvEventTag || seen[1].Description != "tag 0x8f3b22ec Linux initrd" {
			t.Fatalf("%s: PCR 9 events %v", v.name, seen)
		}
		if r := pcr.CompareEvents(want, seen[:1], []int{9})[0]; !r.Match {
			t.Errorf("%s: %s", v.name, r)
		}
		other := pcr.LinuxEvents(*cmdline+" quiet", nil, []pcr.Bank{pcr.SHA256})
		if r := pcr.CompareEvents(other, seen[:1], []int{9})[0]; r.Match || r.Index != 0 {
			t.Errorf("%s: another command line: %s", v.name, r)
		}
	}
}

// TestStubInitrdVersions: only the stub versions the boot tests cover are
// modelled.
func TestStubInitrdVersions(t *testing.T) {
	secs := map[string][]byte{".initrd": []byte("initrd"), ".pcrpkey": []byte("key"), ".osrel": []byte("ID=x")}
	a, err := pcr.StubInitrd(252, secs, pcr.StubExtras{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := pcr.StubInitrd(262, secs, pcr.StubExtras{})
	if err != nil {
		t.Fatal(err)
	}
	if len(b) <= len(a) || string(a[:6]) != "initrd" {
		t.Errorf("262 must add os-release to 252's initrd: %d, %d bytes", len(a), len(b))
	}
	if _, err := pcr.StubInitrd(257, secs, pcr.StubExtras{}); err == nil {
		t.Error("stub 257's initrd is not modelled, yet no error")
	}
}
