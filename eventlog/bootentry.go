package eventlog

import (
	"fmt"
	"strings"

	"github.com/ukibuild/ukibuild/pcr"
)

// EntryExtra is a file an "extra" line of a Boot Loader Specification
// Type #1 entry names, as systemd-boot 262 finds it on the ESP: Name is
// the file's name as the firmware reports it (EFI_FILE_INFO.FileName, the
// last component of the path), Content its data.
type EntryExtra struct {
	Name    string
	Content pcr.Sized
}

// entryExtraKinds are the kinds of file systemd-boot 262 packs for a
// Type #1 entry's "extra" lines, in the order it measures their archives
// (src/boot/boot.c, load_extras: its table of suffixes, cpio.c's
// cpio_target_credentials, _sysext, _confext): the suffix (compared
// without case), the PCR, the description, the directory in the initrd,
// its mode and the files' mode. Unlike systemd-stub, systemd-boot takes
// only "*.sysext.raw" as system extensions; a plain "*.raw" is ignored.
var entryExtraKinds = []struct {
	suffix string
	pcr    int
	desc   string
	prefix string
	dir    uint32
	file   uint32
}{
	{".cred", 12, "Entry credentials initrd", ".extra/credentials", 0o500, 0o400},
	{".sysext.raw", 13, "Entry system extension initrd", ".extra/sysext", 0o555, 0o444},
	{".confext.raw", 12, "Entry configuration extension initrd", ".extra/confext", 0o555, 0o444},
}

// EntryExtrasEvents returns what systemd-boot 262 measures for the
// "extra" files of a Type #1 entry that names a UKI, given in the entry's
// order (src/boot/boot.c, load_extras, read in systemd main just before
// v262; the 262.1 binary has the same three descriptions): it packs each
// kind into one cpio archive and measures it as an EV_IPL event whose data
// is the description and whose digest is H(the archive):
//
//   - PCR 12 "Entry credentials initrd": *.cred into .extra/credentials
//     (0500, files 0400);
//   - PCR 13 "Entry system extension initrd": *.sysext.raw into
//     .extra/sysext (0555, files 0444);
//   - PCR 12 "Entry configuration extension initrd": *.confext.raw into
//     .extra/confext (same modes).
//
// The archives differ from systemd-stub's (StubCPIO): the files keep the
// entry's order (not sorted), the leading directories are written again
// before each file, and one inode counter runs through all three
// archives, in the entry's order. Empty files, names that are not ASCII
// or longer than 255 characters, and names with none of the suffixes are
// skipped, as systemd-boot skips them (with a warning on its console).
func EntryExtrasEvents(files []EntryExtra, banks []pcr.Bank) ([]Event, error) {
	archives, err := entryArchives(files)
	if err != nil {
		return nil, err
	}
	var evs []Event
	for k, a := range archives {
		if a.content == nil {
			continue
		}
		kind := entryExtraKinds[k]
		ev, err := dataEvent(kind.pcr, EvIPL, fmt.Sprintf("%s (%s)", kind.desc, strings.Join(a.names, " ")), a.content, banks)
		if err != nil {
			return nil, err
		}
		evs = append(evs, ev)
	}
	return evs, nil
}

// EntryExtrasInitrd returns the initrd systemd-boot 262 registers for the
// UKI of a Type #1 entry with these extra files (src/boot/boot.c,
// load_extras; initrd.c, combine_initrds): the archives EntryExtrasEvents
// measures (credentials, system extensions, configuration extensions)
// one after the other, each padded to 4 bytes (which they are already);
// nil when there are none. systemd-stub passes it on to the kernel
// (StubInitrdAfter).
func EntryExtrasInitrd(files []EntryExtra) (pcr.Sized, error) {
	archives, err := entryArchives(files)
	if err != nil {
		return nil, err
	}
	var pieces []pcr.Sized
	for _, a := range archives {
		if a.content != nil {
			pieces = append(pieces, a.content)
		}
	}
	if len(pieces) == 0 {
		return nil, nil
	}
	return joined(4, pieces), nil
}

// entryArchive is one of systemd-boot's archives for an entry's extra
// files: its content (nil: no file of that kind) and the files' names.
type entryArchive struct {
	content pcr.Sized
	names   []string
}

// entryArchives builds systemd-boot's archives for files, one for each of
// entryExtraKinds (EntryExtrasEvents says how).
func entryArchives(files []EntryExtra) ([]entryArchive, error) {
	type archive struct {
		parts []pcr.Sized
		names []string
	}
	archives := make([]archive, len(entryExtraKinds))
	var w newcWriter
	for _, f := range files {
		if f.Content == nil || f.Content.Size() == 0 || len(f.Name) > 255 || !isASCII(f.Name) {
			continue
		}
		k := -1
		for i, kind := range entryExtraKinds {
			if strings.HasSuffix(strings.ToLower(f.Name), kind.suffix) {
				k = i
				break
			}
		}
		if k < 0 {
			continue
		}
		kind := entryExtraKinds[k]
		// Each file repeats its leading directories (pack_cpio_one after
		// pack_cpio_prefix), one inode counter across the archives.
		b, err := w.dirs(nil, kind.prefix, kind.dir)
		if err != nil {
			return nil, err
		}
		if b, err = w.header(b, 0o100000|kind.file, f.Content.Size(), kind.prefix+"/"+f.Name); err != nil {
			return nil, err
		}
		archives[k].parts = append(archives[k].parts, pcr.Bytes(b), f.Content)
		archives[k].names = append(archives[k].names, f.Name)
	}
	out := make([]entryArchive, len(archives))
	for k, a := range archives {
		if len(a.parts) == 0 {
			continue
		}
		out[k] = entryArchive{content: joined(4, append(a.parts, pcr.Bytes([]byte(newcTrailer)))), names: a.names}
	}
	return out, nil
}
