package kernel

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"
)

// ErrNoUname is wrapped by the error DetectUname and DetectUnameAt return
// when no step found a kernel version.
var ErrNoUname = errors.New("kernel version not found")

// UnameError is returned by DetectUname and DetectUnameAt when every step
// failed. Steps holds
// each step's error in the order x86 header, ELF note, generic scan.
type UnameError struct {
	Name  string
	Steps []error
}

func (e *UnameError) Error() string {
	msgs := make([]string, len(e.Steps))
	for i, s := range e.Steps {
		msgs[i] = s.Error()
	}
	return fmt.Sprintf("%s in %s: %s", ErrNoUname, e.Name, strings.Join(msgs, "; "))
}

// Unwrap returns ErrNoUname followed by the step errors.
func (e *UnameError) Unwrap() []error {
	return append([]error{ErrNoUname}, e.Steps...)
}

// MaxGenericVersion bounds the version string accepted by the generic scan
// ("Linux version X.Y..."): the kernel's release string is at most 64 bytes
// (__NEW_UTS_LEN), so 4 KiB is generous. It also bounds the ELF note
// description accepted by the ELF step.
const MaxGenericVersion = 4096

// scanChunk is how much the generic scan reads at a time. The scan window
// (memory used) is at most scanChunk + len("Linux version ") +
// MaxGenericVersion + 2 bytes.
const scanChunk = 256 << 10

// DetectUname opens path and runs Options{Warn: warn}.DetectUnameAt on it.
func DetectUname(path string, warn func(format string, args ...any)) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("detecting kernel version: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("detecting kernel version: %w", err)
	}
	return Options{Warn: warn}.DetectUnameAt(f, st.Size(), path)
}

// DetectUnameAt reproduces ukify's Uname.scrape on the first size bytes of
// r; name (typically the path) is used in messages. It tries, in order:
//
//  1. the x86 real-mode kernel header ("HdrS" at 0x202, 16-bit pointer at
//     0x20e to a NUL-terminated string at 0x200+pointer, at most 128 bytes)
//     matched with ukify's `(?P<version>[a-z0-9._+-]+) \([^ )]+\) (?:#.*)`
//     anchored at the start;
//  2. the ELF note with owner "Linux" and type 0x100 (the kernel's
//     build-salt note; readelf shows the type as "OPEN"), whose description
//     bytes, decoded as Latin-1 as ukify does and stripped of trailing NULs,
//     are the version;
//  3. the first match of `Linux version (?P<version>\d\.\S+) \(` in the
//     content MaybeDecompress yields, scanned as a stream.
//
// Each failed step's reason is passed to o.Warn, like the line ukify prints;
// on success the version is returned (and, unlike ukify, "Found uname
// version" is left to the caller). If all steps fail the error is a
// *UnameError wrapping ErrNoUname.
//
// Differences from ukify:
//
//   - Step 2 parses ELF notes with debug/elf instead of running
//     `readelf --notes` (GNU binutils 2.40 was used for comparison). Like
//     readelf it reads the SHT_NOTE sections, or the PT_NOTE segments if
//     there are none, of non-core files; it stops walking a region at a
//     malformed note, and fails the step when a region is empty, lies
//     outside the file or has an alignment other than 0-4 or 8 (cases in
//     which readelf exits non-zero, so ukify fails the step too). Other
//     readelf diagnostics and exit-status details are not replicated, and an
//     ELF file that debug/elf rejects (e.g. a broken section-name table)
//     fails the step although readelf might still print its notes.
//     Descriptions longer than MaxGenericVersion fail the step.
//   - In step 3 ukify aborts with a traceback when the file cannot be
//     decompressed (unknown format, LZO, corrupt stream); here that is a
//     failed step. The scan stops at the first match instead of
//     decompressing everything first, so corruption after the match is not
//     noticed. A matching version longer than MaxGenericVersion fails the
//     step instead of being returned. xz (and xz zboot payloads) are scanned
//     although ukify cannot read them, as are lz4-legacy zboot payloads.
//   - The x86 step needs the two pointer bytes at 0x20e; a file that ends
//     before them fails the step (ukify would crash with IndexError).
//   - An ELF note consisting only of NULs yields "" with a nil error, exactly
//     as ukify (which then omits .uname because the string is empty).
func (o Options) DetectUnameAt(r io.ReaderAt, size int64, name string) (string, error) {
	if size < 0 {
		return "", fmt.Errorf("detecting kernel version of %s: negative size %d", name, size)
	}
	r = io.NewSectionReader(r, 0, size)
	steps := []func() (string, error){
		func() (string, error) { return unameX86(r, size) },
		func() (string, error) { return unameELF(r, size) },
		func() (string, error) { return o.unameGeneric(r, size, name) },
	}
	var errs []error
	for _, step := range steps {
		v, err := step()
		if err == nil {
			return v, nil
		}
		o.warnf("%s", err.Error())
		errs = append(errs, err)
	}
	return "", &UnameError{Name: name, Steps: errs}
}

