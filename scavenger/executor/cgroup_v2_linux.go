package executor

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/scavenge/scavenge/scavenger"
)

// cgroup v2: one hierarchy. Controllers reach a cgroup only when every
// ancestor enables them for its children (cgroup.subtree_control); the
// freezer (cgroup.freeze) and cgroup.kill are in every cgroup but the root.
// Guests are created inside their cgroup (clone3 with CLONE_INTO_CGROUP).

// v2Controllers are the controllers guests use for their caps.
var v2Controllers = []string{"cpu", "memory"}

// setupV2 makes the guests' parent under the v2 mount point, enables the
// cpu and memory controllers down to it where the kernel lets this process,
// and checks that this process can create a guest in a child of it.
func (m *cgroups) setupV2(point, parent string) error {
	m.version = 2
	dir := filepath.Join(point, parent)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	m.hier = []hierarchy{{dir: dir}}
	// Each ancestor, the mount point first, passes the controllers on. An
	// ancestor that has processes of its own refuses (EBUSY): the guests
	// then get the freezer only.
	rel, _ := filepath.Rel(point, dir)
	cur := point
	for _, part := range append([]string{""}, strings.Split(rel, "/")...) {
		cur = filepath.Join(cur, part)
		enableControllers(cur)
	}
	enabled, err := readCgroupFile(dir, "cgroup.subtree_control")
	if err != nil {
		return err
	}
	m.hasCPU = slices.Contains(strings.Fields(enabled), "cpu")
	m.hasMemory = slices.Contains(strings.Fields(enabled), "memory")
	if cgroupFileExists(dir, "cpu.weight") {
		m.idleParent(dir, "cpu.weight", "1")
	}
	return m.probeV2(point, dir)
}

// enableControllers enables v2Controllers for the children of the cgroup
// dir, as far as they are available to it.
func enableControllers(dir string) {
	avail, err := readCgroupFile(dir, "cgroup.controllers")
	if err != nil {
		return
	}
	var add []string
	for _, c := range v2Controllers {
		if slices.Contains(strings.Fields(avail), c) {
			add = append(add, "+"+c)
		}
	}
	if len(add) > 0 {
		_ = writeCgroupFile(dir, "cgroup.subtree_control", strings.Join(add, " "))
	}
}

// probeV2 checks, on a child cgroup, what guests get: the freezer and
// cgroup.kill, and whether this process may create processes in it. The
// kernel allows that to whoever may write cgroup.procs both in the target
// and in the closest cgroup it shares with this process (delegation).
func (m *cgroups) probeV2(point, dir string) error {
	if !kernelAtLeast(5, 7) {
		return errors.New("cgroup v2 needs Linux 5.7 or later to start a process in a cgroup (CLONE_INTO_CGROUP)")
	}
	c := m.guest(m.newName())
	if err := os.Mkdir(c.dirs[0], 0o755); err != nil {
		return fmt.Errorf("create a guest cgroup: %w", err)
	}
	defer c.removeDirs()
	m.hasFreezer = cgroupFileExists(c.dirs[0], "cgroup.freeze")
	m.hasKill = cgroupFileExists(c.dirs[0], "cgroup.kill")
	own, err := processCgroup(os.Getpid(), "")
	if err != nil {
		return err
	}
	common := commonAncestor(filepath.Join(point, own), c.dirs[0])
	for _, d := range []string{c.dirs[0], common} {
		path := filepath.Join(d, "cgroup.procs")
		if err := unix.Faccessat(unix.AT_FDCWD, path, unix.W_OK, unix.AT_EACCESS); err != nil {
			return fmt.Errorf("start processes in a guest cgroup: %s: %w", path, err)
		}
	}
	return nil
}

// commonAncestor is the deepest directory containing both a and b.
func commonAncestor(a, b string) string {
	for !strings.HasPrefix(b+"/", a+"/") && a != "/" {
		a = filepath.Dir(a)
	}
	return a
}

// kernelAtLeast reports whether the running kernel is at least
// major.minor.
func kernelAtLeast(major, minor int) bool {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return false
	}
	var ma, mi int
	if _, err := fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &ma, &mi); err != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}

// openDir opens the cgroup's directory for CLONE_INTO_CGROUP.
func (c *cgroup) openDir() (int, error) {
	fd, err := unix.Open(c.dirs[0], unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open guest cgroup %s: %w", c.dirs[0], err)
	}
	return fd, nil
}

// initV2 gives a new guest cgroup the lowest CPU weight, and makes the OOM
// killer end the whole guest rather than one of its processes.
func (c *cgroup) initV2() error {
	d := c.dirs[0]
	if c.m.hasCPU {
		if err := writeCgroupFile(d, "cpu.weight", "1"); err != nil {
			return err
		}
	}
	if c.m.hasMemory && cgroupFileExists(d, "memory.oom.group") {
		return writeCgroupFile(d, "memory.oom.group", "1")
	}
	return nil
}

// limitV2 sets cpu.max and memory.max (and no swap for a capped guest, so
// it cannot swap the owner's programs out instead).
func (c *cgroup) limitV2(l scavenger.Limits) error {
	d := c.dirs[0]
	if c.m.hasCPU {
		quota := "max"
		if q := cpuQuota(l.CPUs); q > 0 {
			quota = strconv.FormatInt(q, 10)
		}
		if err := writeCgroupFile(d, "cpu.max", quota+" "+strconv.Itoa(cfsPeriod)); err != nil {
			return err
		}
		c.limits.CPUs = l.CPUs
	}
	if c.m.hasMemory {
		limit, swap := "max", "max"
		if l.MemoryBytes > 0 {
			limit, swap = strconv.FormatUint(l.MemoryBytes, 10), "0"
		}
		if cgroupFileExists(d, "memory.swap.max") {
			if err := writeCgroupFile(d, "memory.swap.max", swap); err != nil {
				return err
			}
		}
		if err := writeCgroupFile(d, "memory.max", limit); err != nil {
			return err
		}
		c.limits.MemoryBytes = l.MemoryBytes
	}
	return nil
}

// freezeStepV2 asks the v2 freezer for the state wanted (once) and reports
// whether the kernel says it is reached.
func (c *cgroup) freezeStepV2(frozen bool) (bool, error) {
	want := "0"
	if frozen {
		want = "1"
	}
	d := c.dirs[0]
	if cur, err := readCgroupFile(d, "cgroup.freeze"); err != nil {
		return false, err
	} else if cur != want {
		if err := writeCgroupFile(d, "cgroup.freeze", want); err != nil {
			return false, err
		}
	}
	state, err := readFlatKeyed(d, "cgroup.events", "frozen")
	return state == want, err
}
