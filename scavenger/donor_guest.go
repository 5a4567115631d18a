package scavenger

import (
	"errors"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/scavenge/scavenge/peer/wire"
)

// guest is a task's process on this machine and why it is being stopped.
type guest struct {
	d      *donor
	stream wire.Stream
	conn   *wire.Conn       // the task stream, to tell the home what was done
	ready  <-chan struct{}  // closed once Started is sent: GuestState comes after
	limits Limits           // caps from the start; share mode lowers them
	ck     *guestCheckpoint // nil when the task's job asked for no checkpoints

	mu        sync.Mutex
	info      Guest
	proc      Process     // nil until started
	mode      GuestAction // what is applied now: GuestRun, GuestShare or GuestSuspend
	want      GuestAction // what the owner's policy asks for
	share     Limits      // the caps of share mode asked for
	applied   Limits      // the caps of share mode in place
	cause     string      // why want was asked for
	treating  bool        // a goroutine is bringing mode to want
	reason    string      // the first reason it was stopped for
	preempted bool        // stopped for the owner: the home re-runs it
	gone      bool        // the home vanished: nothing to report
}

// snapshot returns the guest as status shows it; false until it started.
func (g *guest) snapshot() (Guest, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.info, g.proc != nil
}

// started records the process; a stop or treatment requested while it was
// starting applies now.
func (g *guest) started(p Process, at time.Time) {
	g.mu.Lock()
	g.proc, g.info.Pid, g.info.Started = p, p.Pid(), at
	stop := g.reason != ""
	treat := g.startTreatingLocked()
	g.mu.Unlock()
	if stop {
		g.stopProcess(p)
	}
	if treat {
		go g.converge()
	}
}

// treat asks for the guest to be run normally, shared or suspended for
// cause. The change happens in the background (freezing waits for the
// kernel), one step at a time, so a quick succession of presence changes
// ends in the last one asked for.
func (g *guest) treat(a GuestAction, share Limits, cause string) {
	g.mu.Lock()
	if g.want == a && g.share == share {
		g.mu.Unlock()
		return
	}
	g.want, g.share, g.cause = a, share, cause
	start := g.startTreatingLocked()
	g.mu.Unlock()
	if start {
		go g.converge()
	}
}

// startTreatingLocked reports whether a converge goroutine must start.
func (g *guest) startTreatingLocked() bool {
	if g.treating || g.proc == nil || g.reason != "" || g.want == g.mode {
		return false
	}
	g.treating = true
	return true
}

// converge brings the guest's mode to what is wanted, and tells its home.
func (g *guest) converge() {
	for {
		g.mu.Lock()
		if g.reason != "" || (g.want == g.mode && (g.mode != GuestShare || g.share == g.applied)) {
			g.treating = false
			g.mu.Unlock()
			return
		}
		from, to, share, cause, p := g.mode, g.want, g.share, g.cause, g.proc
		g.mu.Unlock()

		action, state := g.transition(p, from, to, share, cause)
		if g.stopping() {
			continue // it could not be treated and is being stopped: its Exit says so
		}
		g.mu.Lock()
		g.mode, g.applied = to, share
		g.info.Action = action
		g.mu.Unlock()
		g.d.e.stats().reacted()
		g.d.log.Info("guest "+state, "job", g.info.JobID, "task", g.info.TaskID, "pid", p.Pid(), "action", action)
		g.tell(state, action)
	}
}

// transition moves p from one mode to another and says what was done, for
// status, and the guest state the home is told.
func (g *guest) transition(p Process, from, to GuestAction, share Limits, cause string) (action, state string) {
	var steps []string
	fail := func(what string, err error) {
		steps = append(steps, what+" failed: "+err.Error())
	}
	if to == GuestShare {
		// Capped before it is thawed, so it never runs a moment uncapped.
		if how, err := p.Limit(share); err != nil {
			fail("cap", err)
		} else {
			steps = append(steps, "shared ("+how+")")
		}
	} else if from == GuestShare {
		if _, err := p.Limit(g.limits); err != nil {
			fail("lifting the cap", err)
		}
	}
	if from == GuestSuspend {
		if err := p.Thaw(); err != nil {
			fail("thaw", err)
		}
	}
	switch to {
	case GuestSuspend:
		if how, err := p.Freeze(); err != nil {
			// A guest that cannot be frozen must not run on beside the
			// owner: it is stopped instead, and its home runs it elsewhere.
			reason := cause + " (could not suspend it: " + err.Error() + ")"
			g.setAction("killed: " + reason)
			g.stop(reason, true)
			return "", ""
		} else {
			steps = append(steps, "suspended ("+how+")")
		}
		state = wire.GuestSuspended
	case GuestShare:
		state = wire.GuestShared
	default:
		steps = append(steps, "resumed")
		state = wire.GuestRunning
	}
	return strings.Join(steps, ", ") + ": " + cause, state
}

// tell sends the home the guest's new state, after Started. A failed send
// changes nothing: the lease decides whether the home is still there.
func (g *guest) tell(state, action string) {
	if g.conn == nil {
		return
	}
	<-g.ready
	if err := g.conn.Send(&wire.GuestState{State: state, Reason: wire.CleanText(action, wire.MaxReasonLen)}); err != nil {
		g.d.log.Debug("guest state not delivered", "err", err)
	}
}

// setAction records what was done to the guest, for status.
func (g *guest) setAction(a string) {
	g.mu.Lock()
	if g.info.Action == "" {
		g.info.Action = a
	}
	g.mu.Unlock()
}

// stop asks the process to end for reason. The first reason wins: a guest
// cancelled by its home and then caught by the owner's return was cancelled.
func (g *guest) stop(reason string, preempted bool) {
	g.mu.Lock()
	if g.reason != "" {
		g.mu.Unlock()
		return
	}
	g.reason, g.preempted = reason, preempted
	p := g.proc
	g.mu.Unlock()
	if p != nil {
		g.stopProcess(p)
	}
}

// stopping reports whether the guest has been asked to stop.
func (g *guest) stopping() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.reason != ""
}

// homeGone stops the guest of a home that stopped renewing and resets its
// stream, which also unblocks output the home no longer reads.
func (g *guest) homeGone(reason string) {
	g.mu.Lock()
	g.gone = true
	g.mu.Unlock()
	g.stop(reason, false)
	g.stream.Reset()
}

// stopProcess runs Stop in the background: it may take the grace period,
// and callers hold the owner's attention, not the guest's.
func (g *guest) stopProcess(p Process) {
	go func() {
		if err := p.Stop(g.d.grace); err != nil && !errors.Is(err, os.ErrProcessDone) {
			g.d.log.Warn("stopping guest", "pid", p.Pid(), "err", err)
		}
	}()
}

// outcome is why the guest ended, if it was stopped.
func (g *guest) outcome() (reason string, preempted, gone bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.reason, g.preempted, g.gone
}
