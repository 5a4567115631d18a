package sensor

import (
	"context"
	"log/slog"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// Sampling as the daemon does: a Read a second, here for costWindow.
const (
	costPeriod = time.Second
	costWindow = 5 * time.Second
)

// BenchmarkSensorIdleCost measures what watching an idle machine costs the
// daemon: the process's CPU time (getrusage, so the runtime's own work
// counts too) over wall time while the sensor is read once a second and
// its evdev readers and logind listener wait. Goal: under 1% of one core.
//
//	go test -run XXX -bench BenchmarkSensorIdleCost ./policy/sensor/
//
// "machine" is the sensor exactly as the daemon makes it, with whatever
// this machine has; "machine-with-guest" excludes a guest's CPU, which
// costs a look at the process table; "all-sources" adds four idle evdev devices (FIFOs)
// and logind on a private bus, so that every source is paid for even on a
// machine without them.
func BenchmarkSensorIdleCost(b *testing.B) {
	b.Run("machine", func(b *testing.B) {
		benchIdleCost(b, Options{})
	})
	b.Run("machine-with-guest", func(b *testing.B) {
		// A guest running: each Read also sums its process tree's CPU.
		guest := exec.Command("sleep", "3600")
		if err := guest.Start(); err != nil {
			b.Fatal(err)
		}
		defer func() { guest.Process.Kill(); guest.Wait() }()
		benchIdleCost(b, Options{ExcludePIDs: func() []int { return []int{guest.Process.Pid} }})
	})
	b.Run("all-sources", func(b *testing.B) {
		addr := privateBus(b)
		startFakeLogind(b, addr, true, time.Now().Add(-time.Hour))
		input := b.TempDir()
		for _, name := range []string{"event0", "event1", "event3", "event4"} {
			plugFIFO(b, input, name)
		}
		benchIdleCost(b, Options{evdevDir: input, evdevProbe: probeByName(testDevices), logindBus: addr})
	})
}

func benchIdleCost(b *testing.B, o Options) {
	o.Logger = slog.New(slog.DiscardHandler)
	m := New(o)
	defer m.Close()
	ctx := context.Background()
	r, err := m.Read(ctx) // the daemon's first sample, outside the measure
	b.Logf("sources: input known=%v from %q, err %v", r.InputKnown, r.InputSource, err)

	b.ResetTimer()
	cpu0, start := cpuTime(b), time.Now()
	var reads int
	var readTime time.Duration
	tick := time.NewTicker(costPeriod)
	defer tick.Stop()
	for time.Since(start) < costWindow {
		<-tick.C
		t0 := time.Now()
		if _, err := m.Read(ctx); err != nil {
			b.Fatalf("Read: %v", err)
		}
		readTime += time.Since(t0)
		reads++
	}
	used, wall := cpuTime(b)-cpu0, time.Since(start)
	b.StopTimer()
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(100*used.Seconds()/wall.Seconds(), "%core")
	b.ReportMetric(float64(readTime.Microseconds())/float64(reads), "µs/Read")
	b.ReportMetric(float64(reads), "reads")
}

// cpuTime is the CPU time, user and system, the process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
