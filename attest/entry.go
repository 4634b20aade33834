package attest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ukibuild/ukibuild/eventlog"
	"github.com/ukibuild/ukibuild/uki"
)

// Entry is a Boot Loader Specification Type #1 entry
// (/loader/entries/*.conf on the ESP; https://uapi-group.org/specifications/specs/boot_loader_specification/)
// that names a UKI with its "uki" key, as systemd-boot 259 and later start
// them ("bootctl link" writes such entries). Only what systemd-boot 262
// uses to start the UKI is kept; keys it ignores for a UKI ("initrd",
// "devicetree", "version", "machine-id", "sort-key", "architecture") are
// not.
type Entry struct {
	// Title is the "title" line (shown in the menu, not measured).
	Title string
	// UKI is the "uki" line: the UKI's path from the ESP's root, as
	// written ('/' or '\' separated).
	UKI string
	// Extra are the "extra" lines, in order: credentials (*.cred),
	// system extensions (*.sysext.raw) and configuration extensions
	// (*.confext.raw), paths from the ESP's root, which systemd-boot packs
	// into an initrd for the UKI and measures (eventlog.EntryExtrasEvents).
	Extra []string
	// Profile is the "profile" line: the UKI profile systemd-boot starts
	// (passed as an "@N" load option); 0: the default.
	Profile int
	// Options are the "options" lines, joined by a space: the command line
	// passed to the UKI (which its stub ignores under Secure Boot when the
	// UKI has a .cmdline).
	Options string
}

// EntryError is a Type #1 entry systemd-boot would not start as a UKI, or
// a line of it that would not do what it says.
type EntryError struct {
	Name string // the file
	Line int    // 0: the entry as a whole
	Msg  string
}

func (e *EntryError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.Name, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.Name, e.Line, e.Msg)
}

