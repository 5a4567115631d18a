//go:build linux

package executor_test

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scavenge/scavenge/scavenger"
	"github.com/scavenge/scavenge/scavenger/executor"
)

// twoWriters is a guest of two processes, each appending to its own file
// as fast as it can (echo is a shell builtin: they never fork again).
const twoWriters = "(while :; do echo x >> a; done) & while :; do echo x >> b; done"

// growing reports whether the files in dir grow.
func growing(dir string, names ...string) func() bool {
	last := map[string]int64{}
	for _, n := range names {
		last[n] = fileSize(filepath.Join(dir, n))
	}
	return func() bool {
		all := true
		for _, n := range names {
			s := fileSize(filepath.Join(dir, n))
			all = all && s > last[n]
		}
		return all
	}
}

func TestFreezeThaw(t *testing.T) {
	for _, m := range cgModes {
		t.Run(m.name, func(t *testing.T) {
			e, _, v := newControlled(t, m, executor.Options{})
			dir := taskDir(t)
			p := start(t, e, scavenger.ExecSpec{Argv: []string{"sh", "-c", twoWriters}, Dir: dir, Env: []string{guestPATH}})
			eventually(t, "both processes write", growing(dir, "a", "b"))
			pids := groupPids(t, p.Pid())
			if len(pids) != 2 {
				t.Fatalf("guest processes %v, want 2", pids)
			}

			how, err := p.Freeze()
			if err != nil {
				t.Fatalf("Freeze: %v", err)
			}
			wantHow := map[int]string{0: "no cgroup: SIGSTOP of the process group", 1: "cgroup v1 freezer", 2: "cgroup v2 freezer"}[v]
			if how != wantHow {
				t.Errorf("Freeze how = %q, want %q", how, wantHow)
			}
			if v == 0 {
				for _, pid := range pids {
					eventually(t, "process "+strconv.Itoa(pid)+" is stopped", func() bool {
						f, err := procStat(pid)
						return err == nil && f[0] == "T"
					})
				}
			} else if d := cgroupDirOf(t, v, p.Pid(), "freezer"); !cgroupFrozen(t, v, d) {
				t.Errorf("cgroup %s not frozen after Freeze returned", d)
			}
			a, b := fileSize(filepath.Join(dir, "a")), fileSize(filepath.Join(dir, "b"))
			time.Sleep(300 * time.Millisecond)
			if a2, b2 := fileSize(filepath.Join(dir, "a")), fileSize(filepath.Join(dir, "b")); a2 != a || b2 != b {
				t.Errorf("frozen guest kept writing: a %d -> %d, b %d -> %d bytes", a, a2, b, b2)
			}

			if err := p.Thaw(); err != nil {
				t.Fatalf("Thaw: %v", err)
			}
			eventually(t, "both processes write again", growing(dir, "a", "b"))
			if err := p.Thaw(); err != nil {
				t.Errorf("second Thaw: %v", err)
			}
		})
	}
}

func TestStopFrozen(t *testing.T) {
	for _, m := range cgModes {
		t.Run(m.name, func(t *testing.T) {
			e, _, _ := newControlled(t, m, executor.Options{})
			tests := []struct {
				grace time.Duration
				want  string
			}{
				// SIGTERM reaches a frozen guest: Stop thaws it to act on it.
				{time.Minute, "terminated"},
				{0, "killed"},
			}
			for _, tt := range tests {
				p := start(t, e, scavenger.ExecSpec{Argv: []string{"sh", "-c", twoWriters}, Dir: taskDir(t), Env: []string{guestPATH}})
				if _, err := p.Freeze(); err != nil {
					t.Fatalf("Freeze: %v", err)
				}
				pids := groupPids(t, p.Pid())
				t0 := time.Now()
				if err := p.Stop(tt.grace); err != nil {
					t.Fatalf("Stop(%v): %v", tt.grace, err)
				}
				if st := waitFor(t, p); st.Signal != tt.want {
					t.Errorf("Stop(%v) of a frozen guest: ended by %q, want %q", tt.grace, st.Signal, tt.want)
				}
				if d := time.Since(t0); d > 10*time.Second {
					t.Errorf("Stop(%v) of a frozen guest took %v", tt.grace, d)
				}
				for _, pid := range pids {
					eventually(t, "guest process "+strconv.Itoa(pid)+" is gone", func() bool { return gone(pid) })
				}
			}
		})
	}
}

