package main

import (
	"fmt"
	"os"

	"github.com/ukibuild/ukibuild/uki"
)

// profileOptions maps the options of profiles, add-on devicetrees,
// hardware IDs and firmware (--profile, --join-profile, --sign-profile,
// --devicetree-auto, --hwids, --efifw) to cfg, with ukify 262's defaults.
func (b *buildCmd) profileOptions(cfg *uki.Config, arch string, e *env) error {
	for _, p := range b.DevicetreeAuto {
		c, err := uki.File(p)
		if err != nil {
			return fmt.Errorf("--devicetree-auto: %w", err)
		}
		cfg.DevicetreeAuto = append(cfg.DevicetreeAuto, c)
	}
	dir := b.HWIDs.Value
	if !b.HWIDs.Set {
		// ukify adds the distribution's table when it is installed.
		if st, err := os.Stat(uki.DefaultHWIDsDir(arch)); err == nil && st.IsDir() {
			dir = uki.DefaultHWIDsDir(arch)
			fmt.Fprintf(e.stderr, "Automatically building .hwids section from %s\n", dir)
		}
	}
	if dir != "" {
		c, err := uki.HWIDsFromDir(dir)
		if err != nil {
			return fmt.Errorf("--hwids: %w", err)
		}
		cfg.HWIDs = c
	}
	for _, d := range b.EFIFW {
		c, err := uki.EFIFWFromDir(d)
		if err != nil {
			return fmt.Errorf("--efifw: %w", err)
		}
		cfg.EFIFW = append(cfg.EFIFW, c)
	}
	if b.Profile != "" {
		c, err := uki.ProfileTextOrFile(b.Profile)
		if err != nil {
			return fmt.Errorf("--profile: %w", err)
		}
		cfg.Profile = c
	}
	cfg.JoinProfiles = b.JoinProfile
	cfg.SignProfiles = b.SignProfile
	return nil
}
