//go:build !unix

package cli

import "os"

// fileDevIno: there is no journal here.
func fileDevIno(*os.File) (dev, ino uint64, ok bool) { return 0, 0, false }
