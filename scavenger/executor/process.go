package executor

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/scavenge/scavenge/scavenger"
)

// process is a started guest: the leader of its own process group, and of
// its own cgroup where there is one.
type process struct {
	proc  *os.Process
	out   *output
	cg    guestCgroup // nil without cgroups
	drain time.Duration
	log   *slog.Logger

	// ctl orders Freeze and Thaw; stopped records that Freeze fell back to
	// SIGSTOP, so Thaw knows to send SIGCONT.
	ctl     sync.Mutex
	stopped bool

	// migratable says the guest was started (or restored) for criu: the
	// root of its own PID namespace and session. dumping is held by Dump
	// while criu works, and reap takes it before it reports how the guest
	// ended, so a guest that criu killed after its dump (checkpointed) is
	// told apart from one killed by anything else.
	migratable   bool
	dumping      sync.Mutex
	checkpointed bool
	// cpuSeen is the CPU the guest's whole tree had used when last
	// sampled (sampleCPU), in nanoseconds: what a kill would otherwise
	// lose from the leader's own accounting.
	cpuSeen atomic.Int64

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

// newProcess takes over a started guest proc (a child of this process),
// whose output goes through out and whose cgroup (or nil) is cg, and reaps
// it in the background. migratable says it was started (or restored) for
// criu.
func newProcess(proc *os.Process, out *output, cg guestCgroup, migratable bool, drain time.Duration, log *slog.Logger) *process {
	p := &process{
		proc:       proc,
		out:        out,
		cg:         cg,
		migratable: migratable,
		drain:      drain,
		log:        log.With("pid", proc.Pid),
		exited:     make(chan struct{}),
		done:       make(chan struct{}),
	}
	go p.reap()
	return p
}

// reap waits for the leader, kills what is left of its group and its
// cgroup (a finished task must not leave processes behind eating the donor's
// CPU or holding its output open), then drains the output, for at most the
// drain timeout once the group is gone: only a process that left the group
// and has no cgroup to die with can still hold it. Last, it removes the
// cgroup, which holds kernel memory.
func (p *process) reap() {
	// Where the OS reports an exit without reaping (Linux), the group is
	// killed while the leader is a zombie, so its pid cannot have been
	// reused as a group ID yet. Elsewhere that happens just after the reap.
	if awaitExit(p.proc.Pid) == nil {
		p.leaderExited()
	}
	// os/exec has nothing to wait for besides the process: the pipes are
	// ours, and a restored guest was never an exec.Cmd.
	ps, waitErr := p.proc.Wait()
	p.leaderExited()
	if p.cg != nil {
		if err := p.cg.killAll(); err != nil {
			p.log.Warn("kill leftovers of guest cgroup", "err", err)
		}
	}
	complete, outErr := p.out.drain(p.drain)
	if !complete {
		p.log.Warn("a process that left the guest's group still held its output: stopped reading it",
			"after", p.drain)
	}
	p.status, p.err = p.exitStatus(ps, waitErr, outErr)
	p.status.CPU = max(p.status.CPU, time.Duration(p.cpuSeen.Load()))
	p.killedByInit(&p.status)
	p.killedByOOM(&p.status)
	p.killedByDump(&p.status)
	if p.cg != nil {
		if err := p.cg.remove(); err != nil {
			p.log.Warn("remove guest cgroup", "err", err)
		}
	}
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
	if err := signalGroup(p.proc, os.Kill); err != nil && !errors.Is(err, os.ErrProcessDone) {
		p.log.Debug("kill leftovers of guest group", "err", err)
	}
	p.leaderGone = true
	close(p.exited)
}

// exitStatus turns what the leader's wait reported into an ExitStatus. A
// non-zero exit or a signal is the task's result, not an error; an error is
// a failure to wait or to deliver the output.
func (p *process) exitStatus(ps *os.ProcessState, waitErr, outErr error) (scavenger.ExitStatus, error) {
	if ps == nil || waitErr != nil {
		return scavenger.ExitStatus{Code: -1}, fmt.Errorf("wait for guest %d: %w", p.proc.Pid, waitErr)
	}
	st := scavenger.ExitStatus{
		Code:   ps.ExitCode(),
		Signal: killedBy(ps),
		CPU:    ps.UserTime() + ps.SystemTime(),
	}
	if outErr != nil {
		return st, fmt.Errorf("guest %d output: %w", p.proc.Pid, outErr)
	}
	return st, nil
}

// SignalCheckpointed is ExitStatus.Signal of a guest that criu killed once
// its image was complete (Dump without leaveRunning): it did not fail, it
// goes on wherever the image is restored. Code is -1, as for any signal,
// and CPU is what it used here.
const SignalCheckpointed = "checkpointed"

// killedByDump rewrites how a guest ended that a Dump killed. It waits for
// a Dump under way to finish, since criu kills the guest before it returns.
func (p *process) killedByDump(st *scavenger.ExitStatus) {
	p.dumping.Lock()
	defer p.dumping.Unlock()
	if p.checkpointed {
		st.Code, st.Signal = -1, SignalCheckpointed
	}
}

// Pid is the guest's process ID, which is also its process group ID.
func (p *process) Pid() int { return p.proc.Pid }

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
	if err := signalGroup(p.proc, sig); err != nil {
		return fmt.Errorf("signal guest group %d: %w", p.proc.Pid, err)
	}
	return nil
}

// Stop asks the guest's group to terminate (SIGTERM), thawing a frozen
// guest so it can, and kills it if the guest is still running after grace:
// SIGKILL to the group, and every process in its cgroup, even one that left
// the group. A grace of zero or less kills at once. Stop returns once the
// guest has exited or been killed; Wait reports how it ended. Calling it
// again, or after the guest exited, is harmless.
func (p *process) Stop(grace time.Duration) error {
	if grace > 0 {
		stopped, err := p.terminate(grace)
		if stopped || err != nil {
			return err
		}
	}
	var errs []error
	p.sampleCPU()
	if err := p.Signal(os.Kill); err != nil && !errors.Is(err, os.ErrProcessDone) {
		errs = append(errs, err)
	}
	if p.cg != nil {
		// killAll reaches frozen processes too, and the escaped ones.
		if err := p.cg.killAll(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			errs = append(errs, err)
		}
	}
	// A process stopped by SIGSTOP dies of SIGKILL as it is; one frozen
	// by the cgroup v1 freezer only once thawed.
	p.ctl.Lock()
	if err := p.thawLocked(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		errs = append(errs, err)
	}
	p.ctl.Unlock()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("stop guest: %w", err)
	}
	return nil
}

// terminate sends SIGTERM to the group, thaws the guest so it can act on
// it, and waits up to grace for the leader to exit. It reports whether the
// guest is gone, so there is nothing left to kill.
func (p *process) terminate(grace time.Duration) (gone bool, err error) {
	err = p.Signal(syscall.SIGTERM)
	switch {
	case errors.Is(err, os.ErrProcessDone):
		if p.cg != nil {
			return false, nil // escaped processes may still be in the cgroup
		}
		return true, nil
	case errors.Is(err, errNoGracefulStop):
		return false, nil // nothing to wait for: go straight to the kill
	case err != nil:
		return false, fmt.Errorf("stop guest: %w", err)
	}
	if err := p.Thaw(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		p.log.Warn("thaw guest to let it terminate", "err", err)
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.exited:
		return p.cg == nil, nil
	case <-t.C:
		return false, nil
	}
}
