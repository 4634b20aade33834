package eventlog_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ukibuild/ukibuild/eventlog"
	"github.com/ukibuild/ukibuild/pcr"
)

// readExtraDir reads the files of a recorded directory (none when absent).
func readExtraDir(t *testing.T, dir string) []eventlog.ExtraFile {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var files []eventlog.ExtraFile
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, eventlog.ExtraFile{Name: e.Name(), Data: b})
	}
	return files
}

// TestEventLogVectorsGlobalExtras: the stub 262.1, 257, 254 and 252 boots
// with a credential, a system extension and a configuration extension both
// in BOOTX64.EFI.extra.d/ and in the ESP's /loader/credentials/ and
// /loader/extensions/ (and, for 262 and 252, the e2e add-on in extra.d/).
// FindExtras sorts the recorded files as each stub did (the guest's /.extra
// shows where the stub put each file), and StubBoot.KernelConfigEvents
// predicts PCR 12 and 13 of each log event by event (262: the add-on's
// command line, then four PCR 12 archives and two PCR 13 archives; 257:
// three PCR 12 archives, no global extensions; 254 and 252: the two
// credential archives and one system extension archive holding both *.raw
// of extra.d/); the logs replay to the TPM's PCR 12 and 13. Sorting the 262
// files as stub 252 does is reported at PCR 12's configuration extension
// event and PCR 13's first.
func TestEventLogVectorsGlobalExtras(t *testing.T) {
	banks := []pcr.Bank{pcr.SHA1, pcr.SHA256}
	for _, c := range []struct {
		major        int
		pcr12, pcr13 int
		guest        []string // /.extra paths the guest listed
	}{
		{262, 5, 2, []string{
			"/.extra/credentials/ukibuild-e2e.cred", "/.extra/global_credentials/ukibuild-global.cred",
			"/.extra/sysext/ukibuild-e2e.raw", "/.extra/global_sysext/ukibuild-global.raw",
			"/.extra/confext/ukibuild-e2e.confext.raw", "/.extra/global_confext/ukibuild-global.confext.raw",
		}},
		{257, 3, 1, []string{
			"/.extra/credentials/ukibuild-e2e.cred", "/.extra/global_credentials/ukibuild-global.cred",
			"/.extra/sysext/ukibuild-e2e.raw", "/.extra/confext/ukibuild-e2e.confext.raw",
		}},
		{254, 2, 1, []string{
			"/.extra/credentials/ukibuild-e2e.cred", "/.extra/global_credentials/ukibuild-global.cred",
			"/.extra/sysext/ukibuild-e2e.confext.raw", "/.extra/sysext/ukibuild-e2e.raw",
		}},
		{252, 2, 1, []string{
			"/.extra/credentials/ukibuild-e2e.cred", "/.extra/global_credentials/ukibuild-global.cred",
			"/.extra/sysext/ukibuild-e2e.confext.raw", "/.extra/sysext/ukibuild-e2e.raw",
		}},
	} {
		t.Run(strconv.Itoa(c.major), func(t *testing.T) {
			name := fmt.Sprintf("ovmf-sb-stub%d-global", c.major)
			v := loadLog(t, name)
			if n := v.checkReplay(t); n < 5 {
				t.Errorf("%s.pcrs: %d values, want PCR 7, 11 (2), 12 and 13", name, n)
			}
			base := filepath.Join(vectorDir, name)
			guest, err := os.ReadFile(base + ".guest-extra.txt")
			if err != nil {
				t.Fatal(err)
			}
			var listed []string
			for _, l := range strings.Split(strings.TrimSpace(string(guest)), "\n") {
				if f := strings.Fields(l); len(f) == 4 && f[0] == "extra" && !strings.HasPrefix(f[1], "/.extra/tpm2-") && f[1] != "/.extra/os-release" {
					listed = append(listed, f[1])
				}
			}
			slices.Sort(listed)
			if !slices.Equal(listed, slices.Sorted(slices.Values(c.guest))) {
				t.Errorf("the guest's /.extra extras %q, want %q", listed, c.guest)
			}
			local := readExtraDir(t, base+".extra.d")
			x, err := eventlog.FindExtras(c.major, local, readExtraDir(t, base+".esp/loader/credentials"), readExtraDir(t, base+".esp/loader/extensions"))
			if err != nil {
				t.Fatal(err)
			}
			b := eventlog.StubBoot{Major: c.major, SecureBoot: true, HasCmdline: true, Cmdline: []byte("console=ttyS0 panic=-1"), Extras: x}
			if c.major == 262 {
				// The add-on is not kept; its command line is all that
				// PCR 12 holds of it (TestEventLogVectorAddon checks the
				// rest against a rebuilt copy).
				b.Addons = []eventlog.Addon{{Name: "ukibuild-e2e.addon.efi", Sections: map[string][]byte{".cmdline": []byte("ukibuild.addon=e2e")}}}
			}
			want, err := b.KernelConfigEvents(banks)
			if err != nil {
				t.Fatal(err)
			}
			res := eventlog.CompareEvents(want, v.events, []int{12, 13})
			if !res[0].Match || res[0].Events != c.pcr12 || !res[1].Match || res[1].Events != c.pcr13 {
				t.Errorf("stub %d: %s; %s; want %d and %d matching events", c.major, res[0], res[1], c.pcr12, c.pcr13)
			}
			if c.major != 262 {
				return
			}
			old, err := eventlog.FindExtras(252, local, readExtraDir(t, base+".esp/loader/credentials"), readExtraDir(t, base+".esp/loader/extensions"))
			if err != nil {
				t.Fatal(err)
			}
			b.Extras = old
			bad, err := b.KernelConfigEvents(banks)
			if err != nil {
				t.Fatal(err)
			}
			res = eventlog.CompareEvents(bad, v.events, []int{12, 13})
			if res[0].Match || res[0].Index != 3 || res[1].Match || res[1].Index != 0 {
				t.Errorf("the 262 files sorted as stub 252 does: %s; %s; want PCR 12 to differ at event 3, PCR 13 at 0", res[0], res[1])
			}
		})
	}
}
