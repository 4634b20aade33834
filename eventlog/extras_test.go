package eventlog_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ukibuild/ukibuild/eventlog"
	"github.com/ukibuild/ukibuild/internal/reftools"
	"github.com/ukibuild/ukibuild/pcr"
)

// TestEventLogVectorsPCR12And13: the stub 262 boot with a credential and a
// system extension in BOOTX64.EFI.extra.d/ logged one PCR 12 and one PCR
// 13 event; ExtrasEvents for those files predicts both (the stub's cpio
// archives, StubCPIO), the log replays to the TPM's PCR 11, and a
// credential changed by one byte is reported at PCR 12's event.
func TestEventLogVectorsPCR12And13(t *testing.T) {
	v := loadLog(t, "ovmf-sb-stub262-extras")
	v.checkReplay(t)
	base := filepath.Join(vectorDir, v.name)
	files := readExtraDir(t, base+".extra.d")
	// What the guest found in /.extra: the files, unchanged.
	guest, err := os.ReadFile(base + ".guest-extra.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		sum := sha256.Sum256(f.Data)
		if !strings.Contains(string(guest), f.Name+" "+strconv.Itoa(len(f.Data))+" "+hex.EncodeToString(sum[:])) {
			t.Errorf("the guest did not list %s with its size and SHA-256:\n%s", f.Name, guest)
		}
	}
	x := eventlog.StubExtras{
		Credentials: eventlog.SelectExtras(files, ".cred", ""),
		Sysexts:     eventlog.SelectExtras(files, ".raw", ".confext.raw"),
	}
	if len(x.Credentials) != 1 || len(x.Sysexts) != 1 {
		t.Fatalf("extras %+v", x)
	}
	banks := []pcr.Bank{pcr.SHA1, pcr.SHA256}
	want, err := eventlog.ExtrasEvents(x, banks)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range eventlog.CompareEvents(want, v.events, []int{12, 13}) {
		if !r.Match || r.Events != 1 {
			t.Errorf("%s", r)
		}
	}
	x.Credentials = []eventlog.ExtraFile{{Name: x.Credentials[0].Name, Data: append([]byte("X"), x.Credentials[0].Data[1:]...)}}
	bad, _ := eventlog.ExtrasEvents(x, banks)
	r := eventlog.CompareEvents(bad, v.events, []int{12, 13})
	if r[0].Match || r[0].Index != 0 || !r[1].Match {
		t.Errorf("a changed credential: %s; %s", r[0], r[1])
	}
}

// utf16le is s as the stub's char16_t literals hold it.
func utf16le(s string) []byte {
	var b []byte
	for _, r := range s {
		b = append(b, byte(r), byte(r>>8))
	}
	return b
}

