package pcr

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/ukibuild/ukibuild/internal/pe"
)

// Order is what one range of systemd-stub versions measures into PCR 11: the
// UKI sections it knows, in the canonical order it measures them in (the
// order of its UnifiedSection enumeration). Newer versions keep the relative
// order of the sections older ones knew but may insert new ones anywhere:
// 254 put .uname and .sbat before .pcrpkey, 256 .ucode after .initrd.
//
// For each section of this list that the booting UKI has and whose
// VirtualSize is not zero, the stub extends PCR 11 with H(name including its
// trailing NUL byte), then with H(the section's first VirtualSize bytes).
// Sections the list does not name (.pcrsig, .sbom, .sdmagic, ...) are not
// measured. systemd-measure reproduces this for its --linux=, --osrel=, ...
// files, skipping empty files as the stub skips empty sections.
type Order struct {
	// First and Last are the first and the last systemd major version the
	// table is known to apply to. Newer versions than the newest table's
	// Last are given the newest table too (see OrderFor).
	First, Last int
	// Sections are the measured section names, in measurement order.
	Sections []string
	// Source cites the systemd source the table was read from.
	Source string
}

// orders returns the measurement tables, oldest first. Each call builds new
// slices, so callers may keep and modify what they get.
func orders() []Order {
	return []Order{
		{
			First: 252, Last: 253,
			Sections: []string{".linux", ".osrel", ".cmdline", ".initrd", ".splash", ".dtb", ".pcrpkey"},
			// The enum also lists .pcrsig (between .dtb and .pcrpkey); unified_section_measure excludes it.
			Source: "src/fundamental/tpm-pcr.h and tpm-pcr.c, systemd v252 and v253; measured by src/boot/efi/stub.c, v252",
		},
		{
			First: 254, Last: 255,
			Sections: []string{".linux", ".osrel", ".cmdline", ".initrd", ".splash", ".dtb", ".uname", ".sbat", ".pcrpkey"},
			Source:   "src/fundamental/tpm-pcr.h, systemd v254; src/fundamental/uki.h and uki.c, v255",
		},
		{
			First: 256, Last: 256,
			Sections: []string{".linux", ".osrel", ".cmdline", ".initrd", ".ucode", ".splash", ".dtb", ".uname", ".sbat", ".pcrpkey"},
			Source:   "src/fundamental/uki.h and uki.c, systemd v256",
		},
		{
			First: 257, Last: 257,
			Sections: []string{".linux", ".osrel", ".cmdline", ".initrd", ".ucode", ".splash", ".dtb", ".uname", ".sbat", ".pcrpkey",
				".profile", ".dtbauto", ".hwids"},
			// systemd-measure 257 itself swaps two of them: it measures its
			// --dtbauto= file as .hwids and its --hwids= file as .dtbauto (its
			// option enum in src/measure/measure.c, v257.13, lists ARG_HWIDS
			// before ARG_DTBAUTO). The stub measures each under its own name,
			// as this table does; 258 fixed the tool.
			Source: "src/fundamental/uki.h and uki.c, systemd v257 (257.13); measured by src/boot/stub.c measure_sections",
		},
		{
			First: 258, Last: 262,
			Sections: []string{".linux", ".osrel", ".cmdline", ".initrd", ".ucode", ".splash", ".dtb", ".uname", ".sbat", ".pcrpkey",
				".profile", ".dtbauto", ".hwids", ".efifw"},
			// .efifw came with systemd/systemd pull request #35091, first released in v258.
			Source: "src/fundamental/uki.h and uki.c, systemd v258 to v262 (262.1)",
		},
	}
}

// Orders returns every measurement table this package knows, oldest first.
func Orders() []Order { return orders() }

// OrderFor returns the measurement table of the systemd-stub with the given
// version: a systemd version string such as "252", "262.1", "v257" or a
// Debian one such as "252.39-1~deb12u2" (only the major number counts).
//
// Versions before 252 are refused: PCR 11 phases and systemd-measure appeared
// in 252. A version newer than the newest known table (262) gets that table:
// systemd has so far only added sections, so a newer stub can only measure
// differently when the UKI holds a section unknown here.
//
// Predict with the booting stub's table, not with the table of the
// systemd-measure at hand: ukify 262 passes --uname= and --sbat= to
// systemd-measure 262 whatever the stub, but a 252 stub does not measure
// .uname and .sbat, so the values ukify signs for a 252 stub are wrong.
func OrderFor(version string) (Order, error) {
	major, err := MajorVersion(version)
	if err != nil {
		return Order{}, err
	}
	all := orders()
	if major < all[0].First {
		return Order{}, fmt.Errorf("systemd-stub %s is not supported: PCR 11 predictions need systemd 252 or newer", version)
	}
	for _, o := range all {
		if major >= o.First && major <= o.Last {
			return o, nil
		}
	}
	return all[len(all)-1], nil
}

