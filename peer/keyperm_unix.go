//go:build unix

package peer

import (
	"fmt"
	"os"
)

// checkPrivate refuses a key file that other users can read, as ssh does:
// whoever reads the identity can impersonate this peer, and whoever reads
// the swarm key can join the swarm.
func checkPrivate(f *os.File, what string) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, f.Name(), err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%s %s can be read by other users (mode %04o): run `chmod 600 %s`", what, f.Name(), perm, f.Name())
	}
	return nil
}
