package cli

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// The benchmarks run the same code as `scavenge bench` with small sizes:
//
//	go test -bench . -run '^$' ./cmd/scavenge/cli
//
// Each iteration builds its own swarm, so ns/op is mostly setup; the
// figures that matter are the reported metrics.

func benchLogger(b *testing.B) *slog.Logger {
	return slog.New(slog.NewTextHandler(b.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func BenchmarkDispatch(b *testing.B) {
	var r *dispatchResult
	for b.Loop() {
		var err error
		if r, err = measureDispatch(b.Context(), benchLogger(b), 50); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(r.Started.P50, "start-p50-ms")
	b.ReportMetric(r.Started.P99, "start-p99-ms")
	b.ReportMetric(r.Output.P50, "output-p50-ms")
	b.ReportMetric(r.Output.P99, "output-p99-ms")
}

func BenchmarkThroughput(b *testing.B) {
	var r *throughputResult
	for b.Loop() {
		var err error
		if r, err = measureThroughput(b.Context(), benchLogger(b), 100, 4, 8); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(r.TasksPerSec, "tasks/s")
	b.ReportMetric(r.Local.TasksPerSec, "local-tasks/s")
}

func BenchmarkDiscovery(b *testing.B) {
	for _, m := range []struct {
		name     string
		noPubsub bool
	}{{"pubsub+dht", false}, {"dht-only", true}} {
		b.Run(m.name, func(b *testing.B) {
			var r discoveryMode
			for b.Loop() {
				var err error
				if r, err = measureDiscovery(b.Context(), benchLogger(b), 10, 2, time.Minute, m.noPubsub); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(r.SeeAll.P50, "see-all-p50-ms")
			b.ReportMetric(r.FormedSeconds*1000, "formed-ms")
		})
	}
}

func TestSummarize(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var ds []time.Duration
		for _, x := range v {
			ds = append(ds, time.Duration(x)*time.Millisecond)
		}
		return ds
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i // 100..1, unsorted
	}
	tests := []struct {
		name string
		in   []time.Duration
		want latency
	}{
		{"empty", nil, latency{}},
		{"one", ms(7), latency{N: 1, Min: 7, P50: 7, P90: 7, P99: 7, Max: 7, Mean: 7}},
		{"four", ms(4, 1, 3, 2), latency{N: 4, Min: 1, P50: 2, P90: 4, P99: 4, Max: 4, Mean: 2.5}},
		{"hundred", ms(hundred...), latency{N: 100, Min: 1, P50: 50, P90: 90, P99: 99, Max: 100, Mean: 50.5}},
	}
	for _, tt := range tests {
		if got := summarize(tt.in); got != tt.want {
			t.Errorf("%s: summarize = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestBenchUsage(t *testing.T) {
	tests := []struct {
		args     []string
		wantCode int
		wantErr  string
	}{
		{nil, exitUsage, "usage: scavenge bench"},
		{[]string{"-h"}, exitOK, "usage: scavenge bench"},
		{[]string{"speed"}, exitUsage, `unknown benchmark "speed"`},
		{[]string{"dispatch", "--n", "0"}, exitUsage, "--n 0"},
		{[]string{"throughput", "--donors", "0"}, exitUsage, "--donors 0"},
		{[]string{"discovery", "--peers", "x"}, exitUsage, "invalid value"},
		{[]string{"discovery", "--mode", "carrier-pigeon"}, exitUsage, `--mode "carrier-pigeon"`},
		{[]string{"dispatch", "extra"}, exitUsage, `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			code := runBench(t.Context(), tt.args, &out, &errb)
			if code != tt.wantCode || !strings.Contains(errb.String(), tt.wantErr) {
				t.Errorf("runBench(%q) = %d, stderr %q; want %d and %q", tt.args, code, errb.String(), tt.wantCode, tt.wantErr)
			}
		})
	}
}

// TestBenchCommands runs each benchmark command once at a tiny size and
// checks that its figures are there and consistent (never how fast).
func TestBenchCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("starts in-process swarms")
	}
	t.Run("dispatch", func(t *testing.T) {
		var r dispatchResult
		runBenchJSON(t, &r, "dispatch", "--n", "5")
		if r.Tasks != 5 || r.Started.N != 5 || r.Output.N != 5 || r.Finished.N != 5 {
			t.Errorf("counts: %+v, want 5 of each", r)
		}
		if r.Started.Min <= 0 || r.Started.P50 > r.Finished.P50 || r.Output.Max > r.Finished.Max {
			t.Errorf("events out of order: started %+v, output %+v, finished %+v", r.Started, r.Output, r.Finished)
		}
	})
	t.Run("throughput", func(t *testing.T) {
		var r throughputResult
		runBenchJSON(t, &r, "throughput", "--tasks", "20", "--donors", "2")
		if r.Tasks != 20 || r.Donors != 2 || r.TasksPerSec <= 0 || r.Local.TasksPerSec <= 0 {
			t.Errorf("result %+v: want 20 tasks, 2 donors, rates above zero", r)
		}
	})
	t.Run("discovery", func(t *testing.T) {
		var r discoveryResult
		runBenchJSON(t, &r, "discovery", "--peers", "3", "--rounds", "1")
		if len(r.Modes) != 2 {
			t.Fatalf("%d modes, want 2", len(r.Modes))
		}
		for _, m := range r.Modes {
			if !m.Formed || m.FormedSeen != 2 {
				t.Errorf("%s: formed %v, first peer saw %d, want true and 2", m.Mode, m.Formed, m.FormedSeen)
			}
			if m.SeeAll.N != 1 || m.SeeAll.Min <= 0 || len(m.Rounds) != 1 || m.Rounds[0].Seen != 3 {
				t.Errorf("%s: %+v, rounds %+v, want one positive time, all 3 peers seen", m.Mode, m.SeeAll, m.Rounds)
			}
		}
	})
}

// runBenchJSON runs `scavenge bench args... --json` and decodes its output
// into v, failing the test on a non-zero exit.
func runBenchJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	var out bytes.Buffer
	code := runBench(t.Context(), append(args, "--json", "-v"), &out, t.Output())
	t.Logf("scavenge bench %s:\n%s", strings.Join(args, " "), out.String())
	if code != exitOK {
		t.Fatalf("exit code %d, want 0", code)
	}
	if err := json.Unmarshal(out.Bytes(), v); err != nil {
		t.Fatalf("decode output: %v", err)
	}
}
