package sensor

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shirou/gopsutil/v4/cpu"
)

// The test binary doubles as the processes the CPU tests watch: a guest
// burning a core, a parent that only waits for one, and a relay that keeps
// starting short-lived burners, like a build starting compilers.
const roleEnv = "SENSOR_TEST_ROLE"

func TestMain(m *testing.M) {
	switch os.Getenv(roleEnv) {
	case "burn":
		// Stop when the test closes stdin (or dies), never outliving it.
		go func() { io.Copy(io.Discard, os.Stdin); os.Exit(0) }()
		for {
		}
	case "parent":
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), roleEnv+"=burn")
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "parent:", err)
			os.Exit(1)
		}
		os.Exit(0)
	case "relay":
		// After each burner, print the CPU time all of them used, as the
		// kernel reported it to this parent on reaping them.
		go func() { io.Copy(io.Discard, os.Stdin); os.Exit(0) }()
		var used time.Duration
		for {
			cmd := exec.Command(os.Args[0])
			cmd.Env = append(os.Environ(), roleEnv+"=burn-briefly")
			if err := cmd.Run(); err != nil {
				fmt.Fprintln(os.Stderr, "relay:", err)
				os.Exit(1)
			}
			used += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
			fmt.Println(used.Seconds())
		}
	case "burn-briefly":
		for end := time.Now().Add(50 * time.Millisecond); time.Now().Before(end); {
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// startRole runs the test binary in a role, its output going to stdout (the
// test's log if nil); it stops when the test ends.
func startRole(t *testing.T, role string, stdout io.Writer) int {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), roleEnv+"="+role)
	cmd.Stdout, cmd.Stderr = cmp.Or(stdout, t.Output()), t.Output()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close() // the burner, even a grandchild, exits on EOF
		cmd.Wait()
	})
	return cmd.Process.Pid
}

// TestOwnerCPUExcludesGuests burns a core in a child process: a sensor that
// does not know it is a guest sees the load as the owner's, one told its PID
// (or its parent's) does not, over the same intervals.
func TestOwnerCPUExcludesGuests(t *testing.T) {
	tests := []struct {
		name        string
		role        string // "burn": the guest burns itself; "parent": its child burns
		startBefore bool   // the guest runs before the sensors take their first sample
	}{
		{"guest burns, running before the sensor", "burn", true},
		{"guest's child burns, started after the sensor", "parent", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var guest atomic.Int64
			if tt.startBefore {
				guest.Store(int64(startRole(t, tt.role, nil)))
			}
			log := testLogger(t)
			plain := New(Options{Logger: log.With("sensor", "plain")})
			excl := New(Options{Logger: log.With("sensor", "excluding"), ExcludePIDs: func() []int {
				if pid := guest.Load(); pid != 0 {
					return []int{int(pid)}
				}
				return nil
			}})
			t.Cleanup(func() { plain.Close(); excl.Close() })
			if !tt.startBefore {
				guest.Store(int64(startRole(t, tt.role, nil)))
			}
			// The machine may be busy with other work, leaving the burner
			// a small share of a core. Six percent of one core, over reads
			// a second apart, stays well above the kernel's 10 ms ticks.
			minGap := 0.06 / float64(numCPU(t))
			ctx := context.Background()
			// Start both measurements afresh together: the intervals since
			// New differ, and a short one is all rounding.
			plain.Read(ctx)
			excl.Read(ctx)
			waitFor(t, 20*time.Second, time.Second, func() (bool, string) {
				rp, err := plain.Read(ctx)
				if err != nil {
					t.Fatalf("plain Read: %v", err)
				}
				re, err := excl.Read(ctx)
				if err != nil {
					t.Fatalf("excluding Read: %v", err)
				}
				status := fmt.Sprintf("owner CPU %.3f without exclusion, %.3f excluding the guest; want a gap of %.3f",
					rp.OwnerCPU, re.OwnerCPU, minGap)
				t.Log(status)
				if !rp.CPUKnown || !re.CPUKnown {
					return false, status
				}
				// Both measure nearly the same interval, give or take a tick.
				if re.OwnerCPU > rp.OwnerCPU+minGap {
					t.Fatalf("%s: excluding a guest raised the owner's load", status)
				}
				return rp.OwnerCPU-re.OwnerCPU >= minGap, status
			})
		})
	}
}

