package pcr

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ukibuild/ukibuild/internal/reftools"
)

func TestOrderTables(t *testing.T) {
	base := []string{".linux", ".osrel", ".cmdline", ".initrd"}
	tests := []struct {
		version string
		want    []string
	}{
		{"252", append(slices.Clone(base), ".splash", ".dtb", ".pcrpkey")},
		{"252.39-1~deb12u2", append(slices.Clone(base), ".splash", ".dtb", ".pcrpkey")},
		{"253.5", append(slices.Clone(base), ".splash", ".dtb", ".pcrpkey")},
		{"254", append(slices.Clone(base), ".splash", ".dtb", ".uname", ".sbat", ".pcrpkey")},
		{"v255", append(slices.Clone(base), ".splash", ".dtb", ".uname", ".sbat", ".pcrpkey")},
		{"256.7", append(slices.Clone(base), ".ucode", ".splash", ".dtb", ".uname", ".sbat", ".pcrpkey")},
		{"257.13-1~deb13u1", append(slices.Clone(base), ".ucode", ".splash", ".dtb", ".uname", ".sbat", ".pcrpkey",
			".profile", ".dtbauto", ".hwids")},
		{"258~rc1", append(slices.Clone(base), ".ucode", ".splash", ".dtb", ".uname", ".sbat", ".pcrpkey",
			".profile", ".dtbauto", ".hwids", ".efifw")},
		{"262.1", append(slices.Clone(base), ".ucode", ".splash", ".dtb", ".uname", ".sbat", ".pcrpkey",
			".profile", ".dtbauto", ".hwids", ".efifw")},
		{"999", append(slices.Clone(base), ".ucode", ".splash", ".dtb", ".uname", ".sbat", ".pcrpkey",
			".profile", ".dtbauto", ".hwids", ".efifw")},
	}
	for _, tt := range tests {
		o, err := OrderFor(tt.version)
		if err != nil {
			t.Errorf("OrderFor(%q): %v", tt.version, err)
			continue
		}
		if !slices.Equal(o.Sections, tt.want) {
			t.Errorf("OrderFor(%q) = %v, want %v", tt.version, o.Sections, tt.want)
		}
		if o.Measures(".pcrsig") || o.Measures(".sbom") || !o.Measures(".linux") {
			t.Errorf("OrderFor(%q).Measures is wrong for .pcrsig, .sbom or .linux", tt.version)
		}
		if o.Source == "" {
			t.Errorf("OrderFor(%q) cites no source", tt.version)
		}
	}
	for _, bad := range []string{"", "251", "v", "abc", "219.1"} {
		if _, err := OrderFor(bad); err == nil {
			t.Errorf("OrderFor(%q) succeeded", bad)
		}
	}
}

func TestOrdersAreConsistent(t *testing.T) {
	all := Orders()
	for i, o := range all {
		if o.First > o.Last {
			t.Errorf("%v: First > Last", o)
		}
		if i > 0 && o.First != all[i-1].Last+1 {
			t.Errorf("%v does not follow %v", o, all[i-1])
		}
		if i > 0 {
			// Later stubs only ever added sections, keeping the older ones in order.
			prev := all[i-1].Sections
			var kept []string
			for _, s := range o.Sections {
				if slices.Contains(prev, s) {
					kept = append(kept, s)
				}
			}
			if !slices.Equal(kept, prev) {
				t.Errorf("%v reorders or drops sections of %v", o, all[i-1])
			}
		}
		for _, s := range o.Sections {
			if s == ".pcrsig" {
				t.Errorf("%v measures .pcrsig", o)
			}
			if _, err := SectionForOption(strings.TrimPrefix(s, ".")); err != nil {
				t.Errorf("%v: %v", o, err)
			}
		}
	}
	// The newest table is exactly the section options of systemd-measure 262.
	newest := slices.Clone(all[len(all)-1].Sections)
	var opts []string
	for _, o := range Options() {
		opts = append(opts, "."+o)
	}
	slices.Sort(newest)
	slices.Sort(opts)
	if !slices.Equal(newest, opts) {
		t.Errorf("newest table %v and Options %v differ", newest, opts)
	}
	// Orders hands out copies.
	all[0].Sections[0] = "changed"
	if Orders()[0].Sections[0] != ".linux" {
		t.Error("Orders returns shared slices")
	}
}

