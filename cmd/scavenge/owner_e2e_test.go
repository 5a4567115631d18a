package main_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scavenge/scavenge/peer/wire"
	"github.com/scavenge/scavenge/scavenger"
)

// TestOwnerActions takes a machine back from a running guest with each
// on-return action, on real daemons and real processes. Three dedicated
// donors: S shares, P suspends, K kills. The owner's override (`scavenge
// pause`) applies the action, as the owner's return does; the sensor side of
// that is tested in scavenger and policy/sensor.
func TestOwnerActions(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real daemons")
	}
	root := t.TempDir()
	homeS, homeP, homeK := filepath.Join(root, "s"), filepath.Join(root, "p"), filepath.Join(root, "k")
	initHome(t, "--home", homeS, "--listen", "/ip4/127.0.0.1/tcp/0", "--dedicated")
	editConfig(t, homeS, map[string]string{"action": `"share"`, "labels": `["s", "k"]`})
	launchDaemon(t, "s", homeS)
	boot := strings.Fields(must(t, "id", "--home", homeS).stdout)[0]
	key := filepath.Join(homeS, "swarm.key")
	idP := initHome(t, "--home", homeP, "--listen", "/ip4/127.0.0.1/tcp/0", "--dedicated", "--swarm-key", key, "--bootstrap", boot)
	editConfig(t, homeP, map[string]string{"action": `"suspend"`, "labels": `["p"]`})
	idK := initHome(t, "--home", homeK, "--listen", "/ip4/127.0.0.1/tcp/0", "--dedicated", "--swarm-key", key, "--bootstrap", boot)
	editConfig(t, homeK, map[string]string{"action": `"kill"`, "labels": `["k"]`})
	startDaemon(t, "p", homeP)
	startDaemon(t, "k", homeK)
	idS := statusOf(t, homeS).Daemon.ID
	for _, id := range []string{idS, idP} {
		waitPeerState(t, homeK, id, wire.StateIdle)
	}
	waitPeerState(t, homeP, idK, wire.StateIdle)

	// A task that counts on the CPU for a while and then says so: its
	// progress is its CPU time.
	const count = 300000
	counter := []string{"sh", "-c", fmt.Sprintf(`i=0; while [ $i -lt %d ]; do i=$((i+1)); done; echo counted $i`, count)}
	submitTo := func(home, label string) string {
		t.Helper()
		r := must(t, append([]string{"submit", "--home", home, "--detach", "--label", label, "--"}, counter...)...)
		return strings.TrimSpace(r.stdout)
	}
	guestOf := func(home string) scavenger.Guest {
		t.Helper()
		var g scavenger.Guest
		waitFor(t, 30*time.Second, "a guest on "+filepath.Base(home), func() (bool, string) {
			gs := statusOf(t, home).Daemon.Guests
			if len(gs) == 0 || gs[0].Pid == 0 {
				return false, "none yet"
			}
			g = gs[0]
			return true, ""
		})
		return g
	}
	waitDone := func(home, id string) scavenger.Job {
		t.Helper()
		var j scavenger.Job
		waitFor(t, 120*time.Second, "job "+id+" to finish", func() (bool, string) {
			j, _ = findJob(statusOf(t, home).Jobs, id)
			return j.State.Final(), string(j.State) + " " + j.Reason
		})
		return j
	}
	wantCounted := func(home, id string, j scavenger.Job) {
		t.Helper()
		if j.State != scavenger.StateDone || j.Tasks[0].ExitCode == nil || *j.Tasks[0].ExitCode != 0 {
			t.Errorf("job %s: %s (%s), want done with exit 0", id, j.State, j.Reason)
		}
		// The home's log of the task's stdout (<home>/jobs/<job>/<task>.out).
		out, err := os.ReadFile(filepath.Join(home, "jobs", id, j.Tasks[0].ID+".out"))
		if want := fmt.Sprintf("counted %d\n", count); err != nil || !strings.HasSuffix(string(out), want) {
			t.Errorf("job %s stdout %q (%v), want it to end in %q", id, out, err, want)
		}
	}

	t.Run("suspend", func(t *testing.T) {
		id := submitTo(homeK, "p")
		g := guestOf(homeP)
		must(t, "pause", "--home", homeP)
		waitFor(t, 10*time.Second, "the guest to be frozen", func() (bool, string) {
			ok, how := frozen(t, g.Pid)
			return ok, how
		})
		// Frozen means no progress at all.
		before := cpuTicks(t, g.Pid)
		time.Sleep(300 * time.Millisecond)
		if after := cpuTicks(t, g.Pid); after != before {
			t.Errorf("a suspended guest used CPU: %d -> %d ticks", before, after)
		}
		if gs := statusOf(t, homeP).Daemon.Guests; len(gs) != 1 || !strings.HasPrefix(gs[0].Action, "suspended (") {
			t.Errorf("owner's status while suspended: %+v, want the guest marked suspended", gs)
		}
		waitFor(t, 10*time.Second, "the home to show the task suspended", func() (bool, string) {
			j, _ := findJob(statusOf(t, homeK).Jobs, id)
			return j.Tasks[0].State == scavenger.StateSuspended, string(j.Tasks[0].State)
		})
		must(t, "resume", "--home", homeP)
		j := waitDone(homeK, id)
		wantCounted(homeK, id, j)
		if j.Tasks[0].Attempts != 1 || j.Tasks[0].Preemptions != 0 {
			t.Errorf("suspended task: %d attempts, %d preemptions; want it to finish where it was", j.Tasks[0].Attempts, j.Tasks[0].Preemptions)
		}
	})

	t.Run("share", func(t *testing.T) {
		id := submitTo(homeK, "s")
		g := guestOf(homeS)
		startQuota, hasCgroup := cpuQuota(t, g.Pid)
		must(t, "pause", "--home", homeS)
		var action string
		waitFor(t, 10*time.Second, "the guest to be shared", func() (bool, string) {
			gs := statusOf(t, homeS).Daemon.Guests
			if len(gs) == 1 {
				action = gs[0].Action
			}
			return strings.HasPrefix(action, "shared ("), action
		})
		if hasCgroup {
			if q, _ := cpuQuota(t, g.Pid); q < 0.09 || q > 0.11 {
				t.Errorf("shared guest's CPU quota: %.2f cores (was %.2f), want 0.10", q, startQuota)
			}
		} else if !strings.Contains(action, "idle priority") {
			t.Errorf("shared guest without a cgroup: action %q should say it keeps idle priority only", action)
		}
		if nice := niceOf(t, g.Pid); nice != 19 {
			t.Errorf("shared guest's nice = %d, want 19", nice)
		}
		must(t, "resume", "--home", homeS)
		if hasCgroup {
			waitFor(t, 10*time.Second, "the cap to be lifted", func() (bool, string) {
				q, _ := cpuQuota(t, g.Pid)
				return q == startQuota, fmt.Sprintf("quota %.2f cores, want %.2f", q, startQuota)
			})
		}
		j := waitDone(homeK, id)
		wantCounted(homeK, id, j)
	})

	t.Run("kill", func(t *testing.T) {
		// S must not take it first: it runs on K, then, killed there, on S.
		must(t, "pause", "--home", homeS)
		waitPeerState(t, homeP, idS, wire.StatePaused)
		id := submitTo(homeP, "k")
		g := guestOf(homeK)
		must(t, "resume", "--home", homeS)
		waitPeerState(t, homeP, idS, wire.StateIdle)
		must(t, "pause", "--home", homeK)
		waitFor(t, 30*time.Second, "the guest on k to be gone", func() (bool, string) {
			_, err := os.Stat(fmt.Sprintf("/proc/%d", g.Pid))
			return os.IsNotExist(err), fmt.Sprint(err)
		})
		j := waitDone(homeP, id)
		wantCounted(homeP, id, j)
		if task := j.Tasks[0]; task.Preemptions != 1 || task.Attempts != 2 || task.Peer != idS {
			t.Errorf("killed task: %d preemptions, %d attempts, last on %s; want 1, 2, on s (%s)", task.Preemptions, task.Attempts, task.Peer, idS)
		}
		must(t, "resume", "--home", homeK)
	})
}

