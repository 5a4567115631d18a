//go:build !linux

package executor

import "errors"

// awaitExit cannot wait without reaping portably (no waitid WNOWAIT in
// golang.org/x/sys/unix outside Linux), so the leftovers of a guest's group
// are killed just after the leader is reaped instead.
func awaitExit(int) error { return errors.ErrUnsupported }