// TestStubExtrasFeatures ties FindExtras' version table to Debian's stub
// binaries: a stub sorts *.confext.raw in extra.d/ into configuration
// extensions exactly when its code names u".confext.raw" and the
// .extra/confext target, and takes /loader/extensions/ exactly when it names
// u"\\loader\\extensions" and the .extra/global_sysext target.
func TestStubExtrasFeatures(t *testing.T) {
	tools := reftools.Locate(t)
	local := []eventlog.ExtraFile{{Name: "a.raw", Data: []byte("s")}, {Name: "b.confext.raw", Data: []byte("c")}}
	global := []eventlog.ExtraFile{{Name: "g.raw", Data: []byte("gs")}, {Name: "h.confext.raw", Data: []byte("gc")}}
	for _, key := range []string{"UKIBUILD_STUB_252", "UKIBUILD_STUB_254", "UKIBUILD_STUB_257", "UKIBUILD_STUB_262"} {
		path := tools.Path(t, key)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		v, err := pcr.StubVersion(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		major, err := pcr.MajorVersion(v)
		if err != nil {
			t.Fatal(err)
		}
		hasConfext := bytes.Contains(b, utf16le(".confext.raw")) && bytes.Contains(b, []byte(".extra/confext\x00"))
		hasGlobal := bytes.Contains(b, utf16le(`\loader\extensions`)) && bytes.Contains(b, []byte(".extra/global_sysext\x00")) &&
			bytes.Contains(b, []byte(".extra/global_confext\x00"))
		x, err := eventlog.FindExtras(major, local, nil, global)
		if err != nil {
			t.Errorf("stub %s: %v", v, err)
			continue
		}
		if got := len(x.Confexts) == 1 && len(x.Sysexts) == 1; got != hasConfext {
			t.Errorf("stub %s: configuration extensions %v (sysexts %v), the binary names them: %v", v, x.Confexts, x.Sysexts, hasConfext)
		}
		if !hasConfext && len(x.Sysexts) != 2 {
			t.Errorf("stub %s: sysexts %v, want both *.raw", v, x.Sysexts)
		}
		if got := len(x.GlobalSysexts) == 1 && len(x.GlobalConfexts) == 1; got != hasGlobal {
			t.Errorf("stub %s: global extensions %v %v, the binary names /loader/extensions: %v", v, x.GlobalSysexts, x.GlobalConfexts, hasGlobal)
		}
		if !hasGlobal && (len(x.GlobalSysexts) != 0 || len(x.GlobalConfexts) != 0) {
			t.Errorf("stub %s: global extensions %v %v, want none", v, x.GlobalSysexts, x.GlobalConfexts)
		}
	}
}

// TestFindExtras: which kinds files become by version, and the refusals.
func TestFindExtras(t *testing.T) {
	f := func(names ...string) []eventlog.ExtraFile {
		var out []eventlog.ExtraFile
		for _, n := range names {
			out = append(out, eventlog.ExtraFile{Name: n, Data: []byte(n)})
		}
		return out
	}
	names := func(fs []eventlog.ExtraFile) string {
		var s []string
		for _, x := range fs {
			s = append(s, x.Name)
		}
		return strings.Join(s, ",")
	}
	local := f("a.cred", "b.raw", "c.confext.raw", ".hidden.raw", "d.RAW", "e.txt")
	creds, exts := f("g.cred", "h.raw"), f("i.raw", "j.confext.raw", "k.cred")
	for _, c := range []struct {
		major                                 int
		creds, gcreds, sys, gsys, conf, gconf string
	}{
		{252, "a.cred", "g.cred", "b.raw,c.confext.raw,d.RAW", "", "", ""},
		{254, "a.cred", "g.cred", "b.raw,c.confext.raw,d.RAW", "", "", ""},
		{257, "a.cred", "g.cred", "b.raw,d.RAW", "", "c.confext.raw", ""},
		{262, "a.cred", "g.cred", "b.raw,d.RAW", "i.raw", "c.confext.raw", "j.confext.raw"},
		{263, "a.cred", "g.cred", "b.raw,d.RAW", "i.raw", "c.confext.raw", "j.confext.raw"},
	} {
		x, err := eventlog.FindExtras(c.major, local, creds, exts)
		if err != nil {
			t.Errorf("%d: %v", c.major, err)
			continue
		}
		got := []string{names(x.Credentials), names(x.GlobalCredentials), names(x.Sysexts), names(x.GlobalSysexts), names(x.Confexts), names(x.GlobalConfexts)}
		want := []string{c.creds, c.gcreds, c.sys, c.gsys, c.conf, c.gconf}
		if !slices.Equal(got, want) {
			t.Errorf("%d: got %q, want %q", c.major, got, want)
		}
	}
	// The version is asked for only when it matters.
	if x, err := eventlog.FindExtras(0, f("a.cred", "b.raw"), creds, nil); err != nil || names(x.Sysexts) != "b.raw" {
		t.Errorf("no version, nothing version-dependent: %+v, %v", x, err)
	}
	for _, c := range []struct {
		major       int
		local, exts []eventlog.ExtraFile
		want        string
	}{
		{0, f("c.confext.raw"), nil, "version is unknown"},
		{255, f("c.confext.raw"), nil, "systemd-stub 255 picks up configuration extensions (*.confext.raw) is not known (254 does not, 257 does)"},
		{0, nil, f("i.raw"), "version is unknown"},
		{258, nil, f("j.confext.raw"), "systemd-stub 258 picks up extensions in /loader/extensions/ is not known (257 does not, 262 does)"},
	} {
		if _, err := eventlog.FindExtras(c.major, c.local, nil, c.exts); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%d %v %v: error %v, want one saying %q", c.major, names(c.local), names(c.exts), err, c.want)
		}
	}
}

// TestExtrasEventsOrder: one event per kind with files, in the stub's
// order, each into its PCR with its description.
func TestExtrasEventsOrder(t *testing.T) {
	one := func(n string) []eventlog.ExtraFile { return []eventlog.ExtraFile{{Name: n, Data: []byte(n)}} }
	x := eventlog.StubExtras{
		GlobalConfexts: one("f.confext.raw"), Confexts: one("e.confext.raw"), GlobalSysexts: one("d.raw"),
		Sysexts: one("c.raw"), GlobalCredentials: one("b.cred"), Credentials: one("a.cred"),
	}
	evs, err := eventlog.ExtrasEvents(x, []pcr.Bank{pcr.SHA256})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs {
		got = append(got, fmt.Sprintf("%d %s", e.PCR, e.Description))
	}
	want := []string{
		"12 Credentials initrd (a.cred)", "12 Global credentials initrd (b.cred)",
		"13 System extension initrd (c.raw)", "13 Global system extension initrd (d.raw)",
		"12 Configuration extension initrd (e.confext.raw)", "12 Global configuration extension initrd (f.confext.raw)",
	}
	if !slices.Equal(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
	cpio, err := eventlog.StubCPIO(".extra/global_sysext", 0o555, 0o444, x.GlobalSysexts)
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(cpio); !bytes.Equal(evs[3].Digests[0].Digest, sum[:]) {
		t.Errorf("global sysext event digest %x, want H(the .extra/global_sysext archive) %x", evs[3].Digests[0].Digest, sum)
	}
}
