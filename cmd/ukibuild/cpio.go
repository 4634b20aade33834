package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

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
		if opts.Owner, err = parseOwner(c.Owner); err != nil {
			return err
		}
	}
	sde, what := e.getenv("SOURCE_DATE_EPOCH"), "$SOURCE_DATE_EPOCH"
	if c.SourceDateEpoch != nil {
		sde, what = *c.SourceDateEpoch, "--source-date-epoch"
	}
	if opts.SourceDateEpoch, err = cpio.ParseSourceDateEpoch(sde); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := checkOutsideTree(c.Dir, c.Output); err != nil {
		return err
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

// parseOwner parses --owner's UID:GID (numbers: the archive holds numbers,
// and a name would be looked up on this machine, not in the tree).
func parseOwner(s string) (*cpio.Owner, error) {
	u, g, ok := strings.Cut(s, ":")
	uid, uerr := strconv.ParseUint(u, 10, 32)
	gid, gerr := strconv.ParseUint(g, 10, 32)
	if !ok || uerr != nil || gerr != nil {
		return nil, fmt.Errorf("--owner %q: expected UID:GID (two numbers) or keep", s)
	}
	return &cpio.Owner{UID: uint32(uid), GID: uint32(gid)}, nil
}

// checkOutsideTree refuses an output file inside the tree being archived:
// the archive would contain its own temporary file.
func checkOutsideTree(dir, output string) error {
	tree, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil // cpio.Write reports a missing tree
	}
	outDir, err := filepath.EvalSymlinks(filepath.Dir(output))
	if err != nil {
		return nil // atomicfile.Write reports a missing directory
	}
	if tree, err = filepath.Abs(tree); err != nil {
		return nil
	}
	if outDir, err = filepath.Abs(outDir); err != nil {
		return nil
	}
	if outDir == tree || strings.HasPrefix(outDir, tree+string(filepath.Separator)) || tree == string(filepath.Separator) {
		return fmt.Errorf("--output %s is inside the tree %s, which would then contain it", output, dir)
	}
	return nil
}
