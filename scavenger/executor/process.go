package executor

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/scavenge/scavenge/scavenger"
)

// process is a started guest: the leader of its own process group.
type process struct {
	cmd   *exec.Cmd
	out   *output
	drain time.Duration
	log   *slog.Logger

	// mu orders signals against the leader's exit: once leaderGone is set
	// the group ID may be recycled, so nothing is sent to it any more.
	mu         sync.Mutex
	leaderGone bool
	exited     chan struct{} // closed when the leader has exited

	done   chan struct{} // closed when status and err are final
	status scavenger.ExitStatus
	err    error
}

var _ scavenger.Process = (*process)(nil)

// newProcess takes over a started cmd, whose output goes through out, and
// reaps it in the background.
func newProcess(cmd *exec.Cmd, out *output, drain time.Duration, log *slog.Logger) *process {
	p := &process{
		cmd:    cmd,
		out:    out,
		drain:  drain,
		log:    log.With("pid", cmd.Process.Pid),
		exited: make(chan struct{}),
		done:   make(chan struct{}),
	}
	go p.reap()
	return p
}

// reap waits for the leader, kills what is left of its group (a finished
// task must not leave processes behind eating the donor's CPU or holding its
// output open), then drains the output, for at most the drain timeout once
// the group is gone: only a process that left the group can still hold it.
func (p *process) reap() {
	// Where the OS reports an exit without reaping (Linux), the group is
	// killed while the leader is a zombie, so its pid cannot have been
	// reused as a group ID yet. Elsewhere that happens just after the reap.
	if awaitExit(p.cmd.Process.Pid) == nil {
		p.leaderExited()
	}
	waitErr := p.cmd.Wait() // returns at once: the pipes are ours, not os/exec's
	p.leaderExited()
	complete, outErr := p.out.drain(p.drain)
	if !complete {
		p.log.Warn("a process that left the guest's group still held its output: stopped reading it",
			"after", p.drain)
	}
	p.status, p.err = p.exitStatus(waitErr, outErr)
	close(p.done)
}

// leaderExited records that the leader is gone, first killing what is left
// of its group.
func (p *process) leaderExited() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.leaderGone {
		return
	}
	if err := signalGroup(p.cmd.Process, os.Kill); err != nil && !errors.Is(err, os.ErrProcessDone) {
		p.log.Debug("kill leftovers of guest group", "err", err)
	}
	p.leaderGone = true
	close(p.exited)
}

// exitStatus turns what cmd.Wait reported into an ExitStatus. A non-zero
// exit or a signal is the task's result, not an error; an error is a
// failure to wait or to deliver the output.
func (p *process) exitStatus(waitErr, outErr error) (scavenger.ExitStatus, error) {
	ps := p.cmd.ProcessState
	if ps == nil {
		return scavenger.ExitStatus{Code: -1}, fmt.Errorf("wait for guest %d: %w", p.cmd.Process.Pid, waitErr)
	}
	st := scavenger.ExitStatus{
		Code:   ps.ExitCode(),
		Signal: killedBy(ps),
		CPU:    ps.UserTime() + ps.SystemTime(),
	}
	var exitErr *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &exitErr) {
		return st, fmt.Errorf("wait for guest %d: %w", p.cmd.Process.Pid, waitErr)
	}
	if outErr != nil {
		return st, fmt.Errorf("guest %d output: %w", p.cmd.Process.Pid, outErr)
	}
	return st, nil
}

// Pid is the guest's process ID, which is also its process group ID.
func (p *process) Pid() int { return p.cmd.Process.Pid }

// Wait blocks until the guest has exited and its output is flushed to the
// writers. It may be called any number of times.
func (p *process) Wait() (scavenger.ExitStatus, error) {
	<-p.done
	return p.status, p.err
}

// Signal sends sig to the guest's whole process group. After the guest has
// exited it returns os.ErrProcessDone.
func (p *process) Signal(sig os.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.leaderGone {
		return os.ErrProcessDone
	}
	if err := signalGroup(p.cmd.Process, sig); err != nil {
		return fmt.Errorf("signal guest group %d: %w", p.cmd.Process.Pid, err)
	}
	return nil
}

// Stop asks the guest's group to terminate (SIGTERM), and kills it
// (SIGKILL) if the guest is still running after grace. It returns once the
// guest has exited or been sent SIGKILL; Wait reports how it ended. Calling
// it again, or after the guest exited, is harmless.
func (p *process) Stop(grace time.Duration) error {
	err := p.Signal(syscall.SIGTERM)
	switch {
	case errors.Is(err, os.ErrProcessDone):
		return nil
	case errors.Is(err, errNoGracefulStop):
		// Nothing to wait for: go straight to the kill.
	case err != nil:
		return fmt.Errorf("stop guest: %w", err)
	default:
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-p.exited:
			return nil
		case <-t.C:
		}
	}
	if err := p.Signal(os.Kill); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop guest: %w", err)
	}
	return nil
}
