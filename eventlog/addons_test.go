package eventlog_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ukibuild/ukibuild/eventlog"
	"github.com/ukibuild/ukibuild/internal/reftools"
	"github.com/ukibuild/ukibuild/pcr"
	"github.com/ukibuild/ukibuild/uki"
)

// sha256hex is H(b) written out by hand-made input, not by the code under
// test: the tests spell the stub's UTF-16LE strings byte by byte.
func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func digest(t *testing.T, ev eventlog.Event) string {
	t.Helper()
	d, ok := ev.Digest(pcr.SHA256)
	if !ok {
		t.Fatalf("%s has no sha256 digest", ev)
	}
	return hex.EncodeToString(d)
}

var sha256Only = []pcr.Bank{pcr.SHA256}

// TestProfileEvent: systemd-stub 262's measure_profile hashes the profile
// number as a UTF-16 string with its NUL, logged as EV_EVENT_TAG
// 0x13aed6db in PCR 12; profile 0 is not measured.
func TestProfileEvent(t *testing.T) {
	ev := eventlog.ProfileEvent(12, sha256Only)
	if ev.PCR != 12 || ev.Type != eventlog.EvEventTag || digest(t, ev) != sha256hex([]byte{'1', 0, '2', 0, 0, 0}) {
		t.Errorf("profile 12: %s", ev)
	}
	b := eventlog.StubBoot{Major: 262, Profile: 3}
	evs, err := b.KernelConfigEvents(sha256Only)
	if err != nil || len(evs) != 1 || digest(t, evs[0]) != sha256hex([]byte{'3', 0, 0, 0}) {
		t.Errorf("profile 3: %v %v", evs, err)
	}
	evs, err = eventlog.StubBoot{Major: 262}.KernelConfigEvents(sha256Only)
	if err != nil || len(evs) != 0 {
		t.Errorf("profile 0: %v %v", evs, err)
	}
	if _, err := (eventlog.StubBoot{Major: 252, Profile: 1}).KernelConfigEvents(sha256Only); err == nil || !strings.Contains(err.Error(), "no profiles") {
		t.Errorf("stub 252 with a profile: %v", err)
	}
	if _, err := (eventlog.StubBoot{Major: 257, Profile: 1}).KernelConfigEvents(sha256Only); err == nil || !strings.Contains(err.Error(), "not modelled") {
		t.Errorf("stub 257 with a profile: %v", err)
	}
}

// "quiet" in UTF-16LE with its NUL, as tpm_log_load_options hashes it.
var quietUTF16 = []byte{'q', 0, 'u', 0, 'i', 0, 'e', 0, 't', 0, 0, 0}

