package executor

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/scavenge/scavenge/scavenger"
)

// Each guest gets a cgroup of its own under Options.CgroupParent, on cgroup
// v2 (the unified hierarchy of systemd desktops) or v1 (the cpu, memory and
// freezer hierarchies of older and hybrid systems). The guest is inside it
// before its first instruction: on v2 it is created there
// (CLONE_INTO_CGROUP); on v1 the throwaway thread that forks it joins the
// cgroup first, and the child inherits it.
//
// This is hand-written rather than github.com/containerd/cgroups: the files
// used are a dozen, and that library would add cilium/ebpf, logrus, go-systemd
// and runtime-spec to the daemon while leaving the hard parts to do anyway
// (joining by thread, CLONE_INTO_CGROUP, delegation, killing on v1); its
// freeze also waits without a bound, where a guest blocked in the kernel must
// not hold the owner's return up.

// cgroups is how guests get cgroups on this machine: found and checked
// once, by New.
type cgroups struct {
	log     *slog.Logger
	version int         // 1 or 2
	hier    []hierarchy // v1: one per mount used; v2: just one
	owner   string      // "<pid>-<start time>": begins this daemon's guest names

	hasCPU, hasMemory, hasFreezer bool
	hasKill                       bool // cgroup.kill (v2 on Linux 5.14+)
}

// hierarchy is the parent cgroup of all guests in one cgroup hierarchy.
type hierarchy struct {
	controllers []string // on v1, the controllers used from this mount
	dir         string   // the parent cgroup's directory
}

// guestSeq numbers this process's guest cgroups (and the probes').
var guestSeq atomic.Uint64

// v1Controllers are the cgroup v1 controllers guests use: caps, and the
// freezer.
var v1Controllers = []string{"cpu", "memory", "freezer"}

// newCgroups finds the cgroups guests can use, prepares their parent and
// removes the cgroups of guests whose daemon is gone. It returns nil, having
// logged why, when guests must do without; an error only for a bad option.
func newCgroups(opts Options, log *slog.Logger) (cgroupManager, error) {
	parent, err := cleanCgroupParent(opts.CgroupParent)
	if err != nil {
		return nil, err
	}
	m, err := setupCgroups(parent, opts.forceCgroupV2, log)
	if err != nil {
		log.Warn("no usable cgroups (they need a root daemon, or the cgroup parent delegated to "+
			"the daemon's user): "+noCgroupConsequence, "parent", parent, "cause", err)
		return nil, nil
	}
	m.removeStale()
	dirs := make([]string, len(m.hier))
	for i, h := range m.hier {
		dirs[i] = h.dir
	}
	log.Info("guests get cgroups", "version", m.version, "parents", dirs,
		"cpu", m.hasCPU, "memory", m.hasMemory, "freezer", m.hasFreezer)
	return m, nil
}

// cleanCgroupParent checks Options.CgroupParent: a path inside each
// hierarchy, never out of it.
func cleanCgroupParent(p string) (string, error) {
	if p == "" {
		return defaultCgroupParent, nil
	}
	clean := filepath.Clean(strings.TrimLeft(p, "/"))
	if !filepath.IsLocal(clean) || clean == "." {
		return "", fmt.Errorf("cgroup parent %q: must be a path inside the cgroup hierarchy", p)
	}
	return clean, nil
}

// setupCgroups picks the hierarchies (v1 where its controllers are mounted,
// else v2), makes the parent cgroup in each and checks that this process
// can create guests in it.
func setupCgroups(parent string, forceV2 bool, log *slog.Logger) (*cgroups, error) {
	mounts, err := findCgroupMounts()
	if err != nil {
		return nil, err
	}
	st, err := startTime(os.Getpid())
	if err != nil {
		return nil, err
	}
	m := &cgroups{log: log, owner: strconv.Itoa(os.Getpid()) + "-" + strconv.FormatUint(st, 10)}
	useV1 := !forceV2 && slices.ContainsFunc(v1Controllers, func(c string) bool { return mounts.v1[c] != "" })
	switch {
	case useV1:
		err = m.setupV1(mounts, parent)
	case mounts.v2 != "":
		err = m.setupV2(mounts.v2, parent)
	default:
		err = errors.New("no cgroup filesystem is mounted")
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

// create makes a guest's cgroup with caps l, named after this daemon so a
// later daemon can tell it from a live one's.
func (m *cgroups) create(l scavenger.Limits) (guestCgroup, error) {
	c := m.guest(m.newName())
	if err := c.make(); err != nil {
		return nil, err
	}
	if _, err := c.setLimits(l); err != nil {
		if rmErr := c.remove(); rmErr != nil {
			m.log.Warn("remove guest cgroup", "err", rmErr)
		}
		return nil, err
	}
	return c, nil
}

// newName is a new guest cgroup name, unique on this machine: this daemon
// ("<pid>-<start time>") and a number.
func (m *cgroups) newName() string {
	return m.owner + "-" + strconv.FormatUint(guestSeq.Add(1), 10)
}

// guest is the cgroup called name, which may or may not exist yet.
func (m *cgroups) guest(name string) *cgroup {
	c := &cgroup{m: m, name: name, dirs: make([]string, len(m.hier))}
	for i, h := range m.hier {
		c.dirs[i] = filepath.Join(h.dir, name)
	}
	return c
}

// removeStale kills and removes the guest cgroups left by daemons that are
// no longer running (a crash, a kill -9): nobody waits for those guests any
// more, and their homes have run the tasks elsewhere. Cgroups of running
// daemons (several may share the parent) are left alone.
func (m *cgroups) removeStale() {
	stale := map[string]bool{}
	for _, h := range m.hier {
		entries, err := os.ReadDir(h.dir)
		if err != nil {
			m.log.Warn("list guest cgroups", "err", err)
			continue
		}
		for _, e := range entries {
			if e.IsDir() && m.isStale(e.Name()) {
				stale[e.Name()] = true
			}
		}
	}
	for name := range stale {
		c := m.guest(name)
		pids, _ := c.procs()
		if err := c.remove(); err != nil {
			m.log.Warn("remove stale guest cgroup", "cgroup", name, "err", err)
			continue
		}
		m.log.Info("removed stale guest cgroup", "cgroup", name, "killed", len(pids))
	}
}

// isStale reports whether name is a guest cgroup ("<pid>-<start>-<n>") of a
// daemon that is gone. Other names are not the executor's: left alone.
func (m *cgroups) isStale(name string) bool {
	parts := strings.Split(name, "-")
	if len(parts) != 3 {
		return false
	}
	pid, err1 := strconv.Atoi(parts[0])
	start, err2 := strconv.ParseUint(parts[1], 10, 64)
	_, err3 := strconv.ParseUint(parts[2], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return false
	}
	if parts[0]+"-"+parts[1] == m.owner {
		return false
	}
	now, err := startTime(pid)
	if err != nil {
		return errors.Is(err, fs.ErrNotExist) // else unknown: leave it
	}
	return now != start
}
