package eventlog

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ukibuild/ukibuild/pcr"
)

// ExtraFile is a file systemd-stub picks up from the ESP: a credential
// (*.cred) or a system or configuration extension image (*.raw,
// *.confext.raw), in <uki>.efi.extra.d/ or the global directories
// /loader/credentials/ and /loader/extensions/.
type ExtraFile struct {
	Name string
	// Data is the file's content, or, when Content is set, unused:
	// Content is read when needed (extension images are large).
	Data    []byte
	Content pcr.Sized
}

// content returns f's content.
func (f ExtraFile) content() pcr.Sized {
	if f.Content != nil {
		return f.Content
	}
	return pcr.Bytes(f.Data)
}

// StubCPIO returns the cpio archive systemd-stub generates from files to
// pass them to the kernel (src/boot/cpio.c, pack_cpio): "newc" entries for
// each directory of prefix (the leading ones mode 0555, the last one
// dirMode), then the files sorted by name (UTF-16 code units; names must be
// ASCII), mode accessMode, with inodes counted from 1, uid, gid and mtime
// 0, nlink 1, each header and content padded to 4 bytes, and the trailer.
// systemd-stub measures H(the archive). The predictions read the files'
// contents as a stream instead of building the archive in memory.
func StubCPIO(prefix string, dirMode, accessMode uint32, files []ExtraFile) ([]byte, error) {
	c, err := stubCPIO(prefix, dirMode, accessMode, files)
	if err != nil {
		return nil, err
	}
	return readAll(c)
}

// stubCPIO is StubCPIO's archive as a stream: the headers in memory, the
// files' contents read when the archive is.
func stubCPIO(prefix string, dirMode, accessMode uint32, files []ExtraFile) (pcr.Sized, error) {
	files = slices.Clone(files)
	slices.SortFunc(files, func(a, b ExtraFile) int { return strings.Compare(a.Name, b.Name) })
	var out []pcr.Sized // headers and contents, each padded to 4 bytes by joined
	var w newcWriter
	b, err := w.dirs(nil, prefix, dirMode) // the header being built
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		if !isASCII(f.Name) {
			return nil, fmt.Errorf("%s: the stub skips names that are not ASCII", f.Name)
		}
		c := f.content()
		if b, err = w.header(b, 0o100000|accessMode, c.Size(), prefix+"/"+f.Name); err != nil {
			return nil, err
		}
		out = append(out, pcr.Bytes(b), c)
		b = nil
	}
	b = append(b, newcTrailer...)
	return joined(4, append(out, pcr.Bytes(b))), nil
}

// StubExtras are the files systemd-stub finds on the ESP for the UKI it
// boots, by kind. FindExtras sorts a UKI's and the ESP's files into them as
// the stub of a given version does.
type StubExtras struct {
	Credentials       []ExtraFile // <uki>.extra.d/*.cred
	GlobalCredentials []ExtraFile // /loader/credentials/*.cred
	Sysexts           []ExtraFile // <uki>.extra.d/*.raw (from 257 on, not *.confext.raw)
	GlobalSysexts     []ExtraFile // /loader/extensions/*.raw, not *.confext.raw (262)
	Confexts          []ExtraFile // <uki>.extra.d/*.confext.raw (from 257 on)
	GlobalConfexts    []ExtraFile // /loader/extensions/*.confext.raw (262)
}

// extrasArchive is one of the cpio archives systemd-stub packs the extras
// of one kind into: the PCR and description it measures it with, the
// directory in the initrd, its mode and the files' mode.
type extrasArchive struct {
	pcr          int
	desc, prefix string
	dir, file    uint32
	files        []ExtraFile
}

// archives returns x's archives in the order systemd-stub 262 packs them
// (src/boot/stub.c, generate_sidecar_initrds and the initrd slots
// INITRD_CREDENTIAL ... INITRD_GLOBAL_CONFEXT; cpio.c's targets). Earlier
// stubs have some of these kinds, in the same order (FindExtras leaves the
// others empty).
func (x StubExtras) archives() []extrasArchive {
	return []extrasArchive{
		{12, "Credentials initrd", ".extra/credentials", 0o500, 0o400, x.Credentials},
		{12, "Global credentials initrd", ".extra/global_credentials", 0o500, 0o400, x.GlobalCredentials},
		{13, "System extension initrd", ".extra/sysext", 0o555, 0o444, x.Sysexts},
		{13, "Global system extension initrd", ".extra/global_sysext", 0o555, 0o444, x.GlobalSysexts},
		{12, "Configuration extension initrd", ".extra/confext", 0o555, 0o444, x.Confexts},
		{12, "Global configuration extension initrd", ".extra/global_confext", 0o555, 0o444, x.GlobalConfexts},
	}
}

