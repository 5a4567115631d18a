package executor

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/scavenge/scavenge/scavenger"
)

// cgroup is one guest's cgroup: a directory of the same name in each
// hierarchy used.
type cgroup struct {
	m    *cgroups
	name string
	dirs []string // parallel to m.hier

	mu      sync.Mutex
	limits  scavenger.Limits // the caps in force
	removed bool
}

var _ guestCgroup = (*cgroup)(nil)

const (
	// killTimeout bounds how long killAll and remove wait for the guest's
	// processes to be gone: killed processes exit in microseconds, unless
	// blocked in the kernel.
	killTimeout = 5 * time.Second
	// killFreezeTimeout bounds the freeze that keeps a guest from forking
	// while it is killed process by process; past it, kill anyway.
	killFreezeTimeout = 100 * time.Millisecond
	// cfsPeriod is the CPU quota period, in microseconds: the kernel's
	// default, short enough that a capped guest never runs for long in one go.
	cfsPeriod = 100000
	// minCFSQuota is the smallest quota the kernel accepts (1 ms).
	minCFSQuota = 1000
)

// dir returns the cgroup's directory in the hierarchy that has controller
// (v1), or its only directory (v2); "" when that controller is not used.
func (c *cgroup) dir(controller string) string {
	for i, h := range c.m.hier {
		if c.m.version == 2 || slices.Contains(h.controllers, controller) {
			return c.dirs[i]
		}
	}
	return ""
}

// make creates the cgroup's directories and gives it the settings every
// guest has: the lowest CPU weight, and (v2) death of the whole guest when
// the OOM killer picks one of its processes.
func (c *cgroup) make() error {
	for _, d := range c.dirs {
		if err := os.Mkdir(d, 0o755); err != nil {
			c.removeDirs()
			return fmt.Errorf("create guest cgroup: %w", err)
		}
	}
	var err error
	if c.m.version == 1 {
		err = c.initV1()
	} else {
		err = c.initV2()
	}
	if err != nil {
		c.removeDirs()
		return fmt.Errorf("set up guest cgroup %s: %w", c.name, err)
	}
	return nil
}

// removeDirs removes the directories of a cgroup nothing was started in.
func (c *cgroup) removeDirs() {
	for _, d := range c.dirs {
		_ = unix.Rmdir(d)
	}
}

// setLimits sets the caps to exactly l.
func (c *cgroup) setLimits(l scavenger.Limits) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.removed {
		return "", os.ErrProcessDone
	}
	var err error
	if c.m.version == 1 {
		err = c.limitV1(l)
	} else {
		err = c.limitV2(l)
	}
	if err != nil {
		return "", err
	}
	return describeLimits(l, c.m.hasCPU, c.m.hasMemory), nil
}

// cpuQuota is the CFS quota, per cfsPeriod, for cpus cores; 0 means none.
func cpuQuota(cpus float64) int64 {
	if cpus <= 0 {
		return 0
	}
	return max(int64(cpus*cfsPeriod+0.5), minCFSQuota)
}