// unameX86 implements Uname.scrape_x86.
func unameX86(r io.ReaderAt, size int64) (string, error) {
	magic, err := readAtMost(r, 0x202, 4)
	if err != nil {
		return "", fmt.Errorf("x86 real-mode header: %w", err)
	}
	if string(magic) != "HdrS" {
		return "", errors.New("Real-Mode Kernel Header magic not found")
	}
	ptr, err := readAtMost(r, 0x20e, 2)
	if err != nil {
		return "", fmt.Errorf("x86 real-mode header: %w", err)
	}
	if len(ptr) < 2 {
		return "", fmt.Errorf("Real-Mode Kernel Header truncated: file ends at %#x, before the kernel version pointer at 0x20e", size)
	}
	off := 0x200 + int64(binary.LittleEndian.Uint16(ptr))
	text, err := readAtMost(r, off, 128)
	if err != nil {
		return "", fmt.Errorf("x86 real-mode header: %w", err)
	}
	if i := bytes.IndexByte(text, 0); i >= 0 {
		text = text[:i]
	}
	if !utf8.Valid(text) {
		return "", fmt.Errorf("Real-Mode Kernel Header version string at %#x is not valid UTF-8: %s", off, pyBytesRepr(text))
	}
	v, ok := matchX86Version(text)
	if !ok {
		return "", fmt.Errorf("cannot parse version-host-release uname string: %s", pyBytesRepr(text))
	}
	return v, nil
}

// matchX86Version is re.match(r'(?P<version>[a-z0-9._+-]+) \([^ )]+\) (?:#.*)', s).
// Because the version class excludes ' ' and "[^ )]+" must be followed by
// ')', the greedy runs cannot backtrack usefully, so a linear check is
// exact. "#.*" matches whatever follows '#'.
func matchX86Version(s []byte) (string, bool) {
	i := 0
	for i < len(s) && isX86VersionByte(s[i]) {
		i++
	}
	if i == 0 {
		return "", false
	}
	v := string(s[:i])
	rest := s[i:]
	if !bytes.HasPrefix(rest, []byte(" (")) {
		return "", false
	}
	rest = rest[2:]
	j := 0
	for j < len(rest) && rest[j] != ' ' && rest[j] != ')' {
		j++
	}
	if j == 0 || !bytes.HasPrefix(rest[j:], []byte(") #")) {
		return "", false
	}
	return v, true
}

func isX86VersionByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '+' || c == '-'
}

// ELF note constants.
const (
	linuxNoteName      = "Linux"
	linuxNoteBuildSalt = 0x100 // LINUX_ELFNOTE_BUILD_SALT, readelf's "OPEN"
)

