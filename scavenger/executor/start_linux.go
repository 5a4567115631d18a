package executor

import (
	"errors"
	"os/exec"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// start starts l on Linux: sandboxed while namespaces work, and without them
// (after one warning) once the OS has refused them.
func (e *Executor) start(l *launch) (*exec.Cmd, error) {
	if !e.noSandbox.Load() {
		cmd, err := onOwnThread(func() (*exec.Cmd, error) { return e.startOnThread(l, true) })
		var unavailable *unavailableError
		if !errors.As(err, &unavailable) {
			return cmd, err
		}
		e.degrade(err)
	}
	e.warnExposed(l.hide)
	return onOwnThread(func() (*exec.Cmd, error) { return e.startOnThread(l, false) })
}

// onOwnThread runs f locked to an OS thread that the runtime discards when f
// returns, so whatever f does to its thread (its own mount namespace,
// lowered priority, no_new_privs) is inherited by what it forks and never
// leaks into the rest of the daemon. While the thread is locked the runtime
// creates any new threads from a clean template thread, not from this one.
func onOwnThread(f func() (*exec.Cmd, error)) (*exec.Cmd, error) {
	type result struct {
		cmd *exec.Cmd
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		if unix.Gettid() == unix.Getpid() {
			// The main thread is never discarded (the runtime parks it
			// for good instead), /proc/self shows its namespace, and the
			// kernel delivers the daemon's signals to it first: it must
			// not become an idle-priority thread in a guest's namespace.
			// Holding it, try again: the retry cannot land on it.
			cmd, err := onOwnThread(f)
			runtime.UnlockOSThread()
			ch <- result{cmd, err}
			return
		}
		// No UnlockOSThread: a goroutine that exits locked takes its
		// thread with it.
		cmd, err := f()
		ch <- result{cmd, err}
	}()
	r := <-ch
	return r.cmd, r.err
}

// startOnThread prepares the current (locked, disposable) thread and starts
// the guest from it.
func (e *Executor) startOnThread(l *launch, sandbox bool) (*exec.Cmd, error) {
	if err := lowerThread(); err != nil {
		return nil, err
	}
	if e.guest == nil {
		return e.startAsSelf(l, sandbox)
	}
	if sandbox && len(l.hide) > 0 {
		// Root may give this thread alone a mount namespace; the guest
		// forked from it inherits it, the daemon never sees it.
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			return nil, namespaceError("unshare mount namespace", err)
		}
		if err := maskPaths(l.hide, l.dir); err != nil {
			return nil, err
		}
	}
	// Resolved here, on the masked view, so a program inside a hidden path
	// is not found rather than found and then unreachable.
	path, err := lookPath(l.argv[0], l.env, l.dir)
	if err != nil {
		return nil, err
	}
	cmd := l.command(path, l.argv)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid: true,
		// An empty Groups clears root's supplementary groups.
		Credential: &syscall.Credential{Uid: e.guest.uid, Gid: e.guest.gid, Groups: []uint32{}},
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return cmd, nil
}

// startAsSelf starts a guest as the daemon's own user: through the guest
// init in new user and mount namespaces when there is something to hide,
// else directly (saving the init's few milliseconds).
func (e *Executor) startAsSelf(l *launch, sandbox bool) (*exec.Cmd, error) {
	path, err := lookPath(l.argv[0], l.env, l.dir)
	if err != nil {
		return nil, err
	}
	if sandbox && len(l.hide) > 0 {
		return startInit(l, path)
	}
	cmd := l.command(path, l.argv)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return cmd, nil
}

// namespaceError marks the errors with which Linux refuses a namespace
// (no privilege, not built in, limit reached) as the sandbox being
// unavailable.
func namespaceError(op string, err error) error {
	for _, errno := range []unix.Errno{unix.EPERM, unix.EINVAL, unix.ENOSPC, unix.EUSERS, unix.ENOSYS} {
		if errors.Is(err, errno) {
			return &unavailableError{op: op, err: err}
		}
	}
	return err
}

// degrade switches the executor to running guests without namespaces for
// the rest of its life, and says once what that costs.
func (e *Executor) degrade(cause error) {
	e.noSandbox.Store(true)
	e.degradeOnce.Do(func() {
		if e.guest != nil {
			e.log.Warn("namespaces unavailable: guests run without a private mount namespace; "+
				"the hidden paths are kept from them only by file permissions "+
				"(the home must be mode 0700 and owned by the daemon's user)",
				"cause", cause)
			return
		}
		e.log.Warn("namespaces unavailable and the daemon is not root: hiding is not possible; "+
			"guests run as the daemon's own user and CAN read its home and keys; "+
			"run the daemon as root or allow unprivileged user namespaces",
			"cause", cause)
	})
}
