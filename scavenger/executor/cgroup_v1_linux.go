package executor

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/scavenge/scavenge/scavenger"
)

// cgroup v1: a hierarchy per controller (cpu, memory and freezer here; cpu
// is often mounted together with cpuacct). Guests join by thread: the
// throwaway thread that forks a guest writes its thread ID to each
// hierarchy's "tasks" first, and the guest inherits its cgroups.

// setupV1 makes the guests' parent in each v1 hierarchy that has one of
// v1Controllers, and keeps those where this process can place a thread in a
// child cgroup.
func (m *cgroups) setupV1(mounts cgroupMounts, parent string) error {
	m.version = 1
	for _, ctrl := range v1Controllers {
		point := mounts.v1[ctrl]
		if point == "" {
			continue
		}
		dir := filepath.Join(point, parent)
		i := slices.IndexFunc(m.hier, func(h hierarchy) bool { return h.dir == dir })
		if i < 0 {
			m.hier = append(m.hier, hierarchy{dir: dir})
			i = len(m.hier) - 1
		}
		m.hier[i].controllers = append(m.hier[i].controllers, ctrl)
	}
	var usable, unusable []hierarchy
	var errs []error
	for _, h := range m.hier {
		if err := m.prepareV1(h); err != nil {
			unusable, errs = append(unusable, h), append(errs, err)
			continue
		}
		usable = append(usable, h)
	}
	if len(usable) == 0 {
		return errors.Join(errs...)
	}
	for i, h := range unusable {
		m.log.Warn("cgroup hierarchy unusable: guests do without it", "controllers", h.controllers, "err", errs[i])
	}
	m.hier = usable
	for _, h := range m.hier {
		for _, ctrl := range h.controllers {
			switch ctrl {
			case "cpu":
				m.hasCPU = true
			case "memory":
				m.hasMemory = true
			case "freezer":
				m.hasFreezer = true
			}
		}
	}
	return nil
}

// prepareV1 makes the parent cgroup h, idle on the CPU, and checks that a
// thread of this process can join a child cgroup of it.
func (m *cgroups) prepareV1(h hierarchy) error {
	if err := os.MkdirAll(h.dir, 0o755); err != nil {
		return err
	}
	if slices.Contains(h.controllers, "cpu") {
		m.idleParent(h.dir, "cpu.shares", "2")
	}
	probe := &cgroups{log: m.log, version: 1, hier: []hierarchy{h}, owner: m.owner}
	c := probe.guest(m.newName())
	if err := os.Mkdir(c.dirs[0], 0o755); err != nil {
		return fmt.Errorf("create a guest cgroup: %w", err)
	}
	defer c.removeDirs()
	_, tid, err := onOwnThread(func() (struct{}, error) { return struct{}{}, c.joinThread() })
	if !awaitThreadGone(tid) {
		return fmt.Errorf("thread %d that joined the probe cgroup %s did not exit", tid, c.dirs[0])
	}
	if err != nil {
		return fmt.Errorf("place a thread in a guest cgroup: %w", err)
	}
	return nil
}

// idleParent makes the guests' parent cgroup as light on the CPU as the
// kernel allows. Inside one cgroup SCHED_IDLE yields to normal tasks, but a
// cgroup competes with its siblings by weight, so an ordinary guests' cgroup
// would take as much CPU as any owner's program. cpu.idle (Linux 5.15)
// makes the whole cgroup idle; before it, the lowest weight comes close.
func (m *cgroups) idleParent(dir, weightFile, minWeight string) {
	err := writeCgroupFile(dir, "cpu.idle", "1")
	if err == nil {
		return
	}
	if werr := writeCgroupFile(dir, weightFile, minWeight); werr != nil {
		m.log.Warn("could not make the guests' cgroup idle: guests compete with the owner's programs "+
			"for the CPU by cgroup weight", "err", errors.Join(err, werr))
	}
}

// joinThread moves the calling thread into the cgroup in every hierarchy,
// so that a process it forks starts there. The thread must be thrown away
// afterwards: it must never run daemon code inside a guest's cgroup.
func (c *cgroup) joinThread() error {
	tid := strconv.Itoa(unix.Gettid())
	for _, d := range c.dirs {
		if err := writeCgroupFile(d, "tasks", tid); err != nil {
			return err
		}
	}
	return nil
}

// initV1 gives a new guest cgroup the lowest CPU weight and the quota
// period.
func (c *cgroup) initV1() error {
	if d := c.dir("cpu"); d != "" {
		if err := writeCgroupFile(d, "cpu.shares", "2"); err != nil {
			return err
		}
		return writeCgroupFile(d, "cpu.cfs_period_us", strconv.Itoa(cfsPeriod))
	}
	return nil
}

// limitV1 sets the CFS quota and the memory limit (and the memory+swap
// limit, so a capped guest cannot swap the owner's programs out instead).
func (c *cgroup) limitV1(l scavenger.Limits) error {
	if d := c.dir("cpu"); d != "" {
		quota := "-1"
		if q := cpuQuota(l.CPUs); q > 0 {
			quota = strconv.FormatInt(q, 10)
		}
		if err := writeCgroupFile(d, "cpu.cfs_quota_us", quota); err != nil {
			return err
		}
		c.limits.CPUs = l.CPUs
	}
	if d := c.dir("memory"); d != "" {
		limit := "-1"
		if l.MemoryBytes > 0 {
			limit = strconv.FormatUint(l.MemoryBytes, 10)
		}
		if err := setMemoryV1(d, limit); err != nil {
			return err
		}
		c.limits.MemoryBytes = l.MemoryBytes
	}
	return nil
}

// setMemoryV1 writes limit to memory.limit_in_bytes and, where swap is
// accounted, memory.memsw.limit_in_bytes. The kernel keeps memory <=
// memory+swap at every step: lowering goes memory first, raising memsw
// first; a refusal (EINVAL) of the first order means the other.
func setMemoryV1(dir, limit string) error {
	const mem, memsw = "memory.limit_in_bytes", "memory.memsw.limit_in_bytes"
	if !cgroupFileExists(dir, memsw) {
		return writeCgroupFile(dir, mem, limit)
	}
	err := writeCgroupFile(dir, mem, limit)
	if errors.Is(err, syscall.EINVAL) {
		if err := writeCgroupFile(dir, memsw, limit); err != nil {
			return err
		}
		return writeCgroupFile(dir, mem, limit)
	}
	if err != nil {
		return err
	}
	return writeCgroupFile(dir, memsw, limit)
}

// freezeStepV1 asks the v1 freezer for the state wanted and reports whether
// it is reached. Writing FROZEN again is how v1 retries tasks that could not
// be frozen the first time.
func (c *cgroup) freezeStepV1(frozen bool) (bool, error) {
	want := "THAWED"
	if frozen {
		want = "FROZEN"
	}
	d := c.dir("freezer")
	if err := writeCgroupFile(d, "freezer.state", want); err != nil {
		return false, err
	}
	state, err := readCgroupFile(d, "freezer.state")
	return state == want, err
}
