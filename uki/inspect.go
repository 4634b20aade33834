package uki

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/ukibuild/ukibuild/internal/atomicfile"
	"github.com/ukibuild/ukibuild/internal/pe"
	"github.com/ukibuild/ukibuild/internal/pyjson"
	"github.com/ukibuild/ukibuild/internal/pystr"
	"github.com/ukibuild/ukibuild/pcr"
)

// DefaultInspectSections are the sections ukify 262 shows by default and how
// (src/ukify/ukify.py, DEFAULT_SECTIONS_TO_SHOW).
var DefaultInspectSections = map[string]string{
	".linux":   "binary",
	".initrd":  "binary",
	".ucode":   "binary",
	".splash":  "binary",
	".dtb":     "binary",
	".dtbauto": "binary",
	".hwids":   "binary",
	".efifw":   "binary",
	".cmdline": "text",
	".osrel":   "text",
	".uname":   "text",
	".pcrpkey": "text",
	".pcrsig":  "text",
	".sbat":    "text",
	".sbom":    "binary",
	".profile": "text",
}

// multiInstanceSections may appear several times in one profile; inspect's
// JSON always reports them as lists (ukify 262, MULTI_INSTANCE_SECTIONS).
var multiInstanceSections = map[string]bool{".dtbauto": true, ".efifw": true}

// InspectSection selects a section to show: Mode is "text" or "binary" ("":
// the default for that name), Out a file to write the section's data to.
type InspectSection struct {
	Name, Mode, Out string
}

var inspectSectionRE = regexp.MustCompile(`^([a-zA-Z0-9_.]+)(?::(text|binary))?(?:@(.+))?$`)

// ParseInspectSection parses ukify's NAME:text|binary[@OUT] (the mode may be
// left out here).
func ParseInspectSection(s string) (InspectSection, error) {
	m := inspectSectionRE.FindStringSubmatch(s)
	if m == nil {
		return InspectSection{}, fmt.Errorf("cannot parse section spec %q: want NAME[:text|binary][@OUTPUT]", s)
	}
	return InspectSection{Name: m[1], Mode: m[2], Out: m[3]}, nil
}

// InspectOptions are the options of ukify's inspect verb.
type InspectOptions struct {
	// JSON is "off" (text), "short" or "pretty".
	JSON string
	// All shows every section.
	All bool
	// Sections, when given, shows only these (and, in JSON, .profile).
	Sections []InspectSection
	// Warnf receives warnings (nil: discarded).
	Warnf func(format string, args ...any)
}

// SectionInfo describes one section of a PE image, as inspect reports it.
type SectionInfo struct {
	Name   string
	Size   int64  // min(VirtualSize, SizeOfRawData)
	SHA256 string // of the section's data, Size bytes
	Text   string // set when shown as text
	IsText bool
}

// Inspect prints what ukify 262's inspect verb prints for the PE image at
// path: one block per shown section in text mode, or a JSON object with the
// base profile's sections at the top level and further profiles under
// "_profiles".
//
// Inspecting an odd image is useful, so section data past the end of the
// file or overlapping (pe.File.CheckOverlap), which make the image
// unsignable, are a warning here, not an error; headers that cannot be read
// at all are an error.
func Inspect(w io.Writer, path string, opts InspectOptions) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	return inspect(w, f, st.Size(), path, opts)
}