func TestLimit(t *testing.T) {
	for _, m := range cgModes {
		t.Run(m.name, func(t *testing.T) {
			e, _, v := newControlled(t, m, executor.Options{})
			hasCPU, hasMemory, _ := executor.CgroupControllers(e)
			p := start(t, e, scavenger.ExecSpec{
				Argv: []string{"sh", "-c", "while :; do :; done"}, Dir: taskDir(t), Env: []string{guestPATH},
				Limits: scavenger.Limits{CPUs: 0.5, MemoryBytes: 256 << 20},
			})
			quota := func() string { // the quota file as it is, "" without one
				if !hasCPU {
					return ""
				}
				d := cgroupDirOf(t, v, p.Pid(), "cpu")
				if v == 1 {
					return readFile(t, filepath.Join(d, "cpu.cfs_quota_us"))
				}
				return readFile(t, filepath.Join(d, "cpu.max"))
			}
			memory := func() string {
				if !hasMemory {
					return ""
				}
				d := cgroupDirOf(t, v, p.Pid(), "memory")
				if v == 1 {
					return readFile(t, filepath.Join(d, "memory.limit_in_bytes"))
				}
				return readFile(t, filepath.Join(d, "memory.max"))
			}
			// What each version's files hold for a cap, or no cap.
			files := map[int]map[string]string{
				1: {"0.5": "50000", "0.1": "10000", "cpu none": "-1", "256M": "268435456", "mem none": "9223372036854771712"},
				2: {"0.5": "50000 100000", "0.1": "10000 100000", "cpu none": "max 100000", "256M": "268435456", "mem none": "max"},
			}[v]
			want := func(cpuKey, memKey string) (string, string) {
				q, mem := "", ""
				if hasCPU {
					q = files[cpuKey]
				}
				if hasMemory {
					mem = files[memKey]
				}
				return q, mem
			}
			check := func(when, cpuKey, memKey string) {
				t.Helper()
				wq, wm := want(cpuKey, memKey)
				if got := quota(); got != wq {
					t.Errorf("%s: cpu quota file %q, want %q", when, got, wq)
				}
				if got := memory(); got != wm {
					t.Errorf("%s: memory limit file %q, want %q", when, got, wm)
				}
			}
			check("start limits", "0.5", "256M")

			uncapped, err := p.Limit(scavenger.Limits{})
			if err != nil {
				t.Fatalf("Limit(none): %v", err)
			}
			check("no caps", "cpu none", "mem none")
			before := cpuUse(t, p.Pid(), time.Second)

			how, err := p.Limit(scavenger.Limits{CPUs: 0.1})
			if err != nil {
				t.Fatalf("Limit(0.1 cores): %v", err)
			}
			check("share caps", "0.1", "mem none")
			time.Sleep(200 * time.Millisecond) // the quota period under way ends
			after := cpuUse(t, p.Pid(), time.Second)
			t.Logf("busy guest: %.2f cores uncapped (%q), %.2f cores capped (%q)", before, uncapped, after, how)

			wantHow := map[bool]string{
				true:  "cgroup cpu quota 0.10 cores, memory uncapped",
				false: "no cgroup: idle priority (nice 19, SCHED_IDLE) only, memory not capped",
			}[v != 0]
			if v == 2 && !hasCPU {
				wantHow = "cgroup without cpu controller: idle priority (nice 19, SCHED_IDLE) only, memory not capped (no memory controller)"
			}
			if how != wantHow {
				t.Errorf("Limit how = %q, want %q", how, wantHow)
			}
			if hasCPU && after > 0.25 {
				t.Errorf("guest capped at 0.1 cores used %.2f cores", after)
			}
			if hasCPU && before < 0.3 {
				t.Logf("the uncapped guest got only %.2f cores (a busy machine): the drop is not shown", before)
			}
		})
	}
}

func TestLimitRefusesNonsense(t *testing.T) {
	e, _, _ := newControlled(t, cgModes[0], executor.Options{})
	for _, cpus := range []float64{-1, math.NaN(), math.Inf(1)} {
		_, err := e.Start(t.Context(), scavenger.ExecSpec{Argv: []string{"true"}, Dir: taskDir(t), Env: []string{guestPATH},
			Limits: scavenger.Limits{CPUs: cpus}})
		if err == nil || !strings.Contains(err.Error(), "CPUs") {
			t.Errorf("Start with %v CPUs = %v, want an error about CPUs", cpus, err)
		}
	}
	p := start(t, e, scavenger.ExecSpec{Argv: []string{"sleep", "100"}, Dir: taskDir(t), Env: []string{guestPATH}})
	if _, err := p.Limit(scavenger.Limits{CPUs: -0.5}); err == nil {
		t.Error("Limit(-0.5 cores) succeeded")
	}
}

func TestControlAfterExit(t *testing.T) {
	for _, m := range cgModes {
		t.Run(m.name, func(t *testing.T) {
			e, _, _ := newControlled(t, m, executor.Options{})
			r := start(t, e, scavenger.ExecSpec{Argv: []string{"true"}, Dir: taskDir(t), Env: []string{guestPATH}})
			waitFor(t, r)
			if _, err := r.Freeze(); !errors.Is(err, os.ErrProcessDone) {
				t.Errorf("Freeze after exit = %v, want os.ErrProcessDone", err)
			}
			if _, err := r.Limit(scavenger.Limits{CPUs: 1}); !errors.Is(err, os.ErrProcessDone) {
				t.Errorf("Limit after exit = %v, want os.ErrProcessDone", err)
			}
			if err := r.Stop(0); err != nil {
				t.Errorf("Stop after exit: %v", err)
			}
		})
	}
}

func TestMemoryCapKills(t *testing.T) {
	for _, m := range cgModes[:2] {
		t.Run(m.name, func(t *testing.T) {
			e, _, _ := newControlled(t, m, executor.Options{})
			if _, hasMemory, _ := executor.CgroupControllers(e); !hasMemory {
				if mounts, _ := executor.CgroupMounts(); m.name == "cgroup-v2" && mounts["memory"] != "" {
					t.Skip("on this hybrid machine the memory controller is with cgroup v1: the cgroup mode tests the cap")
				}
				requirement(t, "no memory controller in this cgroup hierarchy")
			}
			var out strings.Builder
			p := start(t, e, scavenger.ExecSpec{
				// The shell keeps the whole 200 MB in memory.
				Argv:   []string{"sh", "-c", `x=$(head -c 200000000 /dev/zero | tr '\0' a); echo survived ${#x}`},
				Dir:    taskDir(t),
				Env:    []string{guestPATH},
				Stdout: &out,
				Limits: scavenger.Limits{MemoryBytes: 32 << 20},
			})
			st := waitFor(t, p)
			if want := "killed (memory limit 32 MiB)"; st.Signal != want {
				t.Errorf("guest over its memory cap ended by %q (status %+v, output %q), want %q", st.Signal, st, out.String(), want)
			}
		})
	}
}
