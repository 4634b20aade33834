package eventlog

import (
	"bytes"
	"os"
	"testing"
	"unicode/utf16"

	"github.com/ukibuild/ukibuild/internal/reftools"
)

// TestConsolesRule: systemd-stub 262's console rule (src/boot/console.c,
// cmdline_append_console): serial, then VirtIO, then graphics only with
// one of them; nothing when the command line has a console= or for stubs
// up to 257; 258 to 261 refused.
func TestConsolesRule(t *testing.T) {
	for _, c := range []struct {
		cmdline string
		c       Consoles
		x86     bool
		want    string
	}{
		{"quiet", Consoles{Serial: 1}, true, "quiet console=uart,io,0x3f8"},
		{"quiet", Consoles{Serial: 1, Graphics: true}, true, "quiet console=uart,io,0x3f8 console=tty0"},
		{"quiet", Consoles{Serial: 2, VirtIO: true, Graphics: true}, true, "quiet console=uart,io,0x2f8 console=hvc0 console=tty0"},
		{"quiet", Consoles{VirtIO: true}, true, "quiet console=hvc0"},
		{"quiet", Consoles{Graphics: true}, true, "quiet"},
		{"quiet", Consoles{Serial: 1, Graphics: true}, false, "quiet"},
		{"quiet", Consoles{Serial: 4, VirtIO: true}, false, "quiet console=hvc0"},
		{"", Consoles{Serial: 3}, true, "console=uart,io,0x3e8"},
		{"console=ttyS0 quiet", Consoles{Serial: 1}, true, "console=ttyS0 quiet"},
		{"quiet console=ttyS0", Consoles{Serial: 1}, true, "quiet console=ttyS0"},
		{"quiet xconsole=1", Consoles{Serial: 1}, true, "quiet xconsole=1 console=uart,io,0x3f8"},
	} {
		got, err := AppendConsoles(262, c.cmdline, c.c, c.x86)
		if err != nil || got != c.want {
			t.Errorf("%q with %v (x86 %v): %q, %v; want %q", c.cmdline, c.c, c.x86, got, err, c.want)
		}
		if got, err := AppendConsoles(257, c.cmdline, c.c, c.x86); err != nil || got != c.cmdline {
			t.Errorf("stub 257: %q, %v", got, err)
		}
	}
	if _, err := AppendConsoles(260, "quiet", Consoles{Serial: 1}, true); err == nil {
		t.Error("stub 260: no error")
	}
	seen := map[string]bool{}
	for _, c := range ConsoleCandidates(true) {
		s, _ := AppendConsoles(262, "", c, true)
		if seen[s] {
			t.Errorf("candidate %v repeats %q", c, s)
		}
		seen[s] = true
	}
	if len(seen) != 19 || len(ConsoleCandidates(false)) != 3 {
		t.Errorf("%d x86 outcomes, %d others; want 19 and 3", len(seen), len(ConsoleCandidates(false)))
	}
	for _, s := range []string{"serial=1,virtio,graphics", "none", "virtio"} {
		c, err := ParseConsoles(s)
		if err != nil {
			t.Errorf("%s: %v", s, err)
		}
		if back, _ := ParseConsoles(map[string]string{"serial COM1, VirtIO, graphics": "serial=1,virtio,graphics", "none": "none", "VirtIO": "virtio"}[c.String()]); back != c {
			t.Errorf("%s: %v does not round-trip", s, c)
		}
	}
	for _, s := range []string{"serial=0", "serial=5", "serial=1x", "usb"} {
		if _, err := ParseConsoles(s); err == nil {
			t.Errorf("%s: no error", s)
		}
	}
}

// TestConsoleStringsInStubs: Debian's 262.1 stub holds the console=
// arguments the rule appends (UTF-16, as the stub builds its command line),
// and the 252, 254 and 257 stubs hold none of them, as AppendConsoles
// models.
func TestConsoleStringsInStubs(t *testing.T) {
	tools := reftools.Locate(t)
	utf16le := func(s string) []byte {
		var b []byte
		for _, u := range utf16.Encode([]rune(s)) {
			b = append(b, byte(u), byte(u>>8))
		}
		return b
	}
	args := []string{"console=uart,io,0x3f8", "console=uart,io,0x2f8", "console=uart,io,0x3e8", "console=uart,io,0x2e8", "console=hvc0", "console=tty0"}
	for _, v := range []string{"252", "254", "257", "262"} {
		stub, err := os.ReadFile(tools.Path(t, "UKIBUILD_STUB_"+v))
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range args {
			if has := bytes.Contains(stub, utf16le(a)); has != (v == "262") {
				t.Errorf("stub %s: has %q: %v", v, a, has)
			}
		}
	}
}
