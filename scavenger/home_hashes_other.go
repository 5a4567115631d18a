//go:build !linux && !darwin

package scavenger

import "os"

// fileSysIdentity has nothing to add here: size and modification time alone
// identify a file's content.
func fileSysIdentity(os.FileInfo) (ctime int64, dev, ino uint64) { return 0, 0, 0 }
