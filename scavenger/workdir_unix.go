//go:build unix

package scavenger

import (
	"fmt"
	"os"
	"syscall"
)

// checkWorkDir makes sure the work directory is ours alone before guests'
// files go into it: the default one lives in the shared temp dir, where
// another user could have created it first, or put a symlink there, to
// read or replace other people's inputs.
func checkWorkDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("work dir: %w", err)
	}
	if fi.Mode()&os.ModeSymlink != 0 || !fi.IsDir() {
		return fmt.Errorf("work dir %s is not a directory (a symlink?): remove it or set donor.work_dir", dir)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("work dir %s belongs to uid %d, not to this daemon (uid %d): remove it or set donor.work_dir", dir, st.Uid, os.Geteuid())
	}
	if fi.Mode().Perm() != workDirMode {
		if err := os.Chmod(dir, workDirMode); err != nil {
			return fmt.Errorf("work dir: %w", err)
		}
	}
	return nil
}
