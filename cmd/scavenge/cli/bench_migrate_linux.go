package cli

import "syscall"

// ownPIDNamespace starts a process as a migratable guest starts: its own
// session and PID namespace (criu restores exact PIDs).
func ownPIDNamespace() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setsid: true, Cloneflags: syscall.CLONE_NEWPID}
}
