package scavenger

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// procExecutor runs real processes with os/exec for engine tests: each in
// its own process group, in spec.Dir, with exactly spec.Env. It is the test
// stand-in for the sandboxing executor (scavenger/executor), which the
// engine reaches only through the Executor interface; it does not hide
// paths, drop privileges or lower priority.
type procExecutor struct {
	noFreeze bool // Freeze fails, as on Windows
}

func (e procExecutor) Start(ctx context.Context, spec ExecSpec) (Process, error) {
	cmd := exec.Command(spec.Argv[0], spec.Argv[1:]...)
	cmd.Dir, cmd.Env = spec.Dir, spec.Env
	if cmd.Env == nil {
		cmd.Env = []string{} // nil would inherit the test's environment
	}
	cmd.Stdout, cmd.Stderr = spec.Stdout, spec.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &testProc{cmd: cmd, done: make(chan struct{}), noFreeze: e.noFreeze}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

type testProc struct {
	cmd      *exec.Cmd
	done     chan struct{}
	err      error
	noFreeze bool
}

func (p *testProc) Pid() int { return p.cmd.Process.Pid }

func (p *testProc) Wait() (ExitStatus, error) {
	<-p.done
	ws := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	st := ExitStatus{Code: ws.ExitStatus(), CPU: p.cmd.ProcessState.UserTime() + p.cmd.ProcessState.SystemTime()}
	if ws.Signaled() {
		st.Code, st.Signal = -1, ws.Signal().String()
	}
	var ee *exec.ExitError
	if p.err != nil && !errors.As(p.err, &ee) {
		return st, p.err
	}
	return st, nil
}

func (p *testProc) Signal(sig os.Signal) error {
	return syscall.Kill(-p.cmd.Process.Pid, sig.(syscall.Signal))
}

func (p *testProc) Stop(grace time.Duration) error {
	select {
	case <-p.done:
		return os.ErrProcessDone
	default:
	}
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGCONT) // a frozen guest gets its SIGTERM now
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	}
	return nil
}

// Limit has no cgroup to set here: the test process keeps running as it was.
func (p *testProc) Limit(l Limits) (string, error) { return "test process: not capped", nil }

// Freeze and Thaw stop and continue the process group, as the executor does
// where there are no cgroups.
func (p *testProc) Freeze() (string, error) {
	if p.noFreeze {
		return "", errors.ErrUnsupported
	}
	return "SIGSTOP", syscall.Kill(-p.cmd.Process.Pid, syscall.SIGSTOP)
}

func (p *testProc) Thaw() error { return syscall.Kill(-p.cmd.Process.Pid, syscall.SIGCONT) }