// unameELF implements Uname.scrape_elf without readelf: the first note, in
// readelf's order, owned by "Linux" with type 0x100 and a non-empty
// description.
func unameELF(r io.ReaderAt, size int64) (v string, err error) {
	magic, err := readAtMost(r, 0, 4)
	if err != nil {
		return "", fmt.Errorf("ELF notes: %w", err)
	}
	if string(magic) != "\x7fELF" {
		return "", errors.New("readelf: Error: Not an ELF file - it has the wrong magic bytes at the start")
	}
	defer func() {
		if p := recover(); p != nil {
			v, err = "", fmt.Errorf("ELF notes: malformed ELF file: parser failed: %v", p)
		}
	}()
	f, err := elf.NewFile(io.NewSectionReader(r, 0, size))
	if err != nil {
		return "", fmt.Errorf("ELF notes: malformed ELF file: %w", err)
	}
	if f.Type == elf.ET_CORE {
		// readelf names type 0x100 after core-file note types here.
		return "", errors.New("cannot find Linux version note")
	}
	type region struct{ off, size, align uint64 }
	var regions []region
	for _, s := range f.Sections {
		if s.Type == elf.SHT_NOTE {
			regions = append(regions, region{s.Offset, s.FileSize, s.Addralign})
		}
	}
	if len(regions) == 0 {
		for _, p := range f.Progs {
			if p.Type == elf.PT_NOTE {
				regions = append(regions, region{p.Off, p.Filesz, p.Align})
			}
		}
	}
	// readelf fails (and ukify with it) if any note region is empty, lies
	// outside the file or has an alignment other than 0 to 4 or 8,
	// even when another region holds the note.
	for _, reg := range regions {
		switch {
		case reg.size == 0:
			return "", fmt.Errorf("readelf: note region at offset %#x is empty", reg.off)
		case reg.off > uint64(size) || reg.size > uint64(size)-reg.off:
			return "", fmt.Errorf("readelf: Error: Reading %d bytes extends past end of file for notes at offset %#x", reg.size, reg.off)
		case reg.align > 4 && reg.align != 8:
			return "", fmt.Errorf("readelf: Warning: Corrupt note: alignment %d, expecting 4 or 8", reg.align)
		}
	}
	for _, reg := range regions {
		desc, found, err := findLinuxNote(r, size, f.ByteOrder, reg.off, reg.size, reg.align)
		if err != nil {
			return "", err
		}
		if found {
			rs := make([]rune, len(desc))
			for i, b := range desc {
				rs[i] = rune(b) // Latin-1, like chr(int(c, 16)) in ukify
			}
			return strings.TrimRight(string(rs), "\x00"), nil
		}
	}
	return "", errors.New("cannot find Linux version note")
}

// findLinuxNote walks the notes in [off, off+length) like readelf's
// process_notes_at: alignment below 4 counts as 4, and a note whose padded
// name or description does not fit ends the walk of the region (readelf
// only warns about it).
func findLinuxNote(r io.ReaderAt, fileSize int64, bo binary.ByteOrder, off, length, align uint64) ([]byte, bool, error) {
	if align < 4 {
		align = 4
	}
	if (align != 4 && align != 8) || length == 0 || off > uint64(fileSize) || length > uint64(fileSize)-off {
		return nil, false, nil // rejected by the caller already
	}
	alignUp := func(v uint64) uint64 { return (v + align - 1) &^ (align - 1) }
	var pos uint64
	for length-pos >= 12 {
		hdr, err := readAtMost(r, int64(off+pos), 12)
		if err != nil {
			return nil, false, fmt.Errorf("ELF notes: %w", err)
		}
		if len(hdr) < 12 {
			return nil, false, nil
		}
		namesz := uint64(bo.Uint32(hdr[0:]))
		descsz := uint64(bo.Uint32(hdr[4:]))
		typ := bo.Uint32(hdr[8:])
		descOff := alignUp(12 + namesz)
		next := alignUp(descOff + descsz)
		if descOff-12 < namesz || next-descOff < descsz || next > length-pos {
			return nil, false, nil // corrupt note: readelf stops here
		}
		if typ == linuxNoteBuildSalt && descsz > 0 && namesz >= uint64(len(linuxNoteName)) {
			// The owner is compared as a C string, as readelf prints it.
			name, err := readAtMost(r, int64(off+pos+12), int(min(namesz, uint64(len(linuxNoteName)+1))))
			if err != nil {
				return nil, false, fmt.Errorf("ELF notes: %w", err)
			}
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			if string(name) == linuxNoteName {
				if descsz > MaxGenericVersion {
					return nil, false, fmt.Errorf("ELF note Linux 0x100 at offset %#x: description of %d bytes is longer than %d", off+pos, descsz, MaxGenericVersion)
				}
				desc, err := readAtMost(r, int64(off+pos+descOff), int(descsz))
				if err != nil {
					return nil, false, fmt.Errorf("ELF notes: %w", err)
				}
				return desc, true, nil
			}
		}
		pos += next
	}
	return nil, false, nil
}

