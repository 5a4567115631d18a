package executor

import (
	"errors"
	"os/exec"
	"syscall"

	"golang.org/x/sys/windows"
)

// start starts l on Windows in a new process group at the idle priority
// class, both set at creation so they apply before the task runs.
//
// Missing compared with Linux: the guest runs as the daemon's user (no
// switch to an unprivileged account), ExecSpec.Hide is not enforced (only
// the home directory's ACL protects it), Stop cannot ask for a graceful exit
// and kills only the guest process itself, not what it started (that needs a
// Job object).
func (e *Executor) start(l *launch) (*exec.Cmd, error) {
	e.degrade(errors.New("no sandbox on windows"))
	path, err := lookPath(l.argv[0], l.env, l.dir)
	if err != nil {
		return nil, err
	}
	cmd := l.command(path, l.argv)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		CreationFlags: windows.CREATE_NEW_PROCESS_GROUP | windows.IDLE_PRIORITY_CLASS,
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return cmd, nil
}

// priorityHow says how a guest shares the CPU with the owner, for Limit.
const priorityHow = "idle priority class"

// degrade says once what guests lack on Windows.
func (e *Executor) degrade(cause error) {
	e.noSandbox.Store(true)
	e.degradeOnce.Do(func() {
		e.log.Warn("guests run as the daemon's own user and CAN read its home and keys: "+
			"hiding is not possible on Windows yet", "cause", cause)
	})
}