// TestGuestTimesCountsExitedChildren runs a guest that keeps starting
// short-lived burners, as a build starts compilers. Most of them live and die
// between two reads, so only the time the kernel adds to their parent when it
// reaps them shows them: the guest's total must cover every burner the
// parent has reaped.
func TestGuestTimesCountsExitedChildren(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the CPU time of exited children is read from Linux's /proc only")
	}
	pr, pw := io.Pipe()
	t.Cleanup(func() { pr.Close() })
	pid := startRole(t, "relay", pw)
	var reaped atomic.Uint64 // float64 bits: CPU seconds of the burners reaped so far
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if f, err := strconv.ParseFloat(sc.Text(), 64); err == nil {
				reaped.Store(math.Float64bits(f))
			}
		}
	}()
	m := &cpuMeter{exclude: func() []int { return []int{pid} }, log: testLogger(t)}
	waitFor(t, 60*time.Second, 100*time.Millisecond, func() (bool, string) {
		before := math.Float64frombits(reaped.Load())
		guests, err := m.guestTimes(context.Background())
		if err != nil {
			t.Fatalf("guestTimes: %v", err)
		}
		var got float64
		for _, used := range guests {
			got += used
		}
		status := fmt.Sprintf("guest tree used %.3f s; its exited burners alone %.3f s", got, before)
		// Ticks round each read down by up to 10 ms.
		if got < before-0.02 {
			t.Fatalf("%s: exited children were lost", status)
		}
		// Wait until enough burners have come and gone for the check to
		// mean something.
		return before >= 0.15, status
	})
}

func numCPU(t *testing.T) int {
	n, err := cpu.Counts(true)
	if err != nil || n < 1 {
		t.Fatalf("counting CPUs: %d, %v", n, err)
	}
	return n
}

func TestOwnerLoad(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	old := procKey{pid: 100, started: t0.Add(-time.Hour).UnixMilli()}
	fresh := procKey{pid: 200, started: t0.Add(time.Second).UnixMilli()}
	reused := procKey{pid: 100, started: t0.Add(2 * time.Second).UnixMilli()}
	prev := &cpuSample{at: t0, busy: 100, total: 1000, guests: map[procKey]float64{old: 50}}
	tests := []struct {
		name   string
		cur    *cpuSample
		want   float64
		wantOK bool
	}{
		{"no time passed", &cpuSample{at: t0, busy: 100, total: 1000}, 0, false},
		{"counter went back", &cpuSample{busy: 90, total: 900}, 0, false},
		{"idle machine", &cpuSample{busy: 100, total: 1010}, 0, true},
		{"owner alone", &cpuSample{busy: 106, total: 1010}, 0.6, true},
		{"guest seen before", &cpuSample{busy: 108, total: 1010, guests: map[procKey]float64{old: 55}}, 0.3, true},
		{"guest started in the interval counts in full", &cpuSample{busy: 108, total: 1010, guests: map[procKey]float64{old: 50, fresh: 4}}, 0.4, true},
		{"reused pid is a new guest", &cpuSample{busy: 108, total: 1010, guests: map[procKey]float64{reused: 2}}, 0.6, true},
		{
			"guest running before it was excluded counts from next time",
			&cpuSample{busy: 108, total: 1010, guests: map[procKey]float64{{pid: 300, started: t0.Add(-time.Minute).UnixMilli()}: 500}},
			0.8, true,
		},
		{"shrinking guest tree never adds to the owner", &cpuSample{busy: 104, total: 1010, guests: map[procKey]float64{old: 40}}, 0.4, true},
		{"guests more than busy clamps to zero", &cpuSample{busy: 101, total: 1010, guests: map[procKey]float64{old: 60}}, 0, true},
		{"more busy than total clamps to one", &cpuSample{busy: 120, total: 1010}, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ownerLoad(prev, tt.cur)
			if ok != tt.wantOK || math.Abs(got-tt.want) > 1e-9 {
				t.Errorf("ownerLoad = %v, %v; want %v, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestBusyTotal(t *testing.T) {
	ts := cpu.TimesStat{User: 10, System: 5, Idle: 80, Nice: 2, Iowait: 3, Irq: 1, Softirq: 1, Steal: 2, Guest: 4, GuestNice: 1}
	busy, total := busyTotal(ts)
	// On Linux guest time is already inside user time.
	wantBusy, wantTotal := 21.0, 104.0
	if runtime.GOOS != "linux" {
		wantBusy, wantTotal = 26, 109
	}
	if busy != wantBusy || total != wantTotal {
		t.Errorf("busyTotal = %v, %v; want %v, %v", busy, total, wantBusy, wantTotal)
	}
}
