package eventlog

import (
	"fmt"
	"strings"
)

// Consoles are the console devices systemd-stub 262 finds in the firmware
// when the command line it hands to Linux has no console= argument: it
// then appends one for each (src/boot/console.c, cmdline_append_console,
// systemd v262; added in 261). The stub does not measure the appended
// text, but Linux's EFI stub measures the whole command line into PCR 9,
// so PCR 9 depends on the machine's consoles.
type Consoles struct {
	// Serial is the COM port (1 to 4) of the serial console of the
	// firmware's console output, found by its ACPI PNP0501 UID (x86
	// only); 0 when there is none, or several on different ports.
	Serial int
	// VirtIO: a VirtIO console PCI device exists (even one used only by
	// a guest agent).
	VirtIO bool
	// Graphics: the firmware has a graphics output (GOP). It adds
	// console=tty0 only when a serial or VirtIO console was added.
	Graphics bool
}

// serialPorts are the I/O ports of COM1 to COM4 (console.c,
// serial_console_arg).
var serialPorts = []string{"0x3f8", "0x2f8", "0x3e8", "0x2e8"}

// String is "serial COM1, VirtIO, graphics" or "none".
func (c Consoles) String() string {
	var s []string
	if c.Serial > 0 {
		s = append(s, fmt.Sprintf("serial COM%d", c.Serial))
	}
	if c.VirtIO {
		s = append(s, "VirtIO")
	}
	if c.Graphics {
		s = append(s, "graphics")
	}
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// ParseConsoles parses a comma-separated list of "serial=N" (N from 1
// to 4), "virtio" and "graphics", or "none".
func ParseConsoles(s string) (Consoles, error) {
	var c Consoles
	if s == "none" {
		return c, nil
	}
	for _, f := range strings.Split(s, ",") {
		switch f = strings.TrimSpace(f); {
		case f == "virtio":
			c.VirtIO = true
		case f == "graphics" || f == "gop":
			c.Graphics = true
		case strings.HasPrefix(f, "serial="):
			n := 0
			if _, err := fmt.Sscanf(f, "serial=%d", &n); err != nil || n < 1 || n > len(serialPorts) || f != fmt.Sprintf("serial=%d", n) {
				return c, fmt.Errorf("consoles: %q: want serial=1 to serial=4 (the COM port)", f)
			}
			c.Serial = n
		default:
			return c, fmt.Errorf("consoles: %q: want serial=N, virtio, graphics or none", f)
		}
	}
	return c, nil
}

// Arguments returns the console= arguments systemd-stub 262 appends for
// c, in its order: the serial console (x86 only), the VirtIO console, and
// the graphical one last (the kernel's /dev/console), but the graphical
// one only when one of the others was added.
func (c Consoles) Arguments(x86 bool) []string {
	var args []string
	if x86 && c.Serial >= 1 && c.Serial <= len(serialPorts) {
		args = append(args, "console=uart,io,"+serialPorts[c.Serial-1])
	}
	if c.VirtIO {
		args = append(args, "console=hvc0")
	}
	if len(args) > 0 && c.Graphics {
		args = append(args, "console=tty0")
	}
	return args
}

// HasConsole reports whether cmdline has a console= argument as
// systemd-stub 262 checks it: it starts with "console=" or contains
// " console=" (console.c, the fnmatch patterns "console=*" and
// "* console=*").
func HasConsole(cmdline string) bool {
	return strings.HasPrefix(cmdline, "console=") || strings.Contains(cmdline, " console=")
}

// AppendConsoles returns the command line the stub of major version major
// hands to Linux: cmdline with the console= arguments for c appended
// (262), or unchanged (stubs up to 257, which append nothing, and any
// command line that has a console= already). Versions 258 to 261 were not
// examined and are refused.
func AppendConsoles(major int, cmdline string, c Consoles, x86 bool) (string, error) {
	switch {
	case major <= 257:
		return cmdline, nil
	case major < 262:
		return "", fmt.Errorf("whether systemd-stub %d appends console= arguments is not known (261 added it; 262 is modelled)", major)
	case HasConsole(cmdline):
		return cmdline, nil
	}
	for _, a := range c.Arguments(x86) {
		if cmdline == "" {
			cmdline = a
		} else {
			cmdline += " " + a
		}
	}
	return cmdline, nil
}

// ConsoleCandidates lists console sets that give every command line
// systemd-stub 262 can append, one each, starting with none (x86: a serial
// console on COM1 to COM4 or not, a VirtIO console or not, graphics or not:
// 19 outcomes; elsewhere 3).
func ConsoleCandidates(x86 bool) []Consoles {
	out := []Consoles{{}}
	serials := []int{0}
	if x86 {
		serials = []int{0, 1, 2, 3, 4}
	}
	for _, s := range serials {
		for _, v := range []bool{false, true} {
			if s == 0 && !v {
				continue // nothing is appended, graphics or not
			}
			for _, g := range []bool{false, true} {
				out = append(out, Consoles{Serial: s, VirtIO: v, Graphics: g})
			}
		}
	}
	return out
}