func TestMajorVersion(t *testing.T) {
	for in, want := range map[string]int{"252": 252, "262.1": 262, "v257": 257, "258~rc2": 258, "254.26-1~bpo12+1": 254} {
		if got, err := MajorVersion(in); err != nil || got != want {
			t.Errorf("MajorVersion(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "v", "x262", "99999999999999999999999"} {
		if _, err := MajorVersion(bad); err == nil {
			t.Errorf("MajorVersion(%q) succeeded", bad)
		}
	}
}

func TestSectionForOption(t *testing.T) {
	for in, want := range map[string]string{"linux": ".linux", "--osrel": ".osrel", "--efifw=": ".efifw", "dtbauto": ".dtbauto"} {
		if got, err := SectionForOption(in); err != nil || got != want {
			t.Errorf("SectionForOption(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"pcrsig", "--sbom", "", "--", ".linux", "LINUX"} {
		if _, err := SectionForOption(bad); err == nil {
			t.Errorf("SectionForOption(%q) succeeded", bad)
		}
	}
}

func TestParseLoaderInfo(t *testing.T) {
	c, v, err := ParseLoaderInfo([]byte("#### LoaderInfo: systemd-stub 252.39-1~deb12u2 ####\x00\x00"))
	if err != nil || c != "systemd-stub" || v != "252.39-1~deb12u2" {
		t.Errorf("got %q %q %v", c, v, err)
	}
	for _, bad := range []string{
		"", "#### LoaderInfo: systemd-stub ####", "#### LoaderInfo: systemd-stub 1 2 ####",
		"#### LoaderInfo: systemd-stub 262 ###", "LoaderInfo: systemd-stub 262 ####", "\x00",
	} {
		if _, _, err := ParseLoaderInfo([]byte(bad)); err == nil {
			t.Errorf("ParseLoaderInfo(%q) succeeded", bad)
		}
	}
}

// TestStubVersion reads the version of Debian's stubs of every
// architecture, which must be the version of the Debian package fetch.sh
// unpacked them from (recorded next to them), and checks that it selects
// the table of that release. The 252 arm64 stub has no .sdmagic section.
func TestStubVersion(t *testing.T) {
	tools := reftools.Locate(t)
	for key, table := range map[string]int{ // Order.First
		"UKIBUILD_STUB_252": 252, "UKIBUILD_STUB_254": 254, "UKIBUILD_STUB_257": 257,
		"UKIBUILD_STUB_262": 258, "UKIBUILD_STUB_262_IA32": 258,
		"UKIBUILD_STUB_252_AA64": 252, "UKIBUILD_STUB_254_AA64": 254, "UKIBUILD_STUB_257_AA64": 257,
		"UKIBUILD_STUB_262_AA64": 258, "UKIBUILD_STUB_257_RISCV64": 257, "UKIBUILD_STUB_262_RISCV64": 258,
	} {
		path := tools.Path(t, key)
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		st, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		v, err := StubVersion(f, st.Size())
		f.Close()
		if err != nil {
			t.Errorf("%s: %v", key, err)
			continue
		}
		if want := debVersion(t, path); v != want {
			t.Errorf("%s: version %q, want the package's %q", key, v, want)
		}
		if o, err := OrderFor(v); err != nil || o.First != table {
			t.Errorf("%s: OrderFor(%q) = %v, %v; want the table from %d", key, v, o, err, table)
		}
	}
	// The add-on stub is not a systemd-stub.
	f, err := os.Open(tools.Path(t, "UKIBUILD_ADDON_STUB_262"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	if v, err := StubVersion(f, st.Size()); err == nil || !strings.Contains(err.Error(), "systemd-addon") {
		t.Errorf("add-on stub: %q, %v", v, err)
	}
	// A file that is not a PE image.
	if _, err := StubVersion(strings.NewReader("MZ"), 2); err == nil {
		t.Error("StubVersion accepted a 2-byte file")
	}
}

// debVersion returns the version of the systemd-boot-efi package that
// fetch.sh unpacked the stub at path from: the root it was unpacked into
// (four directories up from usr/lib/systemd/boot/efi) holds a
// .deb-systemd-boot-efi[:ARCH] file with it.
func debVersion(t *testing.T, path string) string {
	t.Helper()
	root := filepath.Join(filepath.Dir(path), "..", "..", "..", "..", "..")
	m, err := filepath.Glob(filepath.Join(root, ".deb-systemd-boot-efi*"))
	if err != nil || len(m) != 1 {
		t.Fatalf("%s: no single package version marker in %s (%v, %v)", path, root, m, err)
	}
	b, err := os.ReadFile(m[0])
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestScanLoaderInfo: the LoaderInfo string is found wherever it lies
// relative to the scanner's read size, and prefixes that do not complete
// to it are skipped.
func TestScanLoaderInfo(t *testing.T) {
	const info = "#### LoaderInfo: systemd-stub 252.39-1~deb12u2 ####"
	for _, pos := range []int{0, 1, 32<<10 - 20, 32<<10 - 1, 32 << 10, 64<<10 - 100, 100000} {
		data := make([]byte, pos+len(info)+7)
		copy(data[pos:], info)
		// A broken prefix before it.
		if pos > 40 {
			copy(data[pos-40:], "#### LoaderInfo: systemd-stub x")
		}
		v, ok, err := scanLoaderInfo(bytes.NewReader(data), "systemd-stub")
		if err != nil || !ok || v != "252.39-1~deb12u2" {
			t.Errorf("at %d: %q, %v, %v", pos, v, ok, err)
		}
		// Cut short: not found.
		v, ok, err = scanLoaderInfo(bytes.NewReader(data[:pos+len(info)-1]), "systemd-stub")
		if err != nil || ok {
			t.Errorf("cut at %d: %q, %v, %v", pos, v, ok, err)
		}
	}
	for _, bad := range []string{"", "#### LoaderInfo: systemd-addon 262 ####", "#### LoaderInfo: systemd-stub 262 extra ####"} {
		if v, ok, err := scanLoaderInfo(strings.NewReader(bad), "systemd-stub"); ok || err != nil {
			t.Errorf("%q: %q, %v, %v", bad, v, ok, err)
		}
	}
}

// TestBootVersion reads the version of Debian's systemd-boot of every
// release and architecture fetch.sh unpacked (next to the stubs, from the
// same systemd-boot-efi package), which must be that package's version; a
// stub is refused as not systemd-boot.
func TestBootVersion(t *testing.T) {
	tools := reftools.Locate(t)
	read := func(path string) (string, error) {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		return BootVersion(f, st.Size())
	}
	for key, arch := range map[string]string{
		"UKIBUILD_STUB_252": "x64", "UKIBUILD_STUB_254": "x64", "UKIBUILD_STUB_257": "x64", "UKIBUILD_STUB_262": "x64",
		"UKIBUILD_STUB_262_IA32": "ia32", "UKIBUILD_STUB_252_AA64": "aa64", "UKIBUILD_STUB_254_AA64": "aa64",
		"UKIBUILD_STUB_257_AA64": "aa64", "UKIBUILD_STUB_262_AA64": "aa64", "UKIBUILD_STUB_257_RISCV64": "riscv64",
		"UKIBUILD_STUB_262_RISCV64": "riscv64",
	} {
		stub := tools.Path(t, key)
		boot := filepath.Join(filepath.Dir(stub), "systemd-boot"+arch+".efi")
		v, err := read(boot)
		if err != nil {
			t.Errorf("%s: %v", boot, err)
			continue
		}
		if want := debVersion(t, stub); v != want {
			t.Errorf("%s: version %q, want the package's %q", boot, v, want)
		}
	}
	if v, err := read(tools.Path(t, "UKIBUILD_STUB_262")); err == nil || !strings.Contains(err.Error(), "systemd-stub") {
		t.Errorf("a stub: %q, %v; want an error naming systemd-stub", v, err)
	}
}
