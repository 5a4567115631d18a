//go:build linux

package executor_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/scavenge/scavenge/scavenger"
	"github.com/scavenge/scavenge/scavenger/executor"
)

// escapee is a guest whose child leaves its process group and session
// (setsid) and prints its pid once it has, then waits.
const escapee = `setsid sleep 100 & p=$!
while [ "$(cut -d' ' -f6 /proc/$p/stat)" != "$p" ]; do :; done
echo $p; exec sleep 100`

func TestStopKillsEscaped(t *testing.T) {
	for _, m := range cgModes[:2] {
		t.Run(m.name, func(t *testing.T) {
			e, _, _ := newControlled(t, m, executor.Options{})
			for _, grace := range []time.Duration{0, time.Minute} {
				out := newLineWriter()
				p := start(t, e, scavenger.ExecSpec{Argv: []string{"sh", "-c", escapee}, Dir: taskDir(t), Env: []string{guestPATH}, Stdout: out})
				escaped, err := strconv.Atoi(out.next(t))
				if err != nil {
					t.Fatal(err)
				}
				defer syscall.Kill(escaped, syscall.SIGKILL)
				if err := p.Stop(grace); err != nil {
					t.Fatalf("Stop(%v): %v", grace, err)
				}
				eventually(t, "the escaped process is gone", func() bool { return gone(escaped) })
				waitFor(t, p)
			}
		})
	}
}

func TestEscapedProcessDiesWithCgroup(t *testing.T) {
	for _, m := range cgModes[:2] {
		t.Run(m.name, func(t *testing.T) {
			// An hour to drain: Wait returns only because the escaped
			// process holding stdout dies with its leader.
			e, logs, _ := newControlled(t, m, executor.Options{DrainTimeout: time.Hour})
			script := strings.TrimSuffix(escapee, "; exec sleep 100")
			r := run(t, e, taskDir(t), []string{guestPATH}, nil, "sh", "-c", script)
			escaped, err := strconv.Atoi(strings.TrimSpace(r.stdout))
			if err != nil {
				t.Fatalf("output %q: %v", r.stdout, err)
			}
			defer syscall.Kill(escaped, syscall.SIGKILL)
			eventually(t, "the escaped process is gone", func() bool { return gone(escaped) })
			if strings.Contains(logs.String(), "still held its output") {
				t.Errorf("output cut off although the cgroup was killed:\n%s", logs)
			}
		})
	}
}

func TestCgroupRemovedAfterExit(t *testing.T) {
	for _, m := range cgModes[:2] {
		t.Run(m.name, func(t *testing.T) {
			e, _, _ := newControlled(t, m, executor.Options{})
			for _, stop := range []bool{false, true} {
				p := start(t, e, scavenger.ExecSpec{Argv: []string{"sh", "-c", "sleep 100 & sleep 0.1"}, Dir: taskDir(t), Env: []string{guestPATH}})
				dirs := guestCgroupDirs(t, e, p.Pid())
				for _, d := range dirs {
					if !strings.HasSuffix(filepath.Dir(d), "/"+testCgroupParent()) {
						t.Errorf("guest cgroup %s not under %s", d, testCgroupParent())
					}
				}
				if stop {
					if _, err := p.Freeze(); err != nil {
						t.Fatal(err)
					}
					p.Stop(0)
				}
				waitFor(t, p)
				for _, d := range dirs {
					if _, err := os.Stat(d); !os.IsNotExist(err) {
						t.Errorf("guest cgroup %s still there after Wait (stopped %v): %v", d, stop, err)
					}
				}
			}
		})
	}
}

