//go:build !unix

package localapi

import "io/fs"

// fileOwner: files have no uid here.
func fileOwner(fs.FileInfo) (int, bool) { return -1, false }