// inspect is Inspect on the image r of the given size; path names it in
// messages.
func inspect(w io.Writer, f io.ReaderAt, size int64, path string, opts InspectOptions) error {
	warnf := opts.Warnf
	if warnf == nil {
		warnf = func(string, ...any) {}
	}
	hdr, err := pe.Parse(f, size)
	if err != nil {
		return fmt.Errorf("%s: %w", path, pe.NameFile(err, path))
	}
	if err := hdr.CheckOverlap(); err != nil {
		warnf("%s: %v", path, err)
	}
	var read int64 // bytes of section data read so far
	byName := map[string]InspectSection{}
	for _, s := range opts.Sections {
		byName[s.Name] = s
	}
	emitJSON := opts.JSON != "off" && opts.JSON != ""
	base := pyjson.NewObject()
	var profiles []any
	profile := base
	for i := range hdr.Sections {
		raw := hdr.Sections[i].NameString()
		if !utf8.ValidString(raw) {
			return fmt.Errorf("%s: section %d has a name that is not UTF-8 (%q)", path, i, raw)
		}
		name := raw
		if emitJSON && name == ".profile" {
			profile = pyjson.NewObject()
			profiles = append(profiles, profile)
		}
		cfg, selected := byName[name]
		_, isDefault := DefaultInspectSections[name]
		force := emitJSON && name == ".profile"
		if !(force || selected || opts.All || (isDefault && len(opts.Sections) == 0)) {
			continue
		}
		mode := cfg.Mode
		if mode == "" {
			mode = DefaultInspectSections[name]
			if mode == "" {
				mode = "binary"
			}
		}
		sec := &hdr.Sections[i]
		off, end := hdr.DataRange(i, int64(min(sec.VirtualSize, sec.SizeOfRawData)))
		if read += end - off; read > maxInspectRead(size) {
			return fmt.Errorf("%s: the data of the sections shown adds up to more than %d bytes for a file of %d bytes: the sections overlap over and over", path, maxInspectRead(size), size)
		}
		info, err := readSectionInfo(f, hdr, i, mode == "text", cfg.Out)
		if err != nil {
			return fmt.Errorf("%s: section %s: %w", path, name, err)
		}
		if info.IsText && info.Text == notUTF8 {
			warnf("Section %q is not valid text", name)
		}
		if !emitJSON {
			fmt.Fprintf(w, "%s:\n  size: %d bytes\n  sha256: %s\n", name, info.Size, info.SHA256)
			if info.IsText {
				fmt.Fprintf(w, "  text:\n%s\n", pystr.Indent(pystr.RStrip(info.Text), "    "))
			}
			continue
		}
		desc := pyjson.NewObject()
		desc.Set("size", info.Size)
		desc.Set("sha256", info.SHA256)
		if info.IsText {
			desc.Set("text", info.Text)
		}
		addToProfile(profile, name, desc, warnf)
	}
	if !emitJSON {
		return nil
	}
	if len(profiles) > 0 {
		base.Set("_profiles", profiles)
	}
	var out []byte
	if opts.JSON == "pretty" {
		out, err = pyjson.MarshalIndent(base, 4)
	} else {
		out, err = pyjson.Marshal(base)
	}
	if err != nil {
		return err
	}
	_, err = w.Write(out)
	return err
}

const notUTF8 = "(not valid UTF-8)"

// maxInspectRead bounds the section data inspect reads from a file of size
// bytes. Sections of a sound image do not overlap, so their data adds up to
// less than the file; a crafted section table can name the same megabytes
// thousands of times.
func maxInspectRead(size int64) int64 { return 4*size + 1<<20 }

// maxTextSection bounds a section shown as text.
const maxTextSection = 64 << 20

// readSectionInfo reads section i the way ukify's inspect_section does and,
// when out is set, writes its data there (atomically).
func readSectionInfo(r io.ReaderAt, hdr *pe.File, i int, asText bool, out string) (SectionInfo, error) {
	s := &hdr.Sections[i]
	size := int64(min(s.VirtualSize, s.SizeOfRawData))
	off, end := hdr.DataRange(i, size)
	info := SectionInfo{Name: s.NameString(), Size: size, IsText: asText}
	h := sha256.New()
	var data []byte
	if asText {
		if end-off > maxTextSection {
			return info, fmt.Errorf("%d bytes is too large to show as text (limit %d)", end-off, maxTextSection)
		}
		data = make([]byte, end-off)
		if err := pe.ReadFullAt(r, data, off); err != nil {
			return info, err
		}
		h.Write(data)
	}
	if out != "" {
		write := func(f *os.File) error {
			if data != nil {
				_, err := f.Write(data)
				return err
			}
			_, err := io.Copy(io.MultiWriter(f, h), io.NewSectionReader(r, off, end-off))
			return err
		}
		var err error
		if st, serr := os.Stat(out); serr == nil && st.Mode()&(fs.ModeCharDevice|fs.ModeNamedPipe) != 0 {
			// /dev/stdout or a pipe: nothing to replace atomically.
			err = writeTo(out, write)
		} else {
			err = atomicfile.Write(out, 0o644, write)
		}
		if err != nil {
			return info, fmt.Errorf("writing %s: %w", out, err)
		}
	} else if data == nil {
		if _, err := io.Copy(h, io.NewSectionReader(r, off, end-off)); err != nil {
			return info, err
		}
	}
	info.SHA256 = hex.EncodeToString(h.Sum(nil))
	if asText {
		t := strings.ReplaceAll(strings.TrimRight(string(data), "\x00"), "\x00", `\0`)
		if !utf8.ValidString(t) {
			t = notUTF8
		}
		info.Text = t
	}
	return info, nil
}

