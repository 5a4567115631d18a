package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scavenge/scavenge/checkpoint"
)

func TestCountPrimesKnown(t *testing.T) {
	// π(x) values from the literature (OEIS A006880) and small edge cases.
	tests := []struct {
		lo, hi uint64
		want   uint64
	}{
		{0, 0, 0},
		{0, 2, 0},
		{0, 3, 1},
		{2, 3, 1},
		{3, 2, 0},
		{0, 10, 4},
		{0, 100, 25},
		{0, 1_000, 168},
		{0, 1_000_000, 78_498},
		{0, 10_000_000, 664_579},
		{1_000_000, 10_000_000, 664_579 - 78_498},
		{0, 100_000_000, 5_761_455},
	}
	for _, tt := range tests {
		if got, err := countPrimes(t.Context(), tt.lo, tt.hi); err != nil || got != tt.want {
			t.Errorf("countPrimes(%d, %d) = %d, %v; want %d", tt.lo, tt.hi, got, err, tt.want)
		}
	}
}

// TestCountPrimesNaive checks the sieve against trial division on random
// ranges, including ones that straddle the sieve's block boundaries.
func TestCountPrimesNaive(t *testing.T) {
	isPrime := func(n uint64) bool {
		if n < 2 {
			return false
		}
		for d := uint64(2); d*d <= n; d++ {
			if n%d == 0 {
				return false
			}
		}
		return true
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 10 {
		lo := r.Uint64N(5_000_000)
		hi := lo + r.Uint64N(1<<19) // up to two blocks
		var want uint64
		for n := lo; n < hi; n++ {
			if isPrime(n) {
				want++
			}
		}
		if got, err := countPrimes(t.Context(), lo, hi); err != nil || got != want {
			t.Errorf("countPrimes(%d, %d) = %d, %v; trial division says %d", lo, hi, got, err, want)
		}
	}
}

// TestCountPrimesStops checks that a cancelled count stops: the guest's way
// of honouring the donor's SIGTERM.
func TestCountPrimesStops(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if n, err := countPrimes(ctx, 0, 1e12); !errors.Is(err, context.Canceled) {
		t.Errorf("countPrimes on a cancelled context = %d, %v; want context.Canceled", n, err)
	}
	var out, errb bytes.Buffer
	if code := runPrimes(ctx, []string{"0", "1000000000000"}, &out, &errb); code != exitInterrupted || out.Len() > 0 {
		t.Errorf("runPrimes on a cancelled context = %d, stdout %q; want %d and nothing", code, out.String(), exitInterrupted)
	}
}

func TestRunPrimes(t *testing.T) {
	tests := []struct {
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{[]string{"0", "100"}, 0, "25\n", ""},
		{[]string{"100", "0"}, 0, "0\n", ""},
		{[]string{"0"}, 2, "", "usage: scavenge demo-primes LO HI"},
		{[]string{"x", "100"}, 2, "", "LO:"},
		{[]string{"0", "-1"}, 2, "", "HI:"},
		{[]string{"0", "1000000000000001"}, 2, "", "is above"},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		code := runPrimes(t.Context(), tt.args, &out, &errb)
		if code != tt.wantCode || out.String() != tt.wantStdout || !strings.Contains(errb.String(), tt.wantStderr) {
			t.Errorf("runPrimes(%q) = %d, stdout %q, stderr %q; want %d, %q, %q",
				tt.args, code, out.String(), errb.String(), tt.wantCode, tt.wantStdout, tt.wantStderr)
		}
	}
}

// TestPrimesCheckpointResume runs demo-primes as a real process under the
// signal protocol, as a donor does: asked with SIGUSR2 it saves its state
// and exits 85; restarted with SCAVENGE_RESUMED=1 on that folder (moved
// elsewhere, as a migration does) it finishes with the count of an
// uninterrupted run.
func TestPrimesCheckpointResume(t *testing.T) {
	if checkpoint.RequestSignal == nil {
		t.Skip("no checkpoint signal on this OS: tasks watch the request file instead")
	}
	const lo, hi, want = 0, 1_000_000_000, 50_847_534 // π(10^9), OEIS A006880
	dir := t.TempDir()
	cmd, stdout, stderr := startPrimes(t, lo, hi, checkpoint.SignalEnv(dir, false)...)
	// Until the Go runtime has set up its handlers, SIGUSR2 would kill the
	// process; then it is ignored until demo-primes listens for it. So wait
	// for the handler, then ask until it answers. (A donor asks hundreds of
	// milliseconds in, and its request file covers the moment before
	// Notify; here the signal alone is tested.)
	waitSignalCaught(t, cmd.Process.Pid)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var err error
ask:
	for {
		if serr := cmd.Process.Signal(checkpoint.RequestSignal); serr != nil && !errors.Is(serr, os.ErrProcessDone) {
			t.Fatalf("SIGUSR2: %v", serr)
		}
		select {
		case err = <-exited:
			break ask
		case <-time.After(20 * time.Millisecond):
		}
	}
	if code := cmd.ProcessState.ExitCode(); code != checkpoint.ExitCheckpointed {
		t.Fatalf("demo-primes asked to checkpoint: %v (exit %d), want exit %d; stdout %q, stderr %q",
			err, code, checkpoint.ExitCheckpointed, stdout, stderr)
	}
	if stdout.Len() > 0 {
		t.Errorf("a checkpointed run printed %q to stdout, want nothing: the count is not final", stdout)
	}
	saved, err := loadPrimes(dir, lo, hi)
	if err != nil {
		t.Fatalf("the saved state: %v", err)
	}
	if saved.Next < lo || saved.Next >= hi {
		t.Fatalf("saved next %d, want within [%d, %d) (the run was stopped before its end)", saved.Next, lo, hi)
	}
	if n, err := countPrimes(t.Context(), lo, saved.Next); err != nil || n != saved.Count {
		t.Errorf("saved count %d below %d; an uninterrupted count says %d (%v)", saved.Count, saved.Next, n, err)
	}
	if _, p, ok := parsePrimesLine(strings.TrimSpace(stderr.String())); !ok || p != saved {
		t.Errorf("stderr %q does not describe the saved state %+v", stderr, saved)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("checkpoint folder holds %d entries, want only %s (no temporary file left)", len(ents), primesStateFile)
	}

	// Resume from a copy elsewhere, as on another donor.
	moved := filepath.Join(t.TempDir(), "moved")
	if err := os.Mkdir(moved, 0o700); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, primesStateFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(moved, primesStateFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd, stdout, stderr = startPrimes(t, lo, hi, checkpoint.SignalEnv(moved, true)...)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("resumed demo-primes: %v; stderr %q", err, stderr)
	}
	if got := strings.TrimSpace(stdout.String()); got != "50847534" {
		t.Errorf("resumed demo-primes printed %q, want %d (an uninterrupted count)", got, want)
	}
	what, p, ok := parsePrimesLine(strings.TrimSpace(stderr.String()))
	if !ok || what != "resumed" || p != saved {
		t.Errorf("resumed demo-primes said %q; want \"resumed at\" the saved state %+v", stderr, saved)
	}
}

// TestPrimesResumeRefused checks that a resumed run without its state, or
// with another range's, fails rather than count from the wrong place.
func TestPrimesResumeRefused(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(checkpoint.EnvCheckpointDir, dir)
	t.Setenv(checkpoint.EnvResumed, "1")
	var out, errb bytes.Buffer
	if code := runPrimes(t.Context(), []string{"0", "100"}, &out, &errb); code != exitError || out.Len() > 0 {
		t.Errorf("resume without a state = %d, stdout %q; want %d and nothing", code, out.String(), exitError)
	}
	if err := (primeProgress{Lo: 0, Hi: 1000, Next: 500, Count: 95}).save(dir); err != nil {
		t.Fatal(err)
	}
	errb.Reset()
	if code := runPrimes(t.Context(), []string{"0", "100"}, &out, &errb); code != exitError || !strings.Contains(errb.String(), "saved for [0, 1000)") {
		t.Errorf("resume of another range = %d, stderr %q; want %d and the ranges named", code, errb.String(), exitError)
	}
	errb.Reset()
	if code := runPrimes(t.Context(), []string{"0", "1000"}, &out, &errb); code != exitOK || out.String() != "168\n" {
		t.Errorf("resume at 500 with 95 primes = %d, stdout %q, stderr %q; want 168", code, out.String(), errb.String())
	}
}

// startPrimes starts this test binary as `demo-primes lo hi` (TestMain
// runs it) with env added.
func startPrimes(t *testing.T, lo, hi uint64, env ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "demo-primes", strconv.FormatUint(lo, 10), strconv.FormatUint(hi, 10))
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	return cmd, &stdout, &stderr
}

// waitSignalCaught waits until process pid catches SIGUSR2 (Linux: its
// SigCgt mask in /proc); elsewhere it waits a moment, which is enough for
// a Go program to start.
func waitSignalCaught(t *testing.T, pid int) {
	t.Helper()
	if runtime.GOOS != "linux" {
		time.Sleep(300 * time.Millisecond)
		return
	}
	const sigusr2 = 12 // the same on every Linux architecture Go builds for but MIPS
	status := fmt.Sprintf("/proc/%d/status", pid)
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, err := os.ReadFile(status)
		if err != nil {
			t.Fatalf("waiting for demo-primes to catch SIGUSR2: %v", err)
		}
		for line := range strings.Lines(string(b)) {
			if mask, ok := strings.CutPrefix(line, "SigCgt:"); ok {
				m, err := strconv.ParseUint(strings.TrimSpace(mask), 16, 64)
				if err == nil && m&(1<<(sigusr2-1)) != 0 {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("demo-primes (pid %d) did not catch SIGUSR2 within 30s", pid)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
