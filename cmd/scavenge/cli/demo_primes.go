package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"
)

// runPrimes is the demo's guest program: `scavenge demo-primes LO HI` prints
// how many primes lie in [LO, HI). The demo ships this very executable to the
// donors as a task input, so the guest needs nothing installed and nothing
// readable outside its task directory. It stops when ctx ends: main cancels
// ctx on SIGTERM, which is how a donor asks a guest to stop.
func runPrimes(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) != 2 {
		fmt.Fprintln(stderr, "usage: scavenge demo-primes LO HI")
		return 2
	}
	lo, err := strconv.ParseUint(args[0], 10, 64)
	if err != nil {
		fmt.Fprintf(stderr, "demo-primes: LO: %v\n", err)
		return 2
	}
	hi, err := strconv.ParseUint(args[1], 10, 64)
	if err != nil {
		fmt.Fprintf(stderr, "demo-primes: HI: %v\n", err)
		return 2
	}
	if hi > maxPrimesRange {
		fmt.Fprintf(stderr, "demo-primes: HI %d is above %d\n", hi, uint64(maxPrimesRange))
		return 2
	}
	n, err := countPrimes(ctx, lo, hi)
	if err != nil {
		fmt.Fprintf(stderr, "demo-primes: stopped: %v\n", err)
		return exitInterrupted
	}
	fmt.Fprintln(stdout, n)
	return exitOK
}

// maxPrimesRange keeps p*p and the segment arithmetic far from overflow and
// the base-prime table small (sqrt(1e15) ≈ 3.2e7 flags).
const maxPrimesRange = 1e15

// countPrimes counts the primes in [lo, hi) with a segmented sieve of
// Eratosthenes: base primes up to sqrt(hi), then the range in fixed blocks,
// so memory stays small whatever the width and the work is nearly linear in
// it (equal-width ranges make equal-length tasks). It checks ctx between
// blocks and returns its error once it ends.
func countPrimes(ctx context.Context, lo, hi uint64) (uint64, error) {
	lo = max(lo, 2)
	if hi <= lo {
		return 0, nil
	}
	root := uint64(1)
	for root*root < hi {
		root++
	}
	composite := make([]bool, root+1)
	var base []uint64
	for i := uint64(2); i <= root; i++ {
		if composite[i] {
			continue
		}
		base = append(base, i)
		for j := i * i; j <= root; j += i {
			composite[j] = true
		}
	}
	const block = 1 << 18 // fits in L2 cache
	seg := make([]bool, block)
	var n uint64
	for start := lo; start < hi; start += block {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		end := min(start+block, hi)
		clear(seg)
		for _, p := range base {
			if p*p >= end {
				break
			}
			first := max(p*p, (start+p-1)/p*p)
			for j := first; j < end; j += p {
				seg[j-start] = true
			}
		}
		for _, c := range seg[:end-start] {
			if !c {
				n++
			}
		}
	}
	return n, nil
}
