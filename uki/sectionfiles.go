package uki

import "github.com/ukibuild/ukibuild/pcr"

// SectionFileError is a file given for a systemd-measure section option
// that cannot be used (File's error).
type SectionFileError struct {
	// Option is the option, as in pcr.Options ("linux", "osrel", ...).
	Option string
	Err    error
}

func (e *SectionFileError) Error() string { return e.Option + ": " + e.Err.Error() }

func (e *SectionFileError) Unwrap() error { return e.Err }

// SectionFiles returns the sections that systemd-measure's section options
// give, as pcr.Predict takes them: paths maps options (pcr.Options:
// "linux" for .linux, ...) to files, "" or a missing option being "not
// given"; the sections come in pcr.Options' order, each a File. A file
// that cannot be used is a *SectionFileError.
func SectionFiles(paths map[string]string) ([]pcr.Section, error) {
	var out []pcr.Section
	for _, opt := range pcr.Options() {
		path := paths[opt]
		if path == "" {
			continue
		}
		c, err := File(path)
		if err != nil {
			return nil, &SectionFileError{Option: opt, Err: err}
		}
		out = append(out, pcr.Section{Name: "." + opt, Content: c})
	}
	return out, nil
}
