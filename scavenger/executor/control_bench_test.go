//go:build linux

package executor_test

import (
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/scavenge/scavenge/scavenger"
	"github.com/scavenge/scavenge/scavenger/executor"
)

// busyPair is a guest of two processes spinning on the CPU.
const busyPair = "(while :; do :; done) & while :; do :; done"

// newBenchExecutor is newControlled without the per-start debug log, which
// would drown the figures.
func newBenchExecutor(b *testing.B, m cgMode) (*executor.Executor, int) {
	b.Helper()
	opts := executor.Options{CgroupParent: testCgroupParent()}
	m.options(&opts)
	e, err := executor.New(opts)
	if err != nil {
		b.Fatal(err)
	}
	v := executor.CgroupVersion(e)
	if m.cgroups && v == 0 {
		requirement(b, "no usable cgroups in mode "+m.name+": "+cgroupRequirement)
	}
	return e, v
}

// startBusy starts busyPair and waits until both processes run.
func startBusy(b *testing.B, e *executor.Executor) (scavenger.Process, []int) {
	b.Helper()
	dir := b.TempDir()
	os.Chmod(filepath.Dir(dir), 0o711)
	p, err := e.Start(b.Context(), scavenger.ExecSpec{Argv: []string{"sh", "-c", busyPair}, Dir: dir, Env: []string{guestPATH}})
	if err != nil {
		b.Fatal(err)
	}
	var pids []int
	eventually(b, "both guest processes run", func() bool {
		pids = groupPids(b, p.Pid())
		return len(pids) == 2
	})
	return p, pids
}

// reportPercentiles reports the p50 and p99 of d in milliseconds.
func reportPercentiles(b *testing.B, d []time.Duration) {
	if len(d) == 0 {
		return
	}
	slices.Sort(d)
	at := func(p int) float64 { return float64(d[min(len(d)-1, len(d)*p/100)]) / 1e6 }
	b.ReportMetric(at(50), "p50-ms")
	b.ReportMetric(at(99), "p99-ms")
	b.ReportMetric(float64(len(d)), "trials")
}

// spin polls cond as fast as it reasonably can and returns how long it
// took to hold, failing after 10 s.
func spin(b *testing.B, t0 time.Time, what string, cond func() bool) time.Duration {
	for !cond() {
		if time.Since(t0) > 10*time.Second {
			b.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Microsecond)
	}
	return time.Since(t0)
}

// BenchmarkReaction measures how long each action on a running busy guest
// takes to show: from the call to all its processes frozen (Freeze), to the
// new CPU quota in the cgroup's file (Limit), to all its processes gone
// (Stop with no grace). Run it with -benchtime 100x for 100 trials.
func BenchmarkReaction(b *testing.B) {
	for _, m := range cgModes {
		b.Run(m.name, func(b *testing.B) {
			b.Run("freeze", func(b *testing.B) { benchFreeze(b, m) })
			b.Run("limit", func(b *testing.B) { benchLimit(b, m) })
			b.Run("stop", func(b *testing.B) { benchStop(b, m) })
		})
	}
}

func benchFreeze(b *testing.B, m cgMode) {
	e, v := newBenchExecutor(b, m)
	p, pids := startBusy(b, e)
	defer p.Wait()
	defer p.Stop(0)
	frozen := func() bool { // as the kernel reports it, not as Freeze says
		for _, pid := range pids {
			if f, err := procStat(pid); err != nil || f[0] != "T" {
				return false
			}
		}
		return true
	}
	if v != 0 {
		dir := cgroupDirOf(b, v, p.Pid(), "freezer")
		frozen = func() bool { return cgroupFrozen(b, v, dir) }
	}
	var d []time.Duration
	for b.Loop() {
		t0 := time.Now()
		if _, err := p.Freeze(); err != nil {
			b.Fatal(err)
		}
		d = append(d, spin(b, t0, "the guest is frozen", frozen))
		if err := p.Thaw(); err != nil {
			b.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond) // let it run again
	}
	reportPercentiles(b, d)
}

func benchLimit(b *testing.B, m cgMode) {
	e, v := newBenchExecutor(b, m)
	if hasCPU, _, _ := executor.CgroupControllers(e); !hasCPU {
		b.Skip("no cgroup cpu controller: there is no cap to see (the guest keeps its idle priority)")
	}
	p, _ := startBusy(b, e)
	defer p.Wait()
	defer p.Stop(0)
	dir := cgroupDirOf(b, v, p.Pid(), "cpu")
	file, suffix := filepath.Join(dir, "cpu.cfs_quota_us"), ""
	if v == 2 {
		file, suffix = filepath.Join(dir, "cpu.max"), " 100000"
	}
	var d []time.Duration
	for i := 0; b.Loop(); i++ {
		cpus := 0.1 + 0.1*float64(i%2)
		want := strconv.Itoa(int(cpus*100000+0.5)) + suffix
		t0 := time.Now()
		if _, err := p.Limit(scavenger.Limits{CPUs: cpus}); err != nil {
			b.Fatal(err)
		}
		d = append(d, spin(b, t0, "the quota is "+want, func() bool { return readFile(b, file) == want }))
	}
	reportPercentiles(b, d)
}