// textPattern is ukify's Uname.TEXT_PATTERN, for messages.
const textPattern = `Linux version (?P<version>\d\.\S+) \(`

// unameGeneric implements Uname.scrape_generic on a stream.
func (o Options) unameGeneric(r io.ReaderAt, size int64, name string) (string, error) {
	rc, _, err := o.MaybeDecompress(r, size)
	if err != nil {
		return "", fmt.Errorf("generic scan of %s: %w", name, err)
	}
	defer rc.Close()
	v, err := scanLinuxVersion(rc, scanChunk, MaxGenericVersion)
	if err != nil {
		return "", fmt.Errorf("generic scan of %s: %w", name, err)
	}
	if v == nil {
		return "", fmt.Errorf("cannot find b%s in %s", pyStrRepr(textPattern), name)
	}
	if !utf8.Valid(v) {
		return "", fmt.Errorf("generic scan of %s: version after \"Linux version \" is not valid UTF-8: %s", name, pyBytesRepr(v))
	}
	return string(v), nil
}

var linuxVersionPrefix = []byte("Linux version ")

// isPySpace is Python's bytes-pattern \s: ASCII space, \t, \n, \v, \f, \r.
func isPySpace(c byte) bool {
	return c == ' ' || c >= '\t' && c <= '\r'
}

// scanLinuxVersion finds the first (leftmost) match of the bytes regex
// `Linux version (?P<version>\d\.\S+) \(` in r and returns the version
// group, or nil if there is none. It reads chunk bytes at a time and keeps
// at most chunk+len(prefix)+maxLen+2 bytes.
//
// The regex is matched exactly: after the prefix comes a digit, '.', then a
// maximal run of non-whitespace bytes which must be followed by " (". No
// backtracking can change the outcome because the run excludes ' '. A run
// longer than maxLen-2 is only scanned for its end; if it would match, an
// error is returned, since ukify would return that over-long version.
func scanLinuxVersion(r io.Reader, chunk, maxLen int) ([]byte, error) {
	var (
		buf []byte
		eof bool
	)
	// fill appends up to chunk bytes; it sets eof at the end of input.
	fill := func() error {
		if eof {
			return nil
		}
		if cap(buf)-len(buf) < chunk {
			nb := make([]byte, len(buf), len(buf)+chunk)
			copy(nb, buf)
			buf = nb
		}
		n, err := io.ReadAtLeast(r, buf[len(buf):len(buf)+chunk], 1)
		buf = buf[:len(buf)+n]
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			eof = true
			return nil
		}
		return err
	}
	// discard drops buf[:k] keeping the rest at the front.
	discard := func(k int) {
		n := copy(buf, buf[k:])
		buf = buf[:n]
	}
	pos := 0
	for {
		i := bytes.Index(buf[pos:], linuxVersionPrefix)
		if i < 0 {
			if eof {
				return nil, nil
			}
			keep := max(pos, len(buf)-(len(linuxVersionPrefix)-1))
			discard(keep)
			pos = 0
			if err := fill(); err != nil {
				return nil, err
			}
			continue
		}
		start := pos + i
		c := buf[start+len(linuxVersionPrefix):]
		switch res, n := evalCandidate(c, eof, maxLen); res {
		case candMatch:
			return append([]byte(nil), c[:n]...), nil
		case candNoMatch:
			pos = start + 1
		case candMore:
			discard(start)
			pos = 0
			if err := fill(); err != nil {
				return nil, err
			}
		case candTooLong:
			// Skip to the end of the over-long run. A later "Linux version "
			// can only begin in the run's last 5 bytes (it contains a space
			// at index 5), so keeping len(prefix) bytes of it is enough.
			discard(start + len(linuxVersionPrefix) + n)
			for {
				k := indexPySpace(buf)
				if k < 0 {
					if eof {
						return nil, nil
					}
					discard(max(0, len(buf)-len(linuxVersionPrefix)))
					if err := fill(); err != nil {
						return nil, err
					}
					continue
				}
				if buf[k] == ' ' && k+1 == len(buf) && !eof {
					discard(max(0, k-len(linuxVersionPrefix)))
					if err := fill(); err != nil {
						return nil, err
					}
					continue
				}
				if buf[k] == ' ' && k+1 < len(buf) && buf[k+1] == '(' {
					return nil, fmt.Errorf("version after %q is longer than %d bytes", linuxVersionPrefix, maxLen)
				}
				pos = max(0, k-len(linuxVersionPrefix))
				break
			}
		}
	}
}