// frozen reports whether pid is frozen: its freezer cgroup says FROZEN (v1),
// its cgroup's events say frozen (v2), or, without cgroups, it is stopped.
func frozen(t *testing.T, pid int) (bool, string) {
	t.Helper()
	for _, cg := range cgroupsOf(t, pid) {
		ctrl, path := cg[0], cg[1]
		switch {
		case ctrl == "freezer":
			b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup/freezer", path, "freezer.state"))
			if err == nil && path != "/" {
				return strings.TrimSpace(string(b)) == "FROZEN", "freezer.state " + strings.TrimSpace(string(b))
			}
		case ctrl == "":
			b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", path, "cgroup.events"))
			if err == nil && strings.Contains(string(b), "frozen") {
				return strings.Contains(string(b), "frozen 1"), "cgroup.events " + string(b)
			}
		}
	}
	st := procStat(t, pid)[2]
	return st == "T", "process state " + st
}

// cpuQuota is the CPU cap, in cores, of pid's cpu cgroup; false when it has
// none of its own.
func cpuQuota(t *testing.T, pid int) (float64, bool) {
	t.Helper()
	for _, cg := range cgroupsOf(t, pid) {
		ctrl, path := cg[0], cg[1]
		if path == "/" {
			continue
		}
		if ctrl == "cpu,cpuacct" || ctrl == "cpu" {
			dir := filepath.Join("/sys/fs/cgroup", ctrl, path)
			q, err1 := readInt(filepath.Join(dir, "cpu.cfs_quota_us"))
			p, err2 := readInt(filepath.Join(dir, "cpu.cfs_period_us"))
			if err1 == nil && err2 == nil && q > 0 {
				return float64(q) / float64(p), true
			}
		}
		if ctrl == "" {
			b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", path, "cpu.max"))
			if f := strings.Fields(string(b)); err == nil && len(f) == 2 && f[0] != "max" {
				q, _ := strconv.ParseFloat(f[0], 64)
				p, _ := strconv.ParseFloat(f[1], 64)
				return q / p, true
			}
		}
	}
	return 0, false
}