func benchStop(b *testing.B, m cgMode) {
	e, _ := newBenchExecutor(b, m)
	var d []time.Duration
	for b.Loop() {
		p, pids := startBusy(b, e)
		t0 := time.Now()
		if err := p.Stop(0); err != nil {
			b.Fatal(err)
		}
		d = append(d, spin(b, t0, "the guest is gone", func() bool {
			return !slices.ContainsFunc(pids, func(pid int) bool { return !gone(pid) })
		}))
		if _, err := p.Wait(); err != nil {
			b.Fatal(err)
		}
	}
	reportPercentiles(b, d)
}

// ownerWorkEnv makes the test binary the owner's workload: "<rounds>,<cpu>"
// hashes a buffer rounds times on that CPU and prints the nanoseconds it
// took.
const ownerWorkEnv = "SCAVENGE_TEST_OWNER_WORK"

// ownerWork is the owner's CPU-bound program: a fixed amount of hashing,
// pinned to one CPU, timed by itself so its start-up is not counted.
func ownerWork(spec string) int {
	roundsS, cpuS, _ := strings.Cut(spec, ",")
	rounds, err1 := strconv.Atoi(roundsS)
	cpu, err2 := strconv.Atoi(cpuS)
	if err1 != nil || err2 != nil {
		fmt.Fprintf(os.Stderr, "bad %s %q\n", ownerWorkEnv, spec)
		return 2
	}
	runtime.LockOSThread() // affinity is per thread: hash on this one
	var set unix.CPUSet
	set.Set(cpu)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	buf := make([]byte, 64<<10)
	t0 := time.Now()
	for range rounds {
		sum := sha256.Sum256(buf)
		buf[0] = sum[0]
	}
	fmt.Println(time.Since(t0).Nanoseconds())
	return 0
}

// runOwner runs the owner's workload and returns how long the work took.
func runOwner(b *testing.B, rounds, cpu int) time.Duration {
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = []string{ownerWorkEnv + "=" + strconv.Itoa(rounds) + "," + strconv.Itoa(cpu)}
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("owner workload: %v", err)
	}
	ns, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		b.Fatalf("owner workload printed %q", out)
	}
	return time.Duration(ns)
}

// BenchmarkOwnerInterference times an owner's CPU-bound program pinned to
// one CPU, alone and then beside a guest in share mode (a busy loop capped at
// 0.1 cores, at idle priority) pinned to the same CPU, and reports the
// owner's speed beside the guest as a share of its speed alone (the goal is
// 98% or more). "unprotected" is the same beside an ordinary busy process,
// for scale. Run it with -benchtime 5x.
func BenchmarkOwnerInterference(b *testing.B) {
	cpu := runtime.NumCPU() - 1
	// About 300 ms of hashing alone.
	rounds := 200
	if d := runOwner(b, rounds, cpu); d > 0 {
		rounds = max(1, int(float64(rounds)*float64(300*time.Millisecond)/float64(d)))
	}
	for _, m := range append(cgModes, cgMode{name: "unprotected"}) {
		b.Run(m.name, func(b *testing.B) {
			start := func() func() { return startPlainSpinner(b, cpu) }
			if m.options != nil {
				e, _ := newBenchExecutor(b, m)
				start = func() func() { return startSharedGuest(b, e, cpu) }
			}
			var ratios []float64
			for b.Loop() {
				alone := runOwner(b, rounds, cpu)
				stop := start()
				time.Sleep(100 * time.Millisecond) // the guest gets going
				beside := runOwner(b, rounds, cpu)
				stop()
				ratios = append(ratios, float64(alone)/float64(beside))
			}
			slices.Sort(ratios)
			b.ReportMetric(100*ratios[len(ratios)/2], "owner-speed-%")
			b.ReportMetric(100*ratios[0], "worst-owner-speed-%")
		})
	}
}

// startSharedGuest starts a busy guest on cpu in share mode (0.1 cores) and
// returns how to stop it.
func startSharedGuest(b *testing.B, e *executor.Executor, cpu int) func() {
	dir := b.TempDir()
	os.Chmod(filepath.Dir(dir), 0o711)
	p, err := e.Start(b.Context(), scavenger.ExecSpec{Argv: []string{"sh", "-c", "while :; do :; done"}, Dir: dir, Env: []string{guestPATH}})
	if err != nil {
		b.Fatal(err)
	}
	pin(b, p.Pid(), cpu)
	if _, err := p.Limit(scavenger.Limits{CPUs: 0.1}); err != nil {
		b.Fatal(err)
	}
	return func() {
		p.Stop(0)
		p.Wait()
	}
}

// startPlainSpinner starts an ordinary busy process on cpu, as any program
// the owner did not ask for would be, and returns how to stop it.
func startPlainSpinner(b *testing.B, cpu int) func() {
	cmd := exec.Command("sh", "-c", "while :; do :; done")
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	pin(b, cmd.Process.Pid, cpu)
	return func() {
		cmd.Process.Kill()
		cmd.Wait()
	}
}

// pin binds process pid to cpu.
func pin(b *testing.B, pid, cpu int) {
	var set unix.CPUSet
	set.Set(cpu)
	if err := unix.SchedSetaffinity(pid, &set); err != nil {
		b.Fatalf("pin process %d to CPU %d: %v", pid, cpu, err)
	}
}