// MajorVersion returns the leading number of a systemd version string:
// 262 for "262.1", "v262", "262~rc2" or "262.1-1".
func MajorVersion(version string) (int, error) {
	s := strings.TrimPrefix(version, "v")
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	if n == 0 {
		return 0, fmt.Errorf("systemd version %q does not start with a number", version)
	}
	major, err := strconv.Atoi(s[:n])
	if err != nil {
		return 0, fmt.Errorf("systemd version %q: %w", version, err)
	}
	return major, nil
}

// Measures reports whether stubs of this table measure the section called
// name.
func (o Order) Measures(name string) bool { return slices.Contains(o.Sections, name) }

// String describes the table, e.g. "systemd-stub 254..255".
func (o Order) String() string {
	if o.First == o.Last {
		return fmt.Sprintf("systemd-stub %d", o.First)
	}
	return fmt.Sprintf("systemd-stub %d..%d", o.First, o.Last)
}

// Options returns the names of systemd-measure 262's section options, in the
// order of its --help: "linux" (--linux=PATH, section .linux), "osrel", ...
// Each names the section "." + option.
func Options() []string {
	return []string{"linux", "osrel", "cmdline", "initrd", "ucode", "splash", "dtb", "dtbauto",
		"uname", "sbat", "pcrpkey", "profile", "hwids", "efifw"}
}

// SectionForOption returns the section that a systemd-measure section option
// names: "linux", "--linux" and "--linux=" all give ".linux".
func SectionForOption(option string) (string, error) {
	name := strings.TrimSuffix(strings.TrimPrefix(option, "--"), "=")
	if !slices.Contains(Options(), name) {
		return "", fmt.Errorf("%q is not a systemd-measure section option (want one of --%s)", option, strings.Join(Options(), ", --"))
	}
	return "." + name, nil
}

// LoaderInfo markers of the .sdmagic section.
const (
	loaderInfoPrefix = "#### LoaderInfo: "
	loaderInfoSuffix = " ####"
)

// ParseLoaderInfo parses the data of a .sdmagic section, such as
// "#### LoaderInfo: systemd-stub 262.1-1 ####" followed by NUL bytes, into
// its component ("systemd-stub", "systemd-addon", "systemd-boot") and
// version ("262.1-1"). Trailing NUL bytes are ignored; anything else that
// does not have exactly this shape is an error.
func ParseLoaderInfo(data []byte) (component, version string, err error) {
	text := string(bytes.TrimRight(data, "\x00"))
	inner, ok := strings.CutPrefix(text, loaderInfoPrefix)
	if ok {
		inner, ok = strings.CutSuffix(inner, loaderInfoSuffix)
	}
	fields := strings.Fields(inner)
	if !ok || len(fields) != 2 {
		return "", "", fmt.Errorf("malformed .sdmagic %q (want %q)", text, loaderInfoPrefix+"systemd-stub VERSION"+loaderInfoSuffix)
	}
	return fields[0], fields[1], nil
}

// maxSDMagic bounds the .sdmagic data read; systemd's is about 50 bytes.
const maxSDMagic = 4096

// ErrNoSDMagic is returned by StubVersion for a PE image that records no
// systemd-stub version: neither a .sdmagic section nor a LoaderInfo string
// outside its sections (not a systemd-stub).
var ErrNoSDMagic = errors.New("no .sdmagic section and no systemd-stub LoaderInfo string: not a systemd-stub")

// StubVersion returns the version of the systemd-stub that the PE image r
// (a stub, or a UKI built from one) was built from: "262.1-1" for
// "#### LoaderInfo: systemd-stub 262.1-1 ####". It is read from the
// .sdmagic section; an image without one is searched for that string in
// the bytes outside every section and then in its .data sections. (Stubs
// built with gnu-efi for arm64, such as Debian bookworm's 252, have no
// .sdmagic section: the string lies after their last section, and so
// between sections in a UKI built from them.) The search streams over
// those bytes. Pass the version to OrderFor. An image whose .sdmagic names
// another component (systemd-addon, systemd-boot) is refused.
func StubVersion(r io.ReaderAt, size int64) (string, error) {
	v, found, err := loaderVersion(r, size, "systemd-stub")
	if err == nil && !found {
		err = fmt.Errorf("stub version: %w", ErrNoSDMagic)
	}
	return v, err
}

// BootVersion returns the version of systemd-boot that the PE image r is:
// "262.1-1" for "#### LoaderInfo: systemd-boot 262.1-1 ####", read as
// StubVersion reads a stub's (the .sdmagic section, or else the string
// outside the sections and in .data). An image that records no
// systemd-boot version, or whose .sdmagic names another component, is an
// error naming what it is.
func BootVersion(r io.ReaderAt, size int64) (string, error) {
	v, found, err := loaderVersion(r, size, "systemd-boot")
	if err == nil && !found {
		err = errors.New("systemd-boot version: no .sdmagic section and no systemd-boot LoaderInfo string: not systemd-boot")
	}
	return v, err
}