// cgroupsOf lists pid's cgroups as (controllers, path) pairs from
// /proc/<pid>/cgroup ("6:freezer:/scavenge/x"); v2's controllers are "".
func cgroupsOf(t *testing.T, pid int) [][2]string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatalf("cgroups of %d: %v", pid, err)
	}
	var out [][2]string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if f := strings.SplitN(line, ":", 3); len(f) == 3 {
			out = append(out, [2]string{f[1], f[2]})
		}
	}
	return out
}

func readInt(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}

// procStat is /proc/<pid>/stat split in fields, the command name (which
// may hold spaces) as field 1.
func procStat(t *testing.T, pid int) []string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatalf("stat of %d: %v", pid, err)
	}
	s := string(b)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	return append([]string{strings.TrimSpace(s[:open]), s[open+1 : end]}, strings.Fields(s[end+1:])...)
}

// cpuTicks is pid's user plus system time in clock ticks.
func cpuTicks(t *testing.T, pid int) int64 {
	f := procStat(t, pid)
	u, _ := strconv.ParseInt(f[13], 10, 64)
	s, _ := strconv.ParseInt(f[14], 10, 64)
	return u + s
}

func niceOf(t *testing.T, pid int) int {
	n, _ := strconv.Atoi(procStat(t, pid)[18])
	return n
}
