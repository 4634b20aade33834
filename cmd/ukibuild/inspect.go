package main

import (
	"fmt"

	"github.com/ukibuild/ukibuild/uki"
)

type inspectCmd struct {
	Files   []string `arg:"" name:"file" help:"PE images to inspect." type:"existingfile"`
	JSON    string   `name:"json" enum:"pretty,short,off" default:"off" help:"JSON output: pretty, short or off."`
	J       bool     `short:"j" name:"pretty-json" help:"Same as --json=pretty."`
	All     bool     `help:"Show all sections."`
	Section []string `help:"Show this section (NAME[:text|binary][@OUTPUT]); repeatable." sep:"none" placeholder:"SPEC"`
}

func (c *inspectCmd) Run(e *env) error {
	mode := c.JSON
	if c.J {
		mode = "pretty"
	}
	if len(c.Files) > 1 && mode != "off" {
		return fmt.Errorf("JSON output is not allowed with multiple files")
	}
	opts := uki.InspectOptions{JSON: mode, All: c.All, Warnf: e.warnf}
	for _, s := range c.Section {
		spec, err := uki.ParseInspectSection(s)
		if err != nil {
			return fmt.Errorf("--section: %w", err)
		}
		opts.Sections = append(opts.Sections, spec)
	}
	for _, f := range c.Files {
		if err := uki.Inspect(e.stdout, f, opts); err != nil {
			return err
		}
	}
	return nil
}
