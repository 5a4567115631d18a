//go:build !unix

package scavenger

import (
	"fmt"
	"os"
)

// checkWorkDir checks the work directory is a real directory; ownership is
// left to the ACLs the OS gives a new folder in the user's temp dir.
func checkWorkDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("work dir: %w", err)
	}
	if fi.Mode()&os.ModeSymlink != 0 || !fi.IsDir() {
		return fmt.Errorf("work dir %s is not a directory (a symlink?): remove it or set donor.work_dir", dir)
	}
	return nil
}
