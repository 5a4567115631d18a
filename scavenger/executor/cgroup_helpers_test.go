//go:build linux

package executor_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scavenge/scavenge/scavenger/executor"
)

// cgMode is one way the executor can control guests on this machine.
type cgMode struct {
	name    string
	cgroups bool // whether guests must get cgroups
	options func(*executor.Options)
}

// cgModes are: cgroups as found (v1 here, v2 on systemd desktops), cgroup
// v2 even on a hybrid machine (freezer and kill only, where its controllers
// are with v1), and none.
var cgModes = []cgMode{
	{"cgroup", true, func(*executor.Options) {}},
	{"cgroup-v2", true, executor.ForceCgroupV2},
	{"no-cgroup", false, func(o *executor.Options) { o.NoCgroups = true }},
}

// cgroupRequirement is what the cgroup tests need.
const cgroupRequirement = "guests get cgroups only when the tests run as root or " +
	"SCAVENGE_TEST_CGROUP_PARENT names a cgroup delegated to their user"

// newControlled returns an executor in mode m (with namespaces) and the
// cgroup version its guests get. Where m needs cgroups the machine cannot
// give, the test fails under CI and is skipped elsewhere.
func newControlled(t testing.TB, m cgMode, opts executor.Options) (*executor.Executor, *logBuffer, int) {
	t.Helper()
	m.options(&opts)
	e, logs := newExecutor(t, modes[0], opts)
	v := executor.CgroupVersion(e)
	if m.cgroups && v == 0 {
		requirement(t, "no usable cgroups in mode "+m.name+": "+cgroupRequirement+"\n"+logs.String())
	}
	if !m.cgroups && v != 0 {
		t.Fatalf("mode %s: guests get cgroup v%d", m.name, v)
	}
	return e, logs, v
}

// requirement skips the test for want of a documented requirement, or
// fails it under CI, where every requirement must be met.
func requirement(t testing.TB, missing string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(missing)
	}
	t.Skip(missing)
}

// guestCgroupDirs are the directories of process pid's cgroups in every
// hierarchy e uses.
func guestCgroupDirs(t testing.TB, e *executor.Executor, pid int) []string {
	t.Helper()
	controllers := []string{""}
	if executor.CgroupVersion(e) == 1 {
		controllers = nil
		cpu, memory, freezer := executor.CgroupControllers(e)
		for c, used := range map[string]bool{"cpu": cpu, "memory": memory, "freezer": freezer} {
			if used {
				controllers = append(controllers, c)
			}
		}
	}
	var dirs []string
	for _, c := range controllers {
		d, err := executor.CgroupDir(pid, c)
		if err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, d)
	}
	return dirs
}

// cgroupDirOf is the directory of pid's cgroup in the hierarchy of
// controller (v1) or its only one (v2).
func cgroupDirOf(t testing.TB, version, pid int, controller string) string {
	t.Helper()
	if version == 2 {
		controller = ""
	}
	d, err := executor.CgroupDir(pid, controller)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// readFile returns a file's content without surrounding white space.
func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// cgroupFrozen reads whether the kernel reports the cgroup in dir frozen.
func cgroupFrozen(t testing.TB, version int, dir string) bool {
	t.Helper()
	if version == 1 {
		return readFile(t, filepath.Join(dir, "freezer.state")) == "FROZEN"
	}
	return strings.Contains("\n"+readFile(t, filepath.Join(dir, "cgroup.events"))+"\n", "\nfrozen 1\n")
}

// groupPids lists the live processes of process group pgid.
func groupPids(t testing.TB, pgid int) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if f, err := procStat(pid); err == nil && f[5-3] == strconv.Itoa(pgid) && f[0] != "Z" {
			pids = append(pids, pid)
		}
	}
	return pids
}

// clockTick is the unit of CPU times in /proc/pid/stat (USER_HZ, 100 on
// every Linux port).
const clockTick = 10 * time.Millisecond

// cpuTime is the CPU time process pid has used (user + system).
func cpuTime(t testing.TB, pid int) time.Duration {
	t.Helper()
	f, err := procStat(pid)
	if err != nil {
		t.Fatal(err)
	}
	utime, _ := strconv.Atoi(f[14-3])
	stime, _ := strconv.Atoi(f[15-3])
	return time.Duration(utime+stime) * clockTick
}

// cpuUse measures the cores process pid uses over about d.
func cpuUse(t testing.TB, pid int, d time.Duration) float64 {
	t.Helper()
	c0, t0 := cpuTime(t, pid), time.Now()
	time.Sleep(d)
	return float64(cpuTime(t, pid)-c0) / float64(time.Since(t0))
}

// fileSize is the size of path, 0 if it does not exist yet.
func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}