// TestLoadOptions: passed load options are used and measured (EV_IPL,
// PCR 12) unless Secure Boot is on and the UKI has a .cmdline; the stub
// mangles them first.
func TestLoadOptions(t *testing.T) {
	for _, c := range []struct {
		name       string
		b          eventlog.StubBoot
		cmdline    string
		measured   bool
		errContain string
	}{
		{"262 SB on, .cmdline: dropped", eventlog.StubBoot{Major: 262, SecureBoot: true, HasCmdline: true, Cmdline: []byte("root=x"), LoadOptions: "quiet"}, "root=x", false, ""},
		{"262 SB on, no .cmdline", eventlog.StubBoot{Major: 262, SecureBoot: true, LoadOptions: "  quiet \x7f "}, "quiet", true, ""},
		{"262 SB off, .cmdline", eventlog.StubBoot{Major: 262, HasCmdline: true, Cmdline: []byte("root=x\n"), LoadOptions: "quiet"}, "quiet", true, ""},
		{"262 only spaces: .cmdline", eventlog.StubBoot{Major: 262, HasCmdline: true, Cmdline: []byte("root=x\n"), LoadOptions: "   "}, "root=x", false, ""},
		{"252 SB off", eventlog.StubBoot{Major: 252, HasCmdline: true, Cmdline: []byte("root=x"), LoadOptions: "quiet  "}, "quiet", true, ""},
		{"252 SB on, .cmdline: dropped", eventlog.StubBoot{Major: 252, SecureBoot: true, HasCmdline: true, Cmdline: []byte("root=x"), LoadOptions: "quiet"}, "root=x", false, ""},
		{"control character", eventlog.StubBoot{Major: 262, LoadOptions: "a\tb"}, "", false, "control character"},
		{"stub 257", eventlog.StubBoot{Major: 257, LoadOptions: "quiet"}, "", false, "not modelled"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmdline, evs, err := c.b.CommandLine(sha256Only)
			if c.errContain != "" {
				if err == nil || !strings.Contains(err.Error(), c.errContain) {
					t.Fatalf("want an error with %q, got %v", c.errContain, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cmdline != c.cmdline {
				t.Errorf("command line %q, want %q", cmdline, c.cmdline)
			}
			if !c.measured {
				if len(evs) != 0 {
					t.Errorf("events %v, want none", evs)
				}
				return
			}
			if len(evs) != 1 || evs[0].PCR != 12 || evs[0].Type != eventlog.EvIPL || digest(t, evs[0]) != sha256hex(quietUTF16) {
				t.Errorf("events %v, want one PCR 12 EV_IPL H(UTF-16 \"quiet\" NUL)", evs)
			}
		})
	}
}

// TestMangleCmdline: the two versions of mangle_stub_cmdline.
func TestMangleCmdline(t *testing.T) {
	for _, c := range []struct {
		major   int
		in, out string
	}{
		{262, " \t a\tb\x7fc  \n", "a b c"},
		{262, "a  b", "a  b"},
		{262, "\n\n", ""},
		{252, " \ta\tb\x7f \n", "  a b\x7f"},
	} {
		if got := eventlog.MangleCmdline(c.major, c.in); got != c.out {
			t.Errorf("%d: %q → %q, want %q", c.major, c.in, got, c.out)
		}
	}
}

func addon(name string, global bool, secs ...string) eventlog.Addon {
	a := eventlog.Addon{Name: name, Global: global, Sections: map[string][]byte{}}
	for i := 0; i+1 < len(secs); i += 2 {
		a.Sections[secs[i]] = []byte(secs[i+1])
	}
	return a
}

// TestAddonEvents: the stub 262 rules for add-ons: global ones first, each
// directory sorted; one PCR 12 event for all command lines, after the load
// options; the credentials next; ucode add-ons last first, then initrd
// add-ons, each EV_EVENT_TAG with its tag; add-ons with .linux, without a
// section the stub uses or with another .uname skipped; the kernel command
// line and initrd extended.
func TestAddonEvents(t *testing.T) {
	b := eventlog.StubBoot{
		Major: 262, SecureBoot: true, HasCmdline: true, Cmdline: []byte("root=x\n"), Uname: []byte("6.1.0\x00"),
		Addons: []eventlog.Addon{
			addon("b.addon.efi", false, ".cmdline", "quiet\n", ".initrd", "INITRD-B", ".ucode", "UC-B"),
			addon("a.addon.efi", false, ".cmdline", " debug", ".ucode", "UC-A"),
			addon("z.addon.efi", true, ".cmdline", "global\x00ignored", ".uname", "6.1.0"),
			addon("kernel.addon.efi", false, ".cmdline", "no", ".linux", "MZ"),
			addon("other.addon.efi", false, ".cmdline", "no", ".uname", "6.2.0"),
			addon("empty.addon.efi", false, ".sbat", "sbat,1"),
		},
		Extras: eventlog.StubExtras{Credentials: []eventlog.ExtraFile{{Name: "x.cred", Data: []byte("c")}}},
	}
	names, err := b.Applied()
	if err != nil || strings.Join(names, " ") != "z.addon.efi a.addon.efi b.addon.efi" {
		t.Fatalf("applied %v %v", names, err)
	}
	cmdline, _, err := b.CommandLine(sha256Only)
	if err != nil || cmdline != "root=x global debug quiet" {
		t.Errorf("command line %q %v", cmdline, err)
	}
	evs, err := b.KernelConfigEvents(sha256Only)
	if err != nil {
		t.Fatal(err)
	}
	var utf16 []byte
	for _, c := range "global debug quiet" {
		utf16 = append(utf16, byte(c), 0)
	}
	want := []struct {
		typ    eventlog.EventType
		digest string
	}{
		{eventlog.EvIPL, sha256hex(append(utf16, 0, 0))},
		{eventlog.EvIPL, ""}, // the credentials archive (ExtrasEvents' own tests)
		{eventlog.EvEventTag, sha256hex([]byte("UC-B"))},
		{eventlog.EvEventTag, sha256hex([]byte("UC-A"))},
		{eventlog.EvEventTag, sha256hex([]byte("INITRD-B"))},
	}
	if len(evs) != len(want) {
		t.Fatalf("events %v, want %d", evs, len(want))
	}
	for i, w := range want {
		if evs[i].PCR != 12 || evs[i].Type != w.typ || (w.digest != "" && digest(t, evs[i]) != w.digest) {
			t.Errorf("event %d: %s, want %s %s", i, evs[i], w.typ, w.digest)
		}
	}
	initrd, err := b.LinuxInitrd(pcr.Bytes([]byte("BASE!")))
	if got := readSized(t, initrd); err != nil || !bytes.Equal(got, []byte("UC-BUC-ABASE!\x00\x00\x00INITRD-B")) {
		t.Errorf("initrd %q %v", got, err)
	}
	if one, _ := (eventlog.StubBoot{Major: 262}).LinuxInitrd(pcr.Bytes([]byte("BASE!"))); string(readSized(t, one)) != "BASE!" {
		t.Errorf("initrd without add-ons %q", readSized(t, one))
	}

	// Stub 252 has no add-ons: nothing changes.
	b.Major = 252
	if cmdline, evs, err := b.CommandLine(sha256Only); err != nil || cmdline != "root=x" || len(evs) != 0 {
		t.Errorf("stub 252: %q %v %v", cmdline, evs, err)
	}
	b.Major = 262
	b.Addons = append(b.Addons, addon("dt.addon.efi", false, ".dtb", "DTB"))
	if _, err := b.KernelConfigEvents(sha256Only); err == nil || !strings.Contains(err.Error(), "dt.addon.efi") {
		t.Errorf("a .dtb add-on: %v", err)
	}
}

// TestSelectAddons: the stub's file name rules.
func TestSelectAddons(t *testing.T) {
	got := eventlog.SelectAddons([]string{"a.addon.efi", "B.ADDON.EFI", ".hidden.addon.efi", "x.efi", "é.addon.efi", "c.addon.efi.bak"})
	if strings.Join(got, " ") != "a.addon.efi B.ADDON.EFI" {
		t.Errorf("%v", got)
	}
}

// TestEventLogVectorAddon: the stub 262.1 boot with a signed add-on
// (.cmdline "ukibuild.addon=e2e"), a credential and a sysext in
// BOOTX64.EFI.extra.d/ (testvectors/eventlog/ovmf-sb-stub262-addon.*).
// The log replays to the TPM's PCR 11 and 12; its first PCR 12 event is
// EV_IPL H(UTF-16 "ukibuild.addon=e2e" NUL), spelled here by hand;
// KernelConfigEvents for these files predicts PCR 12 and 13 event by
// event; the command line is the guest's /proc/cmdline; and the firmware
// measured the add-on into PCR 4 after the UKI with the Authenticode digest
// osslsigncode computed for it.
//
// The add-on is not stored (it is mostly Debian's addonx64.efi.stub): it
// is rebuilt here from the fetched stub as the boot test's buildAddon built
// it, but unsigned (its db key is gone). The Authenticode digest leaves the
// signature out, so ImageApplication of the rebuilt add-on must give the
// digest osslsigncode computed for the booted, signed one: that proves the
// rebuild is the image the firmware measured.
func TestEventLogVectorAddon(t *testing.T) {
	base := filepath.Join(vectorDir, "ovmf-sb-stub262-addon")
	addonPath := buildE2EAddon(t, t.TempDir())
	var aj struct {
		Authenticode string `json:"addon_authenticode_sha256"`
	}
	j, err := os.ReadFile(base + ".addon.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(j, &aj); err != nil || aj.Authenticode == "" {
		t.Fatalf("%s.addon.json: %v", base, err)
	}
	recorded := aj.Authenticode
	f, err := os.Open(addonPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	app, err := eventlog.ImageApplication(context.Background(), filepath.Base(addonPath), f, st.Size(), []pcr.Bank{pcr.SHA256})
	if err != nil || hex.EncodeToString(app.Digests[0].Digest) != recorded {
		t.Fatalf("ImageApplication of the rebuilt add-on: %v %v; osslsigncode's digest of the booted one: %s (not the same image)", app, err, recorded)
	}
	// All banks from one read: the SHA-256 one among them is still
	// osslsigncode's.
	all := []pcr.Bank{pcr.SHA1, pcr.SHA256, pcr.SHA384}
	if app, err := eventlog.ImageApplication(context.Background(), filepath.Base(addonPath), f, st.Size(), all); err != nil || len(app.Digests) != 3 || app.Digests[1].Bank != pcr.SHA256 || hex.EncodeToString(app.Digests[1].Digest) != recorded {
		t.Fatalf("ImageApplication in banks %v: %v %v; want osslsigncode's SHA-256 digest %s second", all, app, err, recorded)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := eventlog.ImageApplication(cancelled, filepath.Base(addonPath), f, st.Size(), all); !errors.Is(err, context.Canceled) {
		t.Fatalf("ImageApplication with a cancelled context: %v, want context.Canceled", err)
	}

	v := loadLog(t, "ovmf-sb-stub262-addon")
	v.checkReplay(t)
	seen := v.events

	var pcr12 []eventlog.Event
	for _, ev := range seen {
		if ev.PCR == 12 {
			pcr12 = append(pcr12, ev)
		}
	}
	var cmd []byte
	for _, c := range "ukibuild.addon=e2e" {
		cmd = append(cmd, byte(c), 0)
	}
	if len(pcr12) != 2 || pcr12[0].Type != eventlog.EvIPL || digest(t, pcr12[0]) != sha256hex(append(cmd, 0, 0)) || pcr12[0].Description != "ukibuild.addon=e2e" {
		t.Fatalf("PCR 12 events of the log: %v", pcr12)
	}

	dir := base + ".extra.d"
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var files []eventlog.ExtraFile
	var names []string
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, eventlog.ExtraFile{Name: e.Name(), Data: b})
		names = append(names, e.Name())
	}
	names = append(names, filepath.Base(addonPath))
	b := eventlog.StubBoot{
		Major: 262, SecureBoot: true, HasCmdline: true, Cmdline: []byte("console=ttyS0 panic=-1"),
		Extras: eventlog.StubExtras{Credentials: eventlog.SelectExtras(files, ".cred", ""), Sysexts: eventlog.SelectExtras(files, ".raw", ".confext.raw")},
	}
	addons := eventlog.SelectAddons(names)
	if len(addons) != 1 {
		t.Fatalf("add-ons %v", addons)
	}
	path := addonPath
	img, err := uki.OpenImage(path)
	if err != nil {
		t.Fatal(err)
	}
	a := eventlog.Addon{Name: addons[0], Path: path, Sections: map[string][]byte{}}
	for _, s := range img.Sections() {
		rc, err := s.Content.Open()
		if err != nil {
			t.Fatal(err)
		}
		d, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		a.Sections[s.Name] = d
	}
	img.Close()
	b.Addons = []eventlog.Addon{a}

	banks := []pcr.Bank{pcr.SHA1, pcr.SHA256}
	want, err := b.KernelConfigEvents(banks)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range eventlog.CompareEvents(want, seen, []int{12, 13}) {
		if !r.Match {
			t.Errorf("%s", r)
		}
	}
	cmdline, _, err := b.CommandLine(banks)
	guest, _ := os.ReadFile(base + ".guest-cmdline.txt")
	if err != nil || cmdline != strings.TrimSpace(string(guest)) {
		t.Errorf("command line %q (%v), the guest's /proc/cmdline %q", cmdline, err, guest)
	}
	// Without the add-on PCR 12 differs at its first event.
	b.Addons = nil
	noAddon, _ := b.KernelConfigEvents(banks)
	if r := eventlog.CompareEvents(noAddon, seen, []int{12}); r[0].Match || r[0].Index != 0 {
		t.Errorf("without the add-on: %s", r[0])
	}

	var pcr4 []eventlog.Event
	for _, ev := range seen {
		if ev.PCR == 4 {
			pcr4 = append(pcr4, ev)
		}
	}
	if len(pcr4) != 6 || pcr4[5].Type != eventlog.EvEFIBootServicesApplication || digest(t, pcr4[5]) != recorded {
		t.Fatalf("PCR 4 events %v: want the add-on (%s) last", pcr4, recorded)
	}
}

// buildE2EAddon builds the boot tests' add-on, ukibuild-e2e.addon.efi, in
// dir as internal/e2e's buildAddon does ("ukibuild build --stub
// <addonx64.efi.stub 262.1> --cmdline ukibuild.addon=e2e"), through the uki
// library and without the Secure Boot signature.
func buildE2EAddon(t *testing.T, dir string) string {
	t.Helper()
	stub := reftools.Locate(t).Path(t, "UKIBUILD_ADDON_STUB_262")
	cmdline, err := uki.TextOrFile("--cmdline", "ukibuild.addon=e2e", true) // as "ukibuild build --cmdline"
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "ukibuild-e2e.addon.efi")
	if err := uki.Build(context.Background(), uki.Config{Stub: stub, Cmdline: cmdline, Warnf: t.Logf}, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestAddonMachine: an add-on for another PE machine than the UKI is an
// *AddonMachineError (the firmware would not load it); unknown machines
// (0) and matching ones pass, and stub 252 loads no add-ons at all.
func TestAddonMachine(t *testing.T) {
	a := addon("a.addon.efi", false, ".cmdline", "debug")
	a.Machine = 0xaa64
	a.Path = "/esp/EFI/Linux/uki.efi.extra.d/a.addon.efi"
	for _, c := range []struct {
		major   int
		machine uint16
		bad     bool
	}{{262, 0x8664, true}, {262, 0xaa64, false}, {262, 0, false}, {252, 0x8664, false}} {
		b := eventlog.StubBoot{Major: c.major, Machine: c.machine, Addons: []eventlog.Addon{a}}
		_, err := b.Loaded()
		var me *eventlog.AddonMachineError
		if got := errors.As(err, &me); got != c.bad || err != nil && !c.bad {
			t.Errorf("stub %d, UKI machine %#x: %v", c.major, c.machine, err)
			continue
		}
		if c.bad && (me.Addon != a.Path || me.AddonMachine != 0xaa64 || me.UKIMachine != c.machine) {
			t.Errorf("%+v", me)
		}
	}
}
