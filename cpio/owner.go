package cpio

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// ParseOwner parses an owner as cpio's --owner=UID:GID gives it, numbers
// only: the archive holds numbers, and a name would be looked up on this
// machine, not in the tree.
func ParseOwner(s string) (*Owner, error) {
	u, g, ok := strings.Cut(s, ":")
	uid, uerr := strconv.ParseUint(u, 10, 32)
	gid, gerr := strconv.ParseUint(g, 10, 32)
	if !ok || uerr != nil || gerr != nil {
		return nil, fmt.Errorf("cpio: owner %q: expected UID:GID (two numbers)", s)
	}
	return &Owner{UID: uint32(uid), GID: uint32(gid)}, nil
}

// ErrOutputInTree is wrapped by CheckOutputOutside's error.
var ErrOutputInTree = errors.New("the output is inside the tree")

// CheckOutputOutside refuses to write the archive of the tree dir to
// output when output's directory is dir or below it (symbolic links
// resolved): the archive would then contain its own temporary file. A
// path that cannot be resolved is left to Write (a missing tree) or to
// the caller's file creation (a missing directory) to report.
func CheckOutputOutside(dir, output string) error {
	tree, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil
	}
	outDir, err := filepath.EvalSymlinks(filepath.Dir(output))
	if err != nil {
		return nil
	}
	if tree, err = filepath.Abs(tree); err != nil {
		return nil
	}
	if outDir, err = filepath.Abs(outDir); err != nil {
		return nil
	}
	if outDir == tree || strings.HasPrefix(outDir, tree+string(filepath.Separator)) || tree == string(filepath.Separator) {
		return fmt.Errorf("%w: %s is inside the tree %s, which would then contain it", ErrOutputInTree, output, dir)
	}
	return nil
}