// freeze freezes the guest and waits until the kernel says it is frozen.
func (c *cgroup) freeze(timeout time.Duration) (string, error) {
	how := "cgroup v" + strconv.Itoa(c.m.version) + " freezer"
	if !c.m.hasFreezer {
		return "", errNoFreezer
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.removed {
		return how, os.ErrProcessDone
	}
	return how, c.setFrozen(true, timeout)
}

// thaw lets a frozen guest run again.
func (c *cgroup) thaw() error {
	if !c.m.hasFreezer {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.removed {
		return os.ErrProcessDone
	}
	return c.setFrozen(false, freezeTimeout)
}

// setFrozen freezes or thaws the cgroup and waits up to timeout for the
// kernel to report it done. c.mu is held.
func (c *cgroup) setFrozen(frozen bool, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for delay := 20 * time.Microsecond; ; delay = min(2*delay, 5*time.Millisecond) {
		done, err := c.frozenStep(frozen)
		if err != nil || done {
			return err
		}
		if time.Now().After(deadline) {
			state := "frozen"
			if !frozen {
				state = "thawed"
			}
			return fmt.Errorf("guest cgroup %s not %s after %v", c.name, state, timeout)
		}
		time.Sleep(delay)
	}
}

// frozenStep asks the kernel once more for the freezer state wanted and
// reports whether it is reached.
func (c *cgroup) frozenStep(frozen bool) (bool, error) {
	if c.m.version == 1 {
		return c.freezeStepV1(frozen)
	}
	return c.freezeStepV2(frozen)
}

// killAll kills every process in the cgroup.
func (c *cgroup) killAll() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.removed {
		return os.ErrProcessDone
	}
	return c.killLocked()
}

// killLocked kills every process in the cgroup: with cgroup.kill where the
// kernel has it (atomic, even against forks), else by signalling each
// process while the cgroup is frozen, until none is left. c.mu is held.
func (c *cgroup) killLocked() error {
	if c.m.hasKill {
		err := writeCgroupFile(c.dirs[0], "cgroup.kill", "1")
		if isNotExist(err) {
			return nil
		}
		return err
	}
	deadline := time.Now().Add(killTimeout)
	for delay := 20 * time.Microsecond; ; delay = min(2*delay, 10*time.Millisecond) {
		pids, err := c.procs()
		if isNotExist(err) || (err == nil && len(pids) == 0) {
			return nil
		}
		if err != nil {
			return err
		}
		c.signalEach(pids)
		if time.Now().After(deadline) {
			return fmt.Errorf("guest cgroup %s: %d processes still there %v after SIGKILL", c.name, len(pids), killTimeout)
		}
		time.Sleep(delay)
	}
}

// signalEach sends SIGKILL to each of pids still in the cgroup. The cgroup
// is frozen meanwhile, so no process forks a new one unseen, then thawed: a
// process frozen by the v1 freezer dies of SIGKILL only once thawed. Each
// process is held by a pidfd before it is checked to be still in the
// cgroup, so a pid reused by another process since it was listed is never
// signalled.
func (c *cgroup) signalEach(pids []int) {
	if c.m.hasFreezer {
		_ = c.setFrozen(true, killFreezeTimeout) // past it, kill anyway
		defer func() { _ = c.setFrozen(false, killFreezeTimeout) }()
	}
	fds := map[int]int{}
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	for _, pid := range pids {
		if pid == os.Getpid() {
			continue // never the daemon, whatever the cgroup says
		}
		if fd, err := unix.PidfdOpen(pid, 0); err == nil {
			fds[pid] = fd
		} else if errors.Is(err, unix.ENOSYS) {
			fds[pid] = -1 // an old kernel: plain kill below
		}
	}
	still, err := c.procs()
	if err != nil {
		return
	}
	for _, pid := range still {
		fd, ok := fds[pid]
		switch {
		case !ok:
		case fd < 0:
			_ = unix.Kill(pid, unix.SIGKILL)
		default:
			_ = unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
		}
	}
}

// procs lists the processes in the cgroup.
func (c *cgroup) procs() ([]int, error) {
	d := c.dir("freezer")
	if d == "" {
		d = c.dirs[0]
	}
	return readProcs(d)
}

// memoryKilled reports whether the OOM killer killed a process in the
// cgroup, and the memory cap in force.
func (c *cgroup) memoryKilled() (uint64, bool) {
	if !c.m.hasMemory {
		return 0, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.removed {
		return 0, false
	}
	file, d := "memory.events", c.dirs[0]
	if c.m.version == 1 {
		file, d = "memory.oom_control", c.dir("memory")
	}
	v, err := readFlatKeyed(d, file, "oom_kill")
	if err != nil {
		return 0, false
	}
	n, err := strconv.Atoi(v)
	return c.limits.MemoryBytes, err == nil && n > 0
}

// remove kills what is left in the cgroup and deletes it, waiting for the
// killed processes to be gone (the kernel refuses to remove a cgroup that
// still has some).
func (c *cgroup) remove() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.removed {
		return nil
	}
	deadline := time.Now().Add(killTimeout)
	var errs []error
	for _, d := range c.dirs {
		for delay := 20 * time.Microsecond; ; delay = min(2*delay, 10*time.Millisecond) {
			err := unix.Rmdir(d)
			if err == nil || isNotExist(err) {
				break
			}
			if !isBusy(err) || time.Now().After(deadline) {
				errs = append(errs, fmt.Errorf("remove %s: %w", d, err))
				break
			}
			if err := c.killLocked(); err != nil {
				errs = append(errs, err)
				break
			}
			time.Sleep(delay)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	c.removed = true
	return nil
}
