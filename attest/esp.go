package attest

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/ukibuild/ukibuild/eventlog"
	"github.com/ukibuild/ukibuild/pcr"
	"github.com/ukibuild/ukibuild/uki"
)

// readExtras lists the regular files of dir (none when it does not
// exist); their contents are read when the prediction needs them.
func readExtras(dir string) ([]eventlog.ExtraFile, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []eventlog.ExtraFile
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		c, err := uki.File(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, eventlog.ExtraFile{Name: e.Name(), Content: c})
	}
	return out, nil
}

// stubExtras reads what the stub (major version major) finds: the files
// in the UKI's extra directory and, with an ESP, in its
// /loader/credentials/ and /loader/extensions/ (eventlog.FindExtras).
func (p *predictor) stubExtras(major int) (eventlog.StubExtras, error) {
	local, err := readExtras(p.extraDir)
	if err != nil {
		return eventlog.StubExtras{}, err
	}
	var credentials, extensions []eventlog.ExtraFile
	if esp := p.m.ESP; esp != "" {
		if credentials, err = readExtras(filepath.Join(esp, "loader", "credentials")); err != nil {
			return eventlog.StubExtras{}, err
		}
		if extensions, err = readExtras(filepath.Join(esp, "loader", "extensions")); err != nil {
			return eventlog.StubExtras{}, err
		}
	}
	x, err := eventlog.FindExtras(major, local, credentials, extensions)
	if err != nil {
		return x, fmt.Errorf("%s: %w", p.path, err)
	}
	return x, nil
}

// addonSections are the sections of an add-on the stub looks at.
var addonSections = []string{".linux", ".cmdline", ".dtb", ".dtbauto", ".initrd", ".ucode", ".uname", ".profile"}

// readAddons reads the add-ons the stub would load from dir (global: the
// ESP's /loader/addons/): the *.addon.efi files, with their sections.
func readAddons(dir string, global bool) ([]eventlog.Addon, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if !e.IsDir() {
			names = append(names, e.Name())
		}
	}
	var out []eventlog.Addon
	for _, n := range eventlog.SelectAddons(names) {
		path := filepath.Join(dir, n)
		a, err := readAddon(path, n, global)
		if err != nil {
			return nil, fmt.Errorf("add-on %s: %w", path, err)
		}
		out = append(out, a)
	}
	return out, nil
}

func readAddon(path, name string, global bool) (eventlog.Addon, error) {
	img, err := uki.OpenImage(path)
	if err != nil {
		return eventlog.Addon{}, err
	}
	defer img.Close()
	a := eventlog.Addon{Name: name, Global: global, Path: path, Sections: map[string][]byte{}, Machine: uint16(img.Machine())}
	for _, s := range img.Sections() {
		if !slices.Contains(addonSections, s.Name) {
			continue
		}
		if _, dup := a.Sections[s.Name]; dup {
			continue // the stub takes the first section of a name
		}
		b, err := readContent(s.Name, s.Content)
		if err != nil {
			return eventlog.Addon{}, err
		}
		a.Sections[s.Name] = b
	}
	return a, nil
}

// readContent reads a (small) section whole.
func readContent(name string, c pcr.Content) ([]byte, error) {
	rc, err := c.Open()
	if err != nil {
		return nil, fmt.Errorf("section %s: %w", name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("section %s: %w", name, err)
	}
	return b, nil
}