// indexPySpace returns the index of the first Python-\s byte in b, or -1.
func indexPySpace(b []byte) int {
	for i, c := range b {
		if isPySpace(c) {
			return i
		}
	}
	return -1
}

type candResult int

const (
	candNoMatch candResult = iota
	candMatch
	candMore    // need more input to decide
	candTooLong // the non-whitespace run exceeds maxLen; n = bytes examined
)

// evalCandidate checks c (the bytes after "Linux version ") against
// `\d\.\S+ \(`. On candMatch n is the version length.
func evalCandidate(c []byte, eof bool, maxLen int) (candResult, int) {
	more := func() (candResult, int) {
		if eof {
			return candNoMatch, 0
		}
		return candMore, 0
	}
	if len(c) < 1 {
		return more()
	}
	if c[0] < '0' || c[0] > '9' {
		return candNoMatch, 0
	}
	if len(c) < 2 {
		return more()
	}
	if c[1] != '.' {
		return candNoMatch, 0
	}
	j := 2
	for j < len(c) && j <= maxLen && !isPySpace(c[j]) {
		j++
	}
	if j > maxLen {
		return candTooLong, j
	}
	if j == len(c) {
		return more()
	}
	if j == 2 || c[j] != ' ' {
		return candNoMatch, 0
	}
	if j+1 == len(c) {
		return more()
	}
	if c[j+1] != '(' {
		return candNoMatch, 0
	}
	return candMatch, j
}

// pyBytesRepr renders b like Python's repr() of a bytes object.
func pyBytesRepr(b []byte) string {
	return "b" + pyRepr(b)
}

// pyStrRepr renders an ASCII string like Python's repr() of a str.
func pyStrRepr(s string) string {
	return pyRepr([]byte(s))
}

func pyRepr(b []byte) string {
	quote := byte('\'')
	if bytes.IndexByte(b, '\'') >= 0 && bytes.IndexByte(b, '"') < 0 {
		quote = '"'
	}
	var sb strings.Builder
	sb.WriteByte(quote)
	for _, c := range b {
		switch {
		case c == quote || c == '\\':
			sb.WriteByte('\\')
			sb.WriteByte(c)
		case c == '\t':
			sb.WriteString(`\t`)
		case c == '\n':
			sb.WriteString(`\n`)
		case c == '\r':
			sb.WriteString(`\r`)
		case c < 0x20 || c >= 0x7f:
			fmt.Fprintf(&sb, `\x%02x`, c)
		default:
			sb.WriteByte(c)
		}
	}
	sb.WriteByte(quote)
	return sb.String()
}
