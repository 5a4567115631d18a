package sensor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"time"

	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/process"
)

// cpuMeter measures the owner's share of the processors between two reads:
// the machine's busy time minus what the guests' process trees used, over
// the machine's total time on all cores.
type cpuMeter struct {
	exclude func() []int
	log     *slog.Logger
	prev    *cpuSample // nil until a measurement succeeds
	last    float64    // the last load computed, repeated when an interval is too short
	lastOK  bool
}

// cpuSample is one measurement. Times are CPU-seconds since boot, summed over
// all cores.
type cpuSample struct {
	at          time.Time
	busy, total float64
	// guests is the CPU time used by each excluded process tree, by root.
	guests map[procKey]float64
}

// procKey names a process; the start time tells a reused PID apart.
type procKey struct {
	pid     int32
	started int64 // milliseconds since the Unix epoch
}

func newCPUMeter(ctx context.Context, exclude func() []int, log *slog.Logger) *cpuMeter {
	m := &cpuMeter{exclude: exclude, log: log}
	if s, err := m.measure(ctx); err != nil {
		log.Warn("first CPU measurement failed; will retry on read", "err", err)
	} else {
		m.prev = s
	}
	return m
}

// read returns the owner's load since the previous read; ok is false until
// there is an interval to measure.
func (m *cpuMeter) read(ctx context.Context) (load float64, ok bool, err error) {
	cur, err := m.measure(ctx)
	if err != nil {
		return 0, false, err
	}
	if m.prev == nil {
		m.prev = cur
		return 0, false, nil
	}
	load, ok = ownerLoad(m.prev, cur)
	if !ok {
		// Reads closer together than the kernel's accounting tick see no
		// time pass: keep the old baseline and repeat the last answer.
		return m.last, m.lastOK, nil
	}
	m.prev, m.last, m.lastOK = cur, load, true
	return load, true, nil
}

// ownerLoad is the owner's share of all cores between two samples. A guest
// tree seen for the first time counts in full if its root started during the
// interval; one that was already running (say, the daemon restarted) counts
// from the next interval, since how much of its time fell in this one is
// unknown.
func ownerLoad(prev, cur *cpuSample) (float64, bool) {
	total := cur.total - prev.total
	if total <= 0 {
		return 0, false
	}
	busy := cur.busy - prev.busy
	var guest float64
	for k, used := range cur.guests {
		if before, seen := prev.guests[k]; seen {
			// A tree's total can shrink when a member exits unreaped by
			// the tree; never let that make the guests' use negative.
			guest += max(used-before, 0)
		} else if k.started >= prev.at.UnixMilli() {
			guest += used
		}
	}
	return min(max((busy-guest)/total, 0), 1), true
}

func (m *cpuMeter) measure(ctx context.Context) (*cpuSample, error) {
	s := &cpuSample{at: time.Now()}
	ts, err := cpu.TimesWithContext(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("machine CPU times: %w", err)
	}
	if len(ts) == 0 {
		return nil, errors.New("machine CPU times: none reported")
	}
	s.busy, s.total = busyTotal(ts[0])
	if s.guests, err = m.guestTimes(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// busyTotal splits the machine's CPU times the way gopsutil's cpu.Percent
// does: on Linux, user time already includes the time of virtual machines
// run on this one, so guest time is not added twice. Waiting for disk is
// idle time; stolen time counts as busy, because the owner cannot use it.
func busyTotal(t cpu.TimesStat) (busy, total float64) {
	total = t.User + t.System + t.Idle + t.Nice + t.Iowait + t.Irq + t.Softirq + t.Steal
	if runtime.GOOS != "linux" {
		total += t.Guest + t.GuestNice
	}
	return total - t.Idle - t.Iowait, total
}

// guestTimes sums the CPU time of each excluded process and its descendants.
// A process under two excluded roots counts once, under the lowest PID.
func (m *cpuMeter) guestTimes(ctx context.Context) (map[procKey]float64, error) {
	if m.exclude == nil {
		return nil, nil
	}
	roots := m.exclude()
	if len(roots) == 0 {
		return nil, nil
	}
	table, err := processTable(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing processes: %w", err)
	}
	slices.Sort(roots)
	out := make(map[procKey]float64, len(roots))
	counted := make(map[int32]bool)
	for _, r := range slices.Compact(roots) {
		root := int32(r)
		if counted[root] {
			continue
		}
		started, err := (&process.Process{Pid: root}).CreateTimeWithContext(ctx)
		if err != nil {
			m.log.Debug("excluded process is gone", "pid", root, "err", err)
			continue
		}
		var used float64
		for queue := []int32{root}; len(queue) > 0; {
			pid := queue[0]
			queue = queue[1:]
			if counted[pid] {
				continue
			}
			counted[pid] = true
			if t, err := table.cpuOf(ctx, pid); err == nil {
				used += t
			}
			queue = append(queue, table.children[pid]...)
		}
		out[procKey{root, started}] = used
	}
	return out, nil
}

// procTable is one look at the process table.
type procTable struct {
	children map[int32][]int32 // by parent
	// cpu is each process's CPU time in seconds, when the look took it
	// (Linux, in the same pass); otherwise it is asked per process.
	cpu map[int32]float64
}

func (t procTable) cpuOf(ctx context.Context, pid int32) (float64, error) {
	if t.cpu == nil {
		return processCPU(ctx, pid)
	}
	used, ok := t.cpu[pid]
	if !ok {
		return 0, fmt.Errorf("process %d: gone", pid)
	}
	return used, nil
}