// ParseEntry reads a Type #1 entry as systemd-boot 262 reads it (systemd's
// src/boot/boot.c, boot_entry_add_type1, and efi-string.c,
// line_get_key_value, main just before v262): each line is a key and a
// value separated by spaces or tabs, leading and trailing blanks removed,
// lines starting with '#' and lines without a value skipped, a value in
// matching single or double quotes unquoted; a repeated key replaces the
// earlier one, except "extra", which adds a file, and "options", which
// appends to the command line with a space. name is used in errors.
//
// An entry that systemd-boot would not start as a UKI is an *EntryError:
// one without "uki", or that also has "linux", "efi" or "uki-url"
// (systemd-boot drops it as a bad entry). So is a "profile" that is not a
// decimal number, which systemd-boot ignores with a warning (starting the
// default profile): that is almost certainly not what was meant.
func ParseEntry(r io.Reader, name string) (*Entry, error) {
	e := &Entry{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	sc.Split(splitEntryLines)
	other := ""
	for n := 1; sc.Scan(); n++ {
		line := strings.Trim(sc.Text(), " \t")
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.IndexAny(line, " \t")
		if i < 0 {
			continue
		}
		key, value := line[:i], strings.TrimLeft(line[i:], " \t")
		if len(value) >= 2 && (value[0] == '"' || value[0] == '\'') && value[len(value)-1] == value[0] {
			value = value[1 : len(value)-1]
		}
		switch key {
		case "title":
			e.Title = value
		case "uki":
			if !onESP(value) {
				return nil, &EntryError{Name: name, Line: n, Msg: fmt.Sprintf("uki %q leaves the ESP's root: systemd-boot cannot reach it", value)}
			}
			e.UKI = value
		case "linux", "efi", "uki-url":
			other = key
		case "extra":
			if !onESP(value) {
				return nil, &EntryError{Name: name, Line: n, Msg: fmt.Sprintf("extra %q leaves the ESP's root: systemd-boot cannot reach it", value)}
			}
			e.Extra = append(e.Extra, value)
		case "profile":
			u, err := strconv.ParseUint(value, 10, 32)
			if err != nil || strings.HasPrefix(value, "+") {
				return nil, &EntryError{Name: name, Line: n, Msg: fmt.Sprintf("profile %q is not a decimal number (systemd-boot would ignore it and start the default profile)", value)}
			}
			e.Profile = int(u)
		case "options":
			if e.Options == "" {
				e.Options = value
			} else {
				e.Options += " " + value
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	switch {
	case e.UKI == "":
		return nil, &EntryError{Name: name, Msg: "no \"uki\" line: not an entry that starts a UKI"}
	case other != "":
		return nil, &EntryError{Name: name, Msg: fmt.Sprintf("both \"uki\" and %q: systemd-boot drops such an entry", other)}
	}
	return e, nil
}

// splitEntryLines splits at '\n' and '\r', as systemd-boot does; "\r\n"
// is one line break, so that line numbers in errors match an editor's.
func splitEntryLines(data []byte, atEOF bool) (int, []byte, error) {
	for i, c := range data {
		if c == '\n' {
			return i + 1, data[:i], nil
		}
		if c == '\r' {
			if i+1 < len(data) {
				if data[i+1] == '\n' {
					return i + 2, data[:i], nil
				}
				return i + 1, data[:i], nil
			}
			if atEOF {
				return i + 1, data[:i], nil
			}
			return 0, nil, nil // a '\n' may follow in the next read
		}
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

// ReadEntry reads the Type #1 entry file at path (ParseEntry).
func ReadEntry(path string) (*Entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseEntry(f, path)
}

// ESPPath returns the file an entry's path p names on the ESP mounted at
// esp: p is taken from the ESP's root, with '/' or '\' separators. A path
// whose ".." components climb above the ESP's root (ParseEntry refuses
// it) is an error: systemd-boot reads files of the ESP only.
func ESPPath(esp, p string) (string, error) {
	if !onESP(p) {
		return "", fmt.Errorf("%q leaves the ESP's root: systemd-boot cannot reach it", p)
	}
	return filepath.Join(esp, filepath.FromSlash(strings.ReplaceAll(p, `\`, "/"))), nil
}

// onESP reports whether p, taken from the ESP's root with '/' or '\'
// separators, stays inside it once "." and ".." are resolved.
func onESP(p string) bool {
	depth := 0
	for _, c := range strings.FieldsFunc(p, func(r rune) bool { return r == '/' || r == '\\' }) {
		switch c {
		case ".":
		case "..":
			if depth--; depth < 0 {
				return false
			}
		default:
			depth++
		}
	}
	return true
}

// loadOptions is the load options systemd-boot 262 passes to the UKI of
// e (boot.c, image_start): the options, prefixed with "@N" for a profile
// N other than 0; empty: none passed.
func (e *Entry) loadOptions() string {
	if e.Profile == 0 {
		return e.Options
	}
	if e.Options == "" {
		return "@" + strconv.Itoa(e.Profile)
	}
	return "@" + strconv.Itoa(e.Profile) + " " + e.Options
}

// entryEvents are systemd-boot 262's events for the Type #1 entry it
// starts the UKI from (boot.c, image_start): the entry's extra files
// (eventlog.EntryExtrasEvents, entryFiles), then the load options
// it passes, when there are any, into PCR 12 (eventlog.LoadOptionsEvent: the
// same measurement as the stub's, measure.c, tpm_log_load_options).
func (p *predictor) entryEvents() (extras, options []eventlog.Event, err error) {
	e := p.m.Entry
	files, err := p.entryFiles()
	if err != nil {
		return nil, nil, err
	}
	if extras, err = eventlog.EntryExtrasEvents(files, p.banks); err != nil {
		return nil, nil, fmt.Errorf("the Type #1 entry's extra files: %w", err)
	}
	if o := e.loadOptions(); o != "" {
		options = []eventlog.Event{eventlog.LoadOptionsEvent(o, p.banks)}
	}
	return extras, options, nil
}

// entryFiles are the Type #1 entry's extra files on the ESP, read once
// (their contents when needed): a file that does not exist or is a
// directory is skipped, as systemd-boot skips it with a warning.
func (p *predictor) entryFiles() ([]eventlog.EntryExtra, error) {
	if p.entryExtras != nil || p.m.Entry == nil {
		return p.entryExtras, nil
	}
	files := []eventlog.EntryExtra{}
	for _, x := range p.m.Entry.Extra {
		if p.m.ESP == "" {
			return nil, fmt.Errorf("the Type #1 entry's extra files are read from the ESP: give its root (Machine.ESP)")
		}
		path, err := ESPPath(p.m.ESP, x)
		if err != nil {
			return nil, fmt.Errorf("the Type #1 entry's extra file: %w", err)
		}
		st, err := os.Stat(path)
		if errors.Is(err, fs.ErrNotExist) || (err == nil && st.IsDir()) {
			p.note("PCR 9, 12, 13: the entry's extra %s is not a file on the ESP (%s): systemd-boot skips it", x, path)
			continue
		}
		if err != nil {
			return nil, err
		}
		c, err := uki.File(path)
		if err != nil {
			return nil, err
		}
		files = append(files, eventlog.EntryExtra{Name: filepath.Base(path), Content: c})
	}
	p.entryExtras = files
	return files, nil
}
