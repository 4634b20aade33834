package pcr

import (
	"fmt"
	"slices"
	"strings"
)

// ExtraFile is a file systemd-stub picks up from the ESP: a credential
// (*.cred) or a system or configuration extension image (*.raw,
// *.confext.raw), in <uki>.efi.extra.d/ or the global directories
// /loader/credentials/ and /loader/extensions/.
type ExtraFile struct {
	Name string
	Data []byte
}

// StubCPIO returns the cpio archive systemd-stub generates from files to
// pass them to the kernel (src/boot/cpio.c, pack_cpio): "newc" entries for
// each directory of prefix (the leading ones mode 0555, the last one
// dirMode), then the files sorted by name (UTF-16 code units; names must be
// ASCII), mode accessMode, with inodes counted from 1, uid, gid and mtime
// 0, nlink 1, each header and content padded to 4 bytes, and the trailer.
// systemd-stub measures H(the archive).
func StubCPIO(prefix string, dirMode, accessMode uint32, files []ExtraFile) ([]byte, error) {
	files = slices.Clone(files)
	slices.SortFunc(files, func(a, b ExtraFile) int { return strings.Compare(a.Name, b.Name) })
	var b []byte
	inode := uint32(1)
	pad := func() {
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
	}
	header := func(mode, size uint32, name string) {
		b = append(b, "070701"...)
		for _, w := range []uint32{inode, mode, 0, 0, 1, 0, size, 0, 0, 0, 0, uint32(len(name) + 1), 0} {
			b = fmt.Appendf(b, "%08x", w)
		}
		b = append(b, name...)
		b = append(b, 0)
		pad()
		inode++
	}
	parts := strings.Split(prefix, "/")
	for i := range parts {
		if parts[i] == "" {
			continue
		}
		mode := uint32(0o555)
		if i == len(parts)-1 {
			mode = dirMode
		}
		header(0o040000|mode, 0, strings.Join(parts[:i+1], "/"))
	}
	for _, f := range files {
		for _, r := range f.Name {
			if r > 0x7f {
				return nil, fmt.Errorf("%s: the stub skips names that are not ASCII", f.Name)
			}
		}
		header(0o100000|accessMode, uint32(len(f.Data)), prefix+"/"+f.Name)
		b = append(b, f.Data...)
		pad()
	}
	// The trailer, byte for byte as cpio.c's pack_cpio_trailer: ino, mode,
	// uid and gid 0, nlink 1, the rest 0, name size 11 (upper-case B),
	// "TRAILER!!!" and four NUL bytes.
	b = append(b, "070701"+strings.Repeat("00000000", 4)+"00000001"+strings.Repeat("00000000", 6)+"0000000B"+"00000000"+"TRAILER!!!\x00\x00\x00\x00"...)
	return b, nil
}

// StubExtras are the files systemd-stub finds on the ESP for the UKI it
// boots, by kind. Use SelectExtras to sort a directory's files into them
// as the stub does.
type StubExtras struct {
	Credentials       []ExtraFile // <uki>.extra.d/*.cred
	GlobalCredentials []ExtraFile // /loader/credentials/*.cred
	Sysexts           []ExtraFile // <uki>.extra.d/*.raw, not *.confext.raw
	Confexts          []ExtraFile // <uki>.extra.d/*.confext.raw
}

// SelectExtras picks from a directory's files those the stub takes with
// suffix (compared without case) and without exclude (if not empty):
// names not starting with '.', ASCII, at most 255 characters
// (src/boot/cpio.c, pack_cpio).
func SelectExtras(files []ExtraFile, suffix, exclude string) []ExtraFile {
	var out []ExtraFile
	for _, f := range files {
		n := strings.ToLower(f.Name)
		if strings.HasPrefix(f.Name, ".") || len(f.Name) > 255 || !strings.HasSuffix(n, suffix) ||
			(exclude != "" && strings.HasSuffix(n, exclude)) {
			continue
		}
		ascii := true
		for _, r := range f.Name {
			ascii = ascii && r <= 0x7f
		}
		if ascii {
			out = append(out, f)
		}
	}
	return out
}

// ExtrasEvents returns the events systemd-stub (262) logs for x, in its
// order (src/boot/stub.c, generate_sidecar_initrds; cpio.c's targets;
// docs/TPM2_PCR_MEASUREMENTS.md): for each kind that has files, one EV_IPL
// event whose digest is H(StubCPIO(...)):
//
//   - PCR 12 "Credentials initrd": .extra/credentials, 0500, files 0400;
//   - PCR 12 "Global credentials initrd": .extra/global_credentials, same;
//   - PCR 13 "System extension initrd": .extra/sysext, 0555, files 0444;
//   - PCR 12 "Configuration extension initrd": .extra/confext, same.
//
// Global system and configuration extensions (/loader/extensions/) are not
// modelled.
func ExtrasEvents(x StubExtras, banks []Bank) ([]Event, error) {
	var evs []Event
	for _, k := range []struct {
		pcr          int
		desc, prefix string
		dir, file    uint32
		files        []ExtraFile
	}{
		{12, "Credentials initrd", ".extra/credentials", 0o500, 0o400, x.Credentials},
		{12, "Global credentials initrd", ".extra/global_credentials", 0o500, 0o400, x.GlobalCredentials},
		{13, "System extension initrd", ".extra/sysext", 0o555, 0o444, x.Sysexts},
		{12, "Configuration extension initrd", ".extra/confext", 0o555, 0o444, x.Confexts},
	} {
		if len(k.files) == 0 {
			continue
		}
		cpio, err := StubCPIO(k.prefix, k.dir, k.file, k.files)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k.desc, err)
		}
		names := make([]string, len(k.files))
		for i, f := range k.files {
			names[i] = f.Name
		}
		slices.Sort(names)
		evs = append(evs, hashEvent(k.pcr, EvIPL, fmt.Sprintf("%s (%s)", k.desc, strings.Join(names, " ")), cpio, banks))
	}
	return evs, nil
}
