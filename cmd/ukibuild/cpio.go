package main

import (
	"fmt"
	"os"

	"github.com/ukibuild/ukibuild/cpio"
	"github.com/ukibuild/ukibuild/internal/atomicfile"
)

// cpioCmd writes a reproducible cpio archive of a directory tree, as mkosi
// makes its initrds (package cpio).
type cpioCmd struct {
	Dir             string  `arg:"" name:"dir" help:"Directory tree to archive (its contents; the directory itself is not an entry)." type:"path"`
	Output          string  `short:"o" required:"" help:"Archive to write (replaced atomically)." placeholder:"FILE" type:"path"`
	Compress        string  `enum:"none,zstd,xz" default:"none" help:"Compression: none, zstd (as zstd -3) or xz (as xz --check=crc32 -3). Only the uncompressed archive is byte-identical to mkosi's with GNU cpio; compressed bytes depend on the compressor's version."`
	Owner           string  `help:"Owner of every entry, UID:GID (cpio --owner), or 'keep' for the files' own. Default: 0:0 when not run as root, else keep (as mkosi does)." placeholder:"UID:GID"`
	SourceDateEpoch *string `name:"source-date-epoch" help:"Clamp modification times later than this (seconds since 1970) down to it, as mkosi does; default: $SOURCE_DATE_EPOCH; empty: no clamping." placeholder:"SECONDS"`
}

func (c *cpioCmd) Run(e *env) error {
	opts := cpio.Options{}
	var err error
	if opts.Compression, err = cpio.ParseCompression(c.Compress); err != nil {
		return err
	}
	switch c.Owner {
	case "keep":
	case "":
		if os.Geteuid() != 0 {
			opts.Owner = &cpio.Owner{}
		}
	default:
		if opts.Owner, err = cpio.ParseOwner(c.Owner); err != nil {
			return fmt.Errorf("--owner %q: expected UID:GID (two numbers) or keep", c.Owner)
		}
	}
	sde, what := e.getenv("SOURCE_DATE_EPOCH"), "$SOURCE_DATE_EPOCH"
	if c.SourceDateEpoch != nil {
		sde, what = *c.SourceDateEpoch, "--source-date-epoch"
	}
	if opts.SourceDateEpoch, err = cpio.ParseSourceDateEpoch(sde); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := cpio.CheckOutputOutside(c.Dir, c.Output); err != nil {
		return fmt.Errorf("--output %s is inside the tree %s, which would then contain it", c.Output, c.Dir)
	}
	var archiveErr error
	if err := atomicfile.Write(c.Output, 0o644, func(f *os.File) error {
		archiveErr = cpio.Write(f, c.Dir, opts)
		return archiveErr
	}); err != nil {
		if err == archiveErr {
			return err // it names the file in the tree
		}
		return fmt.Errorf("writing %s: %w", c.Output, err)
	}
	return nil
}