// TestStaleCgroupsRemoved plays a daemon that died leaving a frozen guest
// in its cgroup: the next daemon kills it and removes the cgroup, and leaves
// a live daemon's guest alone.
func TestStaleCgroupsRemoved(t *testing.T) {
	for _, m := range cgModes[:2] {
		t.Run(m.name, func(t *testing.T) {
			live, _, v := newControlled(t, m, executor.Options{})
			p := start(t, live, scavenger.ExecSpec{Argv: []string{"sleep", "100"}, Dir: taskDir(t), Env: []string{guestPATH}})
			liveDirs := guestCgroupDirs(t, live, p.Pid())

			// A process in a cgroup named as a guest's of a daemon that
			// had this pid but started at another time.
			orphan := exec.Command("sleep", "100")
			if err := orphan.Start(); err != nil {
				t.Fatal(err)
			}
			defer orphan.Process.Kill()
			st := readFile(t, fmt.Sprintf("/proc/%d/stat", os.Getpid()))
			start, _ := strconv.Atoi(strings.Fields(st[strings.LastIndexByte(st, ')')+1:])[22-3])
			name := fmt.Sprintf("%d-%d-1", os.Getpid(), start+1)
			var staleDirs []string
			for _, d := range liveDirs {
				sd := filepath.Join(filepath.Dir(d), name)
				if err := os.Mkdir(sd, 0o755); err != nil {
					t.Fatal(err)
				}
				staleDirs = append(staleDirs, sd)
				writeFile(t, filepath.Join(sd, "cgroup.procs"), strconv.Itoa(orphan.Process.Pid), 0)
			}
			freezer := staleDirs[0]
			if v == 1 {
				freezer = cgroupDirOf(t, v, orphan.Process.Pid, "freezer")
				writeFile(t, filepath.Join(freezer, "freezer.state"), "FROZEN", 0)
			} else {
				writeFile(t, filepath.Join(freezer, "cgroup.freeze"), "1", 0)
			}
			eventually(t, "the orphan is frozen", func() bool { return cgroupFrozen(t, v, freezer) })

			_, logs, _ := newControlled(t, m, executor.Options{})
			if err := orphan.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
				t.Errorf("orphan ended with %v, want killed", err)
			}
			for _, d := range staleDirs {
				if _, err := os.Stat(d); !os.IsNotExist(err) {
					t.Errorf("stale cgroup %s still there: %v", d, err)
				}
			}
			if !strings.Contains(logs.String(), "removed stale guest cgroup") {
				t.Errorf("no word of the stale cgroup in the log:\n%s", logs)
			}
			if gone(p.Pid()) {
				t.Error("the live daemon's guest was killed")
			}
			for _, d := range liveDirs {
				if _, err := os.Stat(d); err != nil {
					t.Errorf("live guest cgroup: %v", err)
				}
			}
		})
	}
}

func TestCgroupParentChecked(t *testing.T) {
	for _, parent := range []string{"../escape", "a/../../b", "/"} {
		if _, err := executor.New(executor.Options{CgroupParent: parent}); err == nil || !strings.Contains(err.Error(), "cgroup parent") {
			t.Errorf("New(CgroupParent %q) = %v, want an error about the cgroup parent", parent, err)
		}
	}
}

// TestDaemonOutOfGuestCgroups checks that the threads that join a guest's
// cgroup to start it (v1) are gone by the time Start returns, so freezing or
// killing a guest can never reach the daemon.
func TestDaemonOutOfGuestCgroups(t *testing.T) {
	for _, m := range cgModes[:2] {
		t.Run(m.name, func(t *testing.T) {
			e, _, _ := newControlled(t, m, executor.Options{})
			want := readFile(t, "/proc/self/cgroup")
			for range 20 {
				p := start(t, e, scavenger.ExecSpec{Argv: []string{"sleep", "100"}, Dir: taskDir(t), Env: []string{guestPATH}, Hide: []string{t.TempDir()}})
				tasks, err := os.ReadDir("/proc/self/task")
				if err != nil {
					t.Fatal(err)
				}
				for _, task := range tasks {
					tid, _ := strconv.Atoi(task.Name())
					b, err := os.ReadFile("/proc/self/task/" + task.Name() + "/cgroup")
					if err != nil || exiting(tid) {
						continue
					}
					if got := strings.TrimSpace(string(b)); got != want {
						t.Fatalf("thread %d is in other cgroups than the daemon:\n%s\nwant\n%s", tid, got, want)
					}
				}
				p.Stop(0)
			}
		})
	}
}

// exiting reports whether thread tid is on its way out (PF_EXITING): the
// kernel then shows it in the root cgroups, having taken it out of its own.
func exiting(tid int) bool {
	const pfExiting = 0x4
	f, err := procStat(tid)
	if err != nil {
		return true
	}
	flags, _ := strconv.ParseUint(f[9-3], 10, 64)
	return flags&pfExiting != 0
}
