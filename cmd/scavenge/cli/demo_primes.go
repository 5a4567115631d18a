package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"time"

	"github.com/scavenge/scavenge/checkpoint"
)

// runPrimes is the demo's guest program: `scavenge demo-primes LO HI` prints
// how many primes lie in [LO, HI). The demo ships this very executable to the
// donors as a task input, so the guest needs nothing installed and nothing
// readable outside its task directory. It stops when ctx ends: main cancels
// ctx on SIGTERM, which is how a donor asks a guest to stop.
//
// Run with $SCAVENGE_CHECKPOINT_DIR (a job with checkpoint = "signal") it
// also follows the signal protocol of package checkpoint: asked to
// checkpoint, it saves where it is (primesStateFile), says so on stderr and
// exits 85; started again with SCAVENGE_RESUMED=1 it reads that back, says
// so on stderr and goes on. stdout is the count alone either way.
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
	p := primeProgress{Lo: lo, Hi: hi, Next: lo}
	var asked <-chan struct{}
	dir := os.Getenv(checkpoint.EnvCheckpointDir)
	if dir != "" {
		// Before any work: SIGUSR2's default action would end the
		// process without saving.
		var stop func()
		asked, stop = checkpointRequests(ctx, dir)
		defer stop()
		if os.Getenv(checkpoint.EnvResumed) == "1" {
			if p, err = loadPrimes(dir, lo, hi); err != nil {
				fmt.Fprintf(stderr, "demo-primes: resume: %v\n", err)
				return exitError
			}
			fmt.Fprintf(stderr, "demo-primes: %s\n", p.words("resumed"))
		}
	}
	err = p.count(ctx, asked)
	switch {
	case errors.Is(err, errCheckpointAsked):
		if err := p.save(dir); err != nil {
			fmt.Fprintf(stderr, "demo-primes: checkpoint: %v\n", err)
			return exitError
		}
		fmt.Fprintf(stderr, "demo-primes: %s\n", p.words("saved"))
		return checkpoint.ExitCheckpointed
	case err != nil:
		fmt.Fprintf(stderr, "demo-primes: stopped: %v\n", err)
		return exitInterrupted
	}
	fmt.Fprintln(stdout, p.Count)
	return exitOK
}

// primesStateFile is what demo-primes saves in its checkpoint folder.
const primesStateFile = "primes.json"

// primeProgress is how far a count of the primes in [Lo, Hi) has got: the
// primes below Next are Count. It is the whole state of demo-primes, which
// is why its checkpoints are a few bytes.
type primeProgress struct {
	Lo    uint64 `json:"lo"`
	Hi    uint64 `json:"hi"`
	Next  uint64 `json:"next"`
	Count uint64 `json:"count"`
}

// errCheckpointAsked ends a count that was asked to stop and save.
var errCheckpointAsked = errors.New("checkpoint asked")

// words describes p for stderr, as `<what> at NEXT of [LO, HI): COUNT
// primes so far`; the demo reads it back (parsePrimesLine).
func (p primeProgress) words(what string) string {
	return fmt.Sprintf("%s at %d of [%d, %d): %d primes so far", what, p.Next, p.Lo, p.Hi, p.Count)
}

// parsePrimesLine reads a line that words wrote; ok is false for any
// other line.
func parsePrimesLine(line string) (what string, p primeProgress, ok bool) {
	n, err := fmt.Sscanf(line, "demo-primes: %s at %d of [%d, %d): %d primes so far", &what, &p.Next, &p.Lo, &p.Hi, &p.Count)
	return what, p, err == nil && n == 5
}

// save writes p into dir atomically: a temporary file, then a rename, so
// that a task stopped mid-write leaves the previous state or none.
func (p primeProgress) save(dir string) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+primesStateFile+"-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(append(b, '\n'))
	if serr := tmp.Sync(); err == nil {
		err = serr
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(dir, primesStateFile))
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("save %s: %w", filepath.Join(dir, primesStateFile), err)
	}
	return nil
}