// What systemd-stub picks up by version, from the strings of Debian's stub
// binaries (linuxx64.efi.stub; TestStubExtrasFeatures checks the fetched
// ones): 252.39 and 254.26 know ".cred", ".raw", "\loader\credentials"
// and no ".confext.raw"; 257.13 adds ".confext.raw" and "Configuration
// extension initrd"; 262.1 adds "\loader\extensions" with "Global system
// extension initrd" and "Global configuration extension initrd". The boot
// tests (internal/e2e) confirm it for these four by what each stub puts in
// /.extra and measures. The versions in between were not examined.
const (
	confextsLacking, confextsSince                 = 254, 257
	globalExtensionsLacking, globalExtensionsSince = 257, 262
)

// stubHas says whether systemd-stub major has a feature that stubs up to
// lacking do not have and stubs from since on do; for the versions in
// between, and an unknown version (0), it fails.
func stubHas(major, lacking, since int, what string) (bool, error) {
	switch {
	case major >= since:
		return true, nil
	case major > 0 && major <= lacking:
		return false, nil
	case major == 0:
		return false, fmt.Errorf("the stub's version is unknown (no .sdmagic): whether it picks up %s depends on it", what)
	}
	return false, fmt.Errorf("whether systemd-stub %d picks up %s is not known (%d does not, %d does)", major, what, lacking, since)
}

// FindExtras sorts files as systemd-stub of major version major does
// (src/boot/stub.c, generate_sidecar_initrds; cpio.c, pack_cpio): local
// are the files in the UKI's <uki>.efi.extra.d/, credentials those in the
// ESP's /loader/credentials/, extensions those in /loader/extensions/.
// *.cred are credentials everywhere; in extra.d/, *.raw are system
// extensions, except that from 257 on *.confext.raw are configuration
// extensions (252 and 254 take them as system extensions); stub 262 also
// takes /loader/extensions/ (*.raw, *.confext.raw), which earlier stubs
// ignore. The version is needed only when it matters: it fails for an
// unknown or unexamined version when there is a *.confext.raw in extra.d/
// or an extension in /loader/extensions/.
func FindExtras(major int, local, credentials, extensions []ExtraFile) (StubExtras, error) {
	x := StubExtras{
		Credentials:       SelectExtras(local, ".cred", ""),
		GlobalCredentials: SelectExtras(credentials, ".cred", ""),
		Sysexts:           SelectExtras(local, ".raw", ""),
	}
	if confexts := SelectExtras(local, ".confext.raw", ""); len(confexts) > 0 {
		has, err := stubHas(major, confextsLacking, confextsSince, "configuration extensions (*.confext.raw)")
		if err != nil {
			return x, err
		}
		if has {
			x.Sysexts = SelectExtras(local, ".raw", ".confext.raw")
			x.Confexts = confexts
		}
	}
	if len(SelectExtras(extensions, ".raw", "")) > 0 {
		has, err := stubHas(major, globalExtensionsLacking, globalExtensionsSince, "extensions in /loader/extensions/")
		if err != nil {
			return x, err
		}
		if has {
			x.GlobalSysexts = SelectExtras(extensions, ".raw", ".confext.raw")
			x.GlobalConfexts = SelectExtras(extensions, ".confext.raw", "")
		}
	}
	return x, nil
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

// ExtrasEvents returns the events systemd-stub logs for x, in its order
// (src/boot/stub.c, generate_sidecar_initrds; cpio.c's targets;
// docs/TPM2_PCR_MEASUREMENTS.md): for each kind that has files, one EV_IPL
// event whose digest is H(StubCPIO(...)):
//
//   - PCR 12 "Credentials initrd": .extra/credentials, 0500, files 0400;
//   - PCR 12 "Global credentials initrd": .extra/global_credentials, same;
//   - PCR 13 "System extension initrd": .extra/sysext, 0555, files 0444;
//   - PCR 13 "Global system extension initrd": .extra/global_sysext, same;
//   - PCR 12 "Configuration extension initrd": .extra/confext, same;
//   - PCR 12 "Global configuration extension initrd": .extra/global_confext,
//     same.
//
// Which files are of which kind depends on the stub's version: FindExtras.
func ExtrasEvents(x StubExtras, banks []pcr.Bank) ([]Event, error) {
	var evs []Event
	for _, k := range x.archives() {
		if len(k.files) == 0 {
			continue
		}
		cpio, err := stubCPIO(k.prefix, k.dir, k.file, k.files)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k.desc, err)
		}
		names := make([]string, len(k.files))
		for i, f := range k.files {
			names[i] = f.Name
		}
		slices.Sort(names)
		ev, err := dataEvent(k.pcr, EvIPL, fmt.Sprintf("%s (%s)", k.desc, strings.Join(names, " ")), cpio, banks)
		if err != nil {
			return nil, err
		}
		evs = append(evs, ev)
	}
	return evs, nil
}
