//go:build unix && !linux

package executor

import (
	"errors"
	"os"
	"os/exec"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// nicePath is nice(1), found on every BSD, macOS and illumos.
const nicePath = "/usr/bin/nice"

// start starts l on Unix systems other than Linux, with what they offer:
// its own process group, the guest user's uid and gid (no supplementary
// groups) when the daemon is root, and nice 19, set by running the task
// through nice(1) so it applies before the task's first instruction.
//
// Missing compared with Linux: no mount namespace, so ExecSpec.Hide is kept
// from guests only by file permissions (and not at all when the daemon is
// not root); no SCHED_IDLE class (nice 19 still competes for the CPU a
// little); no no_new_privs. Under nice(1) the task's argv[0] is its
// resolved path.
func (e *Executor) start(l *launch) (*exec.Cmd, error) {
	e.degrade(errors.New("no mount namespaces on " + runtime.GOOS))
	e.warnExposed(l.hide)
	path, err := lookPath(l.argv[0], l.env, l.dir)
	if err != nil {
		return nil, err
	}
	_, statErr := os.Stat(nicePath)
	viaNice := statErr == nil
	cmd := l.command(path, l.argv)
	if viaNice {
		cmd = l.command(nicePath, append([]string{"nice", "-n", "19", path}, l.argv[1:]...))
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if e.guest != nil {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: e.guest.uid, Gid: e.guest.gid, Groups: []uint32{}}
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	if !viaNice {
		// Without nice(1) the priority can only be lowered after the
		// start: the task's first moments run at normal priority.
		if err := unix.Setpriority(unix.PRIO_PGRP, cmd.Process.Pid, 19); err != nil {
			e.log.Warn("could not lower guest priority", "pid", cmd.Process.Pid, "err", err)
		}
	}
	return cmd, nil
}

// priorityHow says how a guest shares the CPU with the owner, for Limit.
const priorityHow = "idle priority (nice 19)"

// degrade says once what guests lack here: there are never namespaces.
func (e *Executor) degrade(cause error) {
	e.noSandbox.Store(true)
	e.degradeOnce.Do(func() {
		if e.guest != nil {
			e.log.Warn("the hidden paths are kept from guests only by file permissions "+
				"(the home must be mode 0700 and owned by the daemon's user)", "cause", cause)
			return
		}
		e.log.Warn("the daemon is not root: hiding is not possible; guests run as the daemon's "+
			"own user and CAN read its home and keys; run the daemon as root", "cause", cause)
	})
}