// writeTo opens the existing file path for writing and runs write on it.
func writeTo(path string, write func(*os.File) error) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// addToProfile mirrors ukify's add_section_to_profile.
func addToProfile(profile *pyjson.Object, name string, desc *pyjson.Object, warnf func(string, ...any)) {
	have, ok := profile.Get(name)
	switch {
	case multiInstanceSections[name]:
		list, _ := have.([]any)
		profile.Set(name, append(list, desc))
	case !ok:
		profile.Set(name, desc)
	default:
		warnf("Unexpected duplicate %q section, reporting all instances as a list", name)
		if list, isList := have.([]any); isList {
			profile.Set(name, append(list, desc))
		} else {
			profile.Set(name, []any{have, desc})
		}
	}
}

// ImageFile is an open PE image (a built UKI) whose sections can be read.
type ImageFile struct {
	f   *os.File
	hdr *pe.File
}

// OpenImage opens the PE image at path.
func OpenImage(path string) (*ImageFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	hdr, err := pe.Parse(f, st.Size())
	if err == nil {
		err = hdr.CheckSections()
	}
	if err == nil {
		// Sections() zero-extends each section to its VirtualSize; a
		// hostile image could otherwise make measuring it hash
		// terabytes of zeros.
		var total uint64
		for _, s := range hdr.Sections {
			total += uint64(s.VirtualSize)
		}
		if total > 1<<32 {
			err = &pe.FormatError{Defect: fmt.Sprintf("the sections' VirtualSize add up to %d bytes, more than the 4 GiB address space", total)}
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, pe.NameFile(err, path))
	}
	return &ImageFile{f: f, hdr: hdr}, nil
}

// Close closes the file.
func (img *ImageFile) Close() error { return img.f.Close() }

// Sections returns every section with its content as the loaded image holds
// it: VirtualSize bytes, the raw data zero-extended when VirtualSize is the
// larger (what systemd-stub measures).
func (img *ImageFile) Sections() []Section {
	out := make([]Section, 0, len(img.hdr.Sections))
	for i := range img.hdr.Sections {
		s := &img.hdr.Sections[i]
		raw := int64(min(s.VirtualSize, s.SizeOfRawData))
		out = append(out, Section{Name: s.NameString(), Content: &sectionContent{
			what: fmt.Sprintf("%s section %s", img.f.Name(), s.NameString()),
			r:    io.NewSectionReader(img.f, int64(s.PointerToRawData), raw),
			size: int64(s.VirtualSize),
		}})
	}
	return out
}

// BaseSections returns the sections of the base profile: those before the
// first .profile section.
func (img *ImageFile) BaseSections() []Section {
	all := img.Sections()
	for i, s := range all {
		if s.Name == ".profile" {
			return all[:i]
		}
	}
	return all
}

// Machine returns the image's PE machine type (COFF header).
func (img *ImageFile) Machine() Machine { return Machine(img.hdr.Machine) }

// StubVersion returns the version of the systemd-stub the image was built
// from, as pcr.StubVersion reads it (its .sdmagic section, else the
// LoaderInfo string a gnu-efi stub keeps outside its sections), or "".
func (img *ImageFile) StubVersion() string {
	v, err := pcr.StubVersion(img.f, img.hdr.Size)
	if err != nil {
		return ""
	}
	return v
}

type sectionContent struct {
	what string
	r    *io.SectionReader
	size int64
}

func (c *sectionContent) Size() int64    { return c.size }
func (c *sectionContent) String() string { return c.what }
func (c *sectionContent) Open() (io.ReadCloser, error) {
	pad := c.size - c.r.Size()
	return io.NopCloser(io.MultiReader(io.NewSectionReader(c.r, 0, c.r.Size()), io.LimitReader(zeroReader{}, pad))), nil
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
