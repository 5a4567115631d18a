//go:build !linux

package cli

import "syscall"

// ownPIDNamespace: criu is Linux-only, so is the raw comparison; criu's
// dump fails with its own reason.
func ownPIDNamespace() *syscall.SysProcAttr { return nil }