// loaderVersion is StubVersion and BootVersion for component
// ("systemd-stub", "systemd-boot"); found is false when the image records
// no version of it.
func loaderVersion(r io.ReaderAt, size int64, component string) (version string, found bool, err error) {
	what := "stub version"
	if component != "systemd-stub" {
		what = component + " version"
	}
	f, err := pe.Parse(r, size)
	if err != nil {
		return "", false, fmt.Errorf("%s: %w", what, err)
	}
	for i := range f.Sections {
		s := &f.Sections[i]
		if s.NameString() != ".sdmagic" {
			continue
		}
		n := int64(min(s.VirtualSize, s.SizeOfRawData))
		if n > maxSDMagic {
			return "", false, fmt.Errorf("%s: .sdmagic section is %d bytes long (at most %d expected)", what, n, maxSDMagic)
		}
		if int64(s.PointerToRawData)+n > size {
			return "", false, fmt.Errorf("%s: .sdmagic section extends past the end of the file", what)
		}
		buf := make([]byte, n)
		if _, err := r.ReadAt(buf, int64(s.PointerToRawData)); err != nil {
			return "", false, fmt.Errorf("%s: reading .sdmagic: %w", what, err)
		}
		c, v, err := ParseLoaderInfo(buf)
		if err != nil {
			return "", false, fmt.Errorf("%s: %w", what, err)
		}
		if c != component {
			return "", false, fmt.Errorf("%s: .sdmagic names %s %s, not %s", what, c, v, component)
		}
		return v, true, nil
	}
	ranges := outsideSections(f, size)
	for i := range f.Sections {
		s := &f.Sections[i]
		if s.NameString() == ".data" {
			off := int64(s.PointerToRawData)
			ranges = append(ranges, [2]int64{off, min(off+int64(s.SizeOfRawData), size)})
		}
	}
	for _, rg := range ranges {
		v, ok, err := scanLoaderInfo(io.NewSectionReader(r, rg[0], rg[1]-rg[0]), component)
		if err != nil {
			return "", false, fmt.Errorf("%s: reading bytes %#x to %#x: %w", what, rg[0], rg[1], err)
		}
		if ok {
			return v, true, nil
		}
	}
	return "", false, nil
}

// outsideSections returns the file ranges [off, end) of an image of size
// bytes after its headers that no section's raw data covers, without the
// certificate table: gaps between sections and data after the last one.
func outsideSections(f *pe.File, size int64) [][2]int64 {
	type rng = [2]int64
	var used []rng
	for i := range f.Sections {
		s := &f.Sections[i]
		if s.SizeOfRawData != 0 {
			used = append(used, rng{int64(s.PointerToRawData), int64(s.PointerToRawData) + int64(s.SizeOfRawData)})
		}
	}
	if sec, ok := f.Security(); ok && sec.VirtualAddress != 0 {
		// The certificate table's VirtualAddress is a file offset.
		used = append(used, rng{int64(sec.VirtualAddress), int64(sec.VirtualAddress) + int64(sec.Size)})
	}
	slices.SortFunc(used, func(a, b rng) int { return cmp.Compare(a[0], b[0]) })
	var out []rng
	pos := min(int64(f.SizeOfHeaders), size)
	for _, u := range used {
		if u[0] > pos {
			out = append(out, rng{pos, min(u[0], size)})
		}
		pos = max(pos, min(u[1], size))
	}
	if pos < size {
		out = append(out, rng{pos, size})
	}
	return out
}

// maxLoaderInfo bounds the length of a LoaderInfo string found by
// scanLoaderInfo (systemd's are about 50 bytes).
const maxLoaderInfo = 256

// scanLoaderInfo searches r for "#### LoaderInfo: COMPONENT VERSION ####"
// and returns VERSION, streaming over r with a bounded buffer. Occurrences
// of the prefix that do not complete to that shape are skipped.
func scanLoaderInfo(r io.Reader, component string) (version string, found bool, err error) {
	marker := []byte(loaderInfoPrefix + component + " ")
	suffix := []byte(loaderInfoSuffix)
	chunk := make([]byte, 32<<10)
	var window []byte
	eof := false
	for {
		// Look at every occurrence of the marker in the window.
		from := 0
		for {
			i := bytes.Index(window[from:], marker)
			if i < 0 {
				// Keep what could start a marker.
				keep := min(len(window)-from, len(marker)-1)
				window = append(window[:0], window[len(window)-keep:]...)
				break
			}
			i += from
			rest := window[i:]
			if len(rest) < maxLoaderInfo && !eof {
				window = append(window[:0], rest...)
				break
			}
			rest = rest[:min(len(rest), maxLoaderInfo)]
			if j := bytes.Index(rest[len(marker):], suffix); j >= 0 {
				if _, v, err := ParseLoaderInfo(rest[:len(marker)+j+len(suffix)]); err == nil {
					return v, true, nil
				}
			}
			from = i + 1
		}
		if eof {
			return "", false, nil
		}
		n, err := io.ReadFull(r, chunk)
		window = append(window, chunk[:n]...)
		switch {
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			eof = true
		case err != nil:
			return "", false, err
		}
	}
}
