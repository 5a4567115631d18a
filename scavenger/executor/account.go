package executor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
)

// account is the unprivileged user a root daemon runs guests as. Guests get
// its uid and primary gid and no supplementary groups, so they inherit none
// of root's group memberships either.
type account struct {
	name     string
	uid, gid uint32
}

// lookupAccount resolves name (a user name or numeric uid) to an account,
// refusing root: a guest must never run with uid 0.
func lookupAccount(name string) (*account, error) {
	u, err := user.Lookup(name)
	if err != nil {
		var unknown user.UnknownUserError
		if !errors.As(err, &unknown) {
			return nil, fmt.Errorf("look up %q: %w", name, err)
		}
		if u, err = user.LookupId(name); err != nil {
			return nil, fmt.Errorf("look up %q: no such user", name)
		}
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %q: uid %q is not numeric", name, u.Uid)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %q: gid %q is not numeric", name, u.Gid)
	}
	if uid == 0 {
		return nil, fmt.Errorf("user %q is root (uid 0): guests must never run as root", name)
	}
	return &account{name: u.Username, uid: uint32(uid), gid: uint32(gid)}, nil
}

// chownTree gives dir and everything in it to acct. Symlinks are changed
// themselves, never followed, so a link planted in the inputs cannot make
// the daemon chown a file outside the task.
func chownTree(dir string, acct *account) error {
	err := filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, int(acct.uid), int(acct.gid))
	})
	if err != nil {
		return fmt.Errorf("give task directory to %s: %w", acct.name, err)
	}
	return nil
}
