package executor

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"time"

	"github.com/scavenge/scavenge/scavenger"
)

// This file is what the owner's return does to a running guest: share mode
// (Limit), suspend (Freeze, Thaw), and the cgroup's part in Stop. With a
// cgroup the kernel does it to every process of the guest at once; without
// one, the executor can only signal the guest's process group, and its
// start-time priority is all the sharing it has.

// freezeTimeout bounds the wait for a cgroup freezer: a process in an
// uninterruptible sleep (a hung network filesystem) cannot be frozen until
// it wakes, and the owner must get the CPU back now, not then.
const freezeTimeout = time.Second

// errNoFreezer says a guest's cgroup cannot be frozen: its hierarchy has
// no freezer (cgroup v1 without the freezer mounted, Linux before 5.2).
var errNoFreezer = errors.New("no cgroup freezer")

// cgroupManager makes a guest's cgroup. Only Linux has one.
type cgroupManager interface {
	// create makes a cgroup with limits l in place, ready for a guest to
	// be started into it.
	create(l scavenger.Limits) (guestCgroup, error)
}

// guestCgroup is one guest's cgroup. Every method is safe for concurrent
// use; after remove, the others return os.ErrProcessDone.
type guestCgroup interface {
	// setLimits sets the caps to exactly l (a zero field: no cap) and
	// says how they are enforced.
	setLimits(l scavenger.Limits) (how string, err error)
	// freeze freezes every process of the guest, waiting at most timeout
	// until the kernel reports it done, and says how.
	freeze(timeout time.Duration) (how string, err error)
	thaw() error
	// killAll kills every process in the cgroup, frozen or not, even one
	// that left the guest's process group.
	killAll() error
	// memoryKilled reports whether the OOM killer killed a process of
	// the guest, and the memory cap then in force.
	memoryKilled() (limit uint64, killed bool)
	// remove kills what is left and deletes the cgroup.
	remove() error
}

// Limit sets the guest's caps to exactly l: a zero field removes that cap.
// It does not restore the start limits by itself: pass ExecSpec.Limits
// again for that. With a cgroup the CPU cap is a CFS quota and the memory
// cap a hard limit (the OOM killer ends a guest above it; on cgroup v1 a cap
// below what the guest already uses is refused and the old one kept). The
// CPU weight needs no change: a guest's cgroup always has the lowest, under
// a parent that is idle on the CPU. Without a cgroup, the guest keeps the
// idle priority it started with, which is all the sharing there is, and the
// how string says so.
func (p *process) Limit(l scavenger.Limits) (string, error) {
	if err := checkLimits(l); err != nil {
		return "", err
	}
	if p.cg == nil {
		if p.isGone() {
			return "", os.ErrProcessDone
		}
		return "no cgroup: " + priorityHow + " only, memory not capped", nil
	}
	how, err := p.cg.setLimits(l)
	if err != nil {
		return "", fmt.Errorf("limit guest %d: %w", p.Pid(), err)
	}
	return how, nil
}

// Freeze stops every process of the guest: through the cgroup freezer,
// waiting until the kernel reports the guest frozen; without a cgroup, or if
// the freezer does not finish within freezeTimeout, with SIGSTOP to the
// process group (which reaches only the processes still in it).
func (p *process) Freeze() (string, error) {
	p.ctl.Lock()
	defer p.ctl.Unlock()
	how := "no cgroup: SIGSTOP of the process group"
	if p.cg != nil {
		cgHow, err := p.cg.freeze(freezeTimeout)
		if err == nil {
			return cgHow, nil
		}
		switch {
		case errors.Is(err, os.ErrProcessDone):
			return "", err
		case errors.Is(err, errNoFreezer):
			how = "no cgroup freezer: SIGSTOP of the process group"
		default:
			p.log.Warn("cgroup freezer failed: stopping the guest's process group instead", "err", err)
			how = fmt.Sprintf("%s failed (%v): SIGSTOP of the process group", cgHow, err)
		}
	}
	if err := p.pause(true); err != nil {
		return "", fmt.Errorf("freeze guest %d: %w", p.Pid(), err)
	}
	p.stopped = true
	return how, nil
}

// Thaw continues a frozen guest. Thawing a guest that is not frozen is
// harmless.
func (p *process) Thaw() error {
	p.ctl.Lock()
	defer p.ctl.Unlock()
	return p.thawLocked()
}

// thawLocked undoes whatever Freeze did; p.ctl is held.
func (p *process) thawLocked() error {
	var errs []error
	if p.cg != nil {
		if err := p.cg.thaw(); err != nil {
			errs = append(errs, err)
		}
	}
	if p.stopped {
		if err := p.pause(false); err != nil {
			errs = append(errs, err)
		} else {
			p.stopped = false
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("thaw guest %d: %w", p.Pid(), err)
	}
	return nil
}

// pause stops (or continues) the guest's process group, unless the leader
// has exited, when the group ID may have been reused.
func (p *process) pause(stop bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.leaderGone {
		return os.ErrProcessDone
	}
	return pauseGroup(p.proc, stop)
}

// isGone reports whether the leader has exited.
func (p *process) isGone() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.leaderGone
}

// checkLimits refuses caps that mean nothing.
func checkLimits(l scavenger.Limits) error {
	if l.CPUs < 0 || math.IsNaN(l.CPUs) || math.IsInf(l.CPUs, 0) {
		return fmt.Errorf("limits: CPUs %v is not a number of cores >= 0", l.CPUs)
	}
	return nil
}

// describeLimits is the how string of caps l where the cgroup has (or
// lacks) the cpu and memory controllers.
func describeLimits(l scavenger.Limits, hasCPU, hasMemory bool) string {
	cpu := "cpu uncapped"
	switch {
	case !hasCPU:
		cpu = "without cpu controller: " + priorityHow + " only"
	case l.CPUs > 0:
		cpu = "cpu quota " + strconv.FormatFloat(l.CPUs, 'f', 2, 64) + " cores"
	}
	mem := "memory uncapped"
	switch {
	case !hasMemory:
		mem = "memory not capped (no memory controller)"
	case l.MemoryBytes > 0:
		mem = "memory " + formatBytes(l.MemoryBytes)
	}
	return "cgroup " + cpu + ", " + mem
}

// formatBytes writes n for people: "512 MiB", "1.5 GiB".
func formatBytes(n uint64) string {
	units := []string{"bytes", "KiB", "MiB", "GiB", "TiB"}
	v, i := float64(n), 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64) + " " + units[i]
}

// killedByOOM rewrites how a guest killed by the kernel's OOM killer ended,
// so its home sees why: "killed (memory limit 64 MiB)".
func (p *process) killedByOOM(st *scavenger.ExitStatus) {
	if p.cg == nil || st.Signal != "killed" {
		return
	}
	if limit, killed := p.cg.memoryKilled(); killed && limit > 0 {
		st.Signal = "killed (memory limit " + formatBytes(limit) + ")"
	}
}
