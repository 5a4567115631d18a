package cli

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
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
