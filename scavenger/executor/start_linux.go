package executor

import (
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// start starts l on Linux: sandboxed while namespaces work, and without them
// (after one warning) once the OS has refused them.
func (e *Executor) start(l *launch) (*exec.Cmd, error) {
	if l.migratable {
		// No mount namespace for criu's sake: see migrate_linux.go.
		e.warnExposed(l.hide)
		return e.startOnOwnThread(l, false)
	}
	if !e.noSandbox.Load() {
		cmd, err := e.startOnOwnThread(l, true)
		var unavailable *unavailableError
		if !errors.As(err, &unavailable) {
			return cmd, err
		}
		e.degrade(err)
	}
	e.warnExposed(l.hide)
	return e.startOnOwnThread(l, false)
}

// startOnOwnThread starts l from a thread of its own. Where that thread
// joined the guest's cgroup (v1) it returns only once the thread is gone,
// so no thread of the daemon is ever in a guest's cgroup when the guest is
// frozen or killed.
func (e *Executor) startOnOwnThread(l *launch, sandbox bool) (*exec.Cmd, error) {
	cmd, tid, err := onOwnThread(func() (*exec.Cmd, error) { return e.startOnThread(l, sandbox) })
	if c, ok := l.cg.(*cgroup); ok && c.m.version == 1 && !awaitThreadGone(tid) {
		e.log.Error("a thread that started a guest is still in the guest's cgroup", "tid", tid, "cgroup", c.name)
	}
	return cmd, err
}

// onOwnThread runs f locked to an OS thread that the runtime discards when f
// returns, so whatever f does to its thread (its own mount namespace,
// lowered priority, no_new_privs, a guest's cgroup) is inherited by what it
// forks and never leaks into the rest of the daemon. While the thread is
// locked the runtime creates any new threads from a clean template thread,
// not from this one. It also returns the thread's ID.
func onOwnThread[T any](f func() (T, error)) (T, int, error) {
	type result struct {
		v   T
		tid int
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
			v, tid, err := onOwnThread(f)
			runtime.UnlockOSThread()
			ch <- result{v, tid, err}
			return
		}
		// No UnlockOSThread: a goroutine that exits locked takes its
		// thread with it.
		v, err := f()
		ch <- result{v, unix.Gettid(), err}
	}()
	r := <-ch
	return r.v, r.tid, r.err
}

// awaitThreadGone waits until thread tid of this process has exited, which
// a discarded thread does right after its goroutine, for at most a second;
// it reports whether it has.
func awaitThreadGone(tid int) bool {
	deadline := time.Now().Add(time.Second)
	for delay := 10 * time.Microsecond; time.Now().Before(deadline); delay = min(2*delay, 100*time.Microsecond) {
		if err := unix.Tgkill(unix.Getpid(), tid, 0); errors.Is(err, unix.ESRCH) {
			return true
		}
		time.Sleep(delay)
	}
	return false
}

// startOnThread prepares the current (locked, disposable) thread and starts
// the guest from it.
func (e *Executor) startOnThread(l *launch, sandbox bool) (*exec.Cmd, error) {
	if err := lowerThread(); err != nil {
		return nil, err
	}
	cgroupFD := -1
	if c, ok := l.cg.(*cgroup); ok {
		if c.m.version == 1 {
			// The guest inherits the cgroups of the thread that forks it.
			if err := c.joinThread(); err != nil {
				return nil, fmt.Errorf("join guest cgroup: %w", err)
			}
		} else {
			fd, err := c.openDir()
			if err != nil {
				return nil, err
			}
			defer unix.Close(fd)
			cgroupFD = fd
		}
	}
	if e.guest == nil {
		return e.startAsSelf(l, sandbox, cgroupFD)
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
	if l.migratable {
		return startMigratable(l, path, cgroupFD, e.guest)
	}
	cmd := l.command(path, l.argv)
	cmd.SysProcAttr = guestAttr(cgroupFD)
	// An empty Groups clears root's supplementary groups.
	cmd.SysProcAttr.Credential = &syscall.Credential{Uid: e.guest.uid, Gid: e.guest.gid, Groups: []uint32{}}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return cmd, nil
}

// startAsSelf starts a guest as the daemon's own user: through the guest
// init in new user and mount namespaces when there is something to hide,
// else directly (saving the init's few milliseconds).
func (e *Executor) startAsSelf(l *launch, sandbox bool, cgroupFD int) (*exec.Cmd, error) {
	path, err := lookPath(l.argv[0], l.env, l.dir)
	if err != nil {
		return nil, err
	}
	if sandbox && len(l.hide) > 0 {
		return startInit(l, path, cgroupFD)
	}
	cmd := l.command(path, l.argv)
	cmd.SysProcAttr = guestAttr(cgroupFD)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return cmd, nil
}

// guestAttr is what every guest process is created with: a process group
// of its own and, given a cgroup v2 directory (cgroupFD >= 0), that cgroup
// from the start.
func guestAttr(cgroupFD int) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, UseCgroupFD: cgroupFD >= 0, CgroupFD: cgroupFD}
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