// loadPrimes reads the state save wrote in dir, for the range [lo, hi): a
// state of another range, or one past its end, is refused.
func loadPrimes(dir string, lo, hi uint64) (primeProgress, error) {
	path := filepath.Join(dir, primesStateFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return primeProgress{}, err
	}
	var p primeProgress
	if err := json.Unmarshal(b, &p); err != nil {
		return primeProgress{}, fmt.Errorf("%s: %w", path, err)
	}
	if p.Lo != lo || p.Hi != hi {
		return primeProgress{}, fmt.Errorf("%s: saved for [%d, %d), this run counts [%d, %d)", path, p.Lo, p.Hi, lo, hi)
	}
	if p.Next < lo || (p.Next > hi && hi > lo) {
		return primeProgress{}, fmt.Errorf("%s: next %d is outside [%d, %d)", path, p.Next, lo, hi)
	}
	return p, nil
}

// checkpointRequests returns a channel that closes when the daemon asks for
// a checkpoint: RequestSignal where there is one; elsewhere (Windows) the
// request file appearing in dir, polled. stop releases the signal.
func checkpointRequests(ctx context.Context, dir string) (asked <-chan struct{}, stop func()) {
	ch := make(chan struct{})
	ctx, cancel := context.WithCancel(ctx)
	requested := func() bool {
		_, err := os.Stat(filepath.Join(dir, checkpoint.RequestFile))
		return err == nil
	}
	if checkpoint.RequestSignal != nil {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, checkpoint.RequestSignal)
		// A Go program ignores SIGUSR2 until Notify: a request that came
		// sooner left only its file.
		if requested() {
			close(ch)
			return ch, func() { cancel(); signal.Stop(sig) }
		}
		go func() {
			select {
			case <-sig:
				close(ch)
			case <-ctx.Done():
			}
		}()
		return ch, func() { cancel(); signal.Stop(sig) }
	}
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				if requested() {
					close(ch)
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch, cancel
}

// maxPrimesRange keeps p*p and the segment arithmetic far from overflow and
// the base-prime table small (sqrt(1e15) ≈ 3.2e7 flags).
const maxPrimesRange = 1e15

// countPrimes counts the primes in [lo, hi); see primeProgress.count.
func countPrimes(ctx context.Context, lo, hi uint64) (uint64, error) {
	p := primeProgress{Lo: lo, Hi: hi, Next: lo}
	if err := p.count(ctx, nil); err != nil {
		return 0, err
	}
	return p.Count, nil
}

// count goes on counting from p.Next to p.Hi with a segmented sieve of
// Eratosthenes: base primes up to sqrt(Hi), then the range in fixed blocks,
// so memory stays small whatever the width and the work is nearly linear in
// it (equal-width ranges make equal-length tasks). Between blocks it
// checks ctx, and asked: once asked is closed it returns
// errCheckpointAsked with p at a block boundary, ready to save. Blocks are
// independent, so a count that stops and goes on gives the same total.
func (p *primeProgress) count(ctx context.Context, asked <-chan struct{}) error {
	p.Next = max(p.Next, p.Lo, 2)
	if p.Hi <= p.Next {
		p.Next = max(p.Next, p.Hi)
		return nil
	}
	root := uint64(1)
	for root*root < p.Hi {
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
	// Locals, not p's fields, in the loops: the compiler keeps them in
	// registers, which halves the time of the inner count.
	next, hi, n := p.Next, p.Hi, p.Count
	defer func() { p.Next, p.Count = next, n }()
	for next < hi {
		if err := ctx.Err(); err != nil {
			return err
		}
		select {
		case <-asked:
			return errCheckpointAsked
		default:
		}
		start := next
		end := min(start+block, hi)
		clear(seg)
		for _, b := range base {
			if b*b >= end {
				break
			}
			first := max(b*b, (start+b-1)/b*b)
			for j := first; j < end; j += b {
				seg[j-start] = true
			}
		}
		for _, c := range seg[:end-start] {
			if !c {
				n++
			}
		}
		next = end
	}
	return nil
}

// done is the share of the range counted, 0 to 1.
func (p primeProgress) done() float64 {
	if p.Hi <= p.Lo {
		return 1
	}
	return float64(min(max(p.Next, p.Lo), p.Hi)-p.Lo) / float64(p.Hi-p.Lo)
}
