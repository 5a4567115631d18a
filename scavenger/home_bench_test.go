package scavenger

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
)

// Benchmarks of the home side on the in-process mesh (no network): what
// dispatch itself costs, apart from libp2p.

// BenchmarkSubmitToStart measures one job at a time from Submit to the
// donor's Started, and reports the median and 99th percentile.
func BenchmarkSubmitToStart(b *testing.B) {
	home := benchNodes(b, 1)
	var lat []time.Duration
	for b.Loop() {
		start := time.Now()
		id, err := home.e.Submit(b.Context(), SubmitRequest{Argv: []string{"true"}, OutDir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		ch, err := home.e.Watch(b.Context(), id)
		if err != nil {
			b.Fatal(err)
		}
		for ev := range ch {
			if ev.Type == EventStarted {
				lat = append(lat, time.Since(start))
			}
		}
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkTinyTaskThroughput submits b.N `true` jobs at once to 4 donors
// and reports tasks finished per second.
func BenchmarkTinyTaskThroughput(b *testing.B) {
	home := benchNodes(b, 4)
	out := b.TempDir()
	b.ResetTimer()
	start := time.Now()
	// Submitted by several clients at once, as from a script running
	// `scavenge submit --detach` in parallel.
	ids := make([]string, b.N)
	var g errgroup.Group
	g.SetLimit(8)
	for i := range b.N {
		g.Go(func() (err error) {
			ids[i], err = home.e.Submit(b.Context(), SubmitRequest{Argv: []string{"true"}, OutDir: out})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
	submitted := time.Since(start)
	for _, id := range ids {
		ch, err := home.e.Watch(b.Context(), id)
		if err != nil {
			b.Fatal(err)
		}
		for ev := range ch {
			if ev.Type == EventFinished && ev.Job.State != StateDone {
				b.Fatalf("job %s: %s %s", id, ev.Job.State, ev.Job.Reason)
			}
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "tasks/s")
	b.ReportMetric(float64(submitted.Microseconds())/1000/float64(b.N), "submit-ms/op")
}

// BenchmarkSubmitSameInput submits jobs sharing one 44 MB input, as a
// parameter sweep over one data file does, and reports the time of Submit
// (which hashes the inputs unless it knows them). No donor takes the jobs.
func BenchmarkSubmitSameInput(b *testing.B) {
	home := startNode(b, "home", Options{Logger: slog.New(slog.DiscardHandler)})
	// The file counts as written long ago, as a real input usually is.
	home.e.home.hashes.now = func() time.Time { return time.Now().Add(time.Hour) }
	in := filepath.Join(b.TempDir(), "data.bin")
	if err := os.WriteFile(in, bytes.Repeat([]byte("0123456789abcdef"), 44<<20/16), 0o644); err != nil {
		b.Fatal(err)
	}
	out := b.TempDir()
	for b.Loop() {
		if _, err := home.e.Submit(b.Context(), SubmitRequest{Argv: []string{"wc", "-c", "data.bin"}, Inputs: []string{in}, OutDir: out}); err != nil {
			b.Fatal(err)
		}
	}
}

// benchNodes starts a home linked to donors with 4 slots each, all logging
// nowhere, and waits until the home sees every donor idle.
func benchNodes(b *testing.B, donors int) *node {
	quiet := slog.New(slog.DiscardHandler)
	home := startNode(b, "home", Options{Logger: quiet})
	for i := range donors {
		opts := donating()
		opts.CPUs = 4
		linkNodes(home, startNode(b, fmt.Sprintf("donor-%d", i), Options{Logger: quiet, Donor: opts}))
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(home.e.Peers()) < donors {
		if time.Now().After(deadline) {
			b.Fatal("donors not seen")
		}
		time.Sleep(time.Millisecond)
	}
	return home
}
