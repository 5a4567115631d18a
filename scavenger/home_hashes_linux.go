package scavenger

import (
	"os"
	"syscall"
)

// fileSysIdentity is a file's change time, device and inode: a rewrite that
// restores the size and modification time still moves the change time, and
// a file renamed over the path has another inode.
func fileSysIdentity(fi os.FileInfo) (ctime int64, dev, ino uint64) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, 0
	}
	return st.Ctim.Nano(), st.Dev, st.Ino
}
