package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"time"
)

// `scavenge bench` measures the figures issue 2 sets goals for, on real
// in-process swarms (loopback TCP, private swarm key, the real executor). It
// prints figures and never judges them: timing depends on the machine.

const (
	benchSynopsis = "dispatch|throughput|discovery|reaction|bag|cache|migrate [flags]"
	benchHelp     = `Measures a swarm running in this process on 127.0.0.1 with a fresh
private swarm key, and prints what it saw:

  dispatch    submit-to-start and submit-to-first-output latency of "echo x"
              from a home to one donor, one task at a time (--n tasks)
  throughput  tiny "true" tasks from one home to --donors donors, tasks/s,
              beside the same number run here by "xargs -P <cores> -n1 true"
  discovery   how long a new peer takes to see every idle peer of a
              --peers swarm: with gossipsub and the DHT, then the DHT alone
  reaction    owner input -> guest frozen, capped or gone
  bag         a bag of tasks over several donors: makespan vs ideal
  cache       bytes sent for many tasks sharing one input
  migrate     criu migration of guests of --sizes MiB vs criu alone

Flags go after the benchmark's name; --json prints the figures as JSON.`

	// benchTimeout bounds one benchmark so a stuck swarm reports an error.
	benchTimeout = 10 * time.Minute
)

func init() {
	register(&command{
		name:     "bench",
		synopsis: benchSynopsis,
		summary:  "measure dispatch latency, throughput and discovery time",
		help:     benchHelp,
		main:     runBench,
	})
}

// benchmark is one `scavenge bench` subcommand.
type benchmark struct {
	help  string                 // what it measures, for -h
	flags func(fs *flag.FlagSet) // declares its flags
	check func() error           // validates them after parsing
	// run measures; the result is printed as text by its print method or
	// as JSON.
	run func(ctx context.Context, log *slog.Logger) (benchResult, error)
}

// benchResult is what one benchmark found.
type benchResult interface {
	print(w io.Writer)
}

func benchmarks() map[string]func() benchmark {
	return map[string]func() benchmark{
		"dispatch":   dispatchBenchmark,
		"throughput": throughputBenchmark,
		"discovery":  discoveryBenchmark,
		"reaction":   reactionBenchmark,
		"bag":        bagBenchmark,
		"cache":      cacheBenchmark,
		"migrate":    migrateBenchmark,
	}
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	usage := func(w io.Writer) {
		fs := flag.NewFlagSet("scavenge bench", flag.ContinueOnError)
		printCommandUsage(w, &command{name: "bench", synopsis: benchSynopsis, help: benchHelp}, fs)
	}
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help":
		usage(stderr)
		return exitOK
	}
	mk, ok := benchmarks()[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "scavenge bench: unknown benchmark %q: want one of %s\n", args[0], strings.Join(slices.Sorted(maps.Keys(benchmarks())), ", "))
		return exitUsage
	}
	b := mk()
	fs := flag.NewFlagSet("scavenge bench "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		printCommandUsage(fs.Output(), &command{name: "bench " + args[0], synopsis: "[flags]", help: b.help}, fs)
	}
	asJSON := fs.Bool("json", false, "print the figures as JSON")
	verbose := fs.Bool("v", false, "log what the peers do to stderr")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run to this file (go tool pprof)")
	b.flags(fs)
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "scavenge bench %s: unexpected argument %q\n", args[0], fs.Arg(0))
		return exitUsage
	}
	if err := b.check(); err != nil {
		fmt.Fprintf(stderr, "scavenge bench %s: %v\n", args[0], err)
		return exitUsage
	}
	log := slog.New(slog.DiscardHandler)
	if *verbose {
		log = slog.New(slog.NewTextHandler(stderr, nil))
	}
	ctx, cancel := context.WithTimeoutCause(ctx, benchTimeout,
		fmt.Errorf("bench %s did not finish in %s", args[0], benchTimeout))
	defer cancel()
	stopProfile, err := startCPUProfile(*cpuProfile)
	if err != nil {
		fmt.Fprintf(stderr, "scavenge bench: %v\n", err)
		return exitError
	}
	res, err := b.run(ctx, log)
	stopProfile()
	if err != nil {
		if errors.Is(err, context.Canceled) {
			fmt.Fprintln(stderr, "scavenge bench: interrupted")
			return exitInterrupted
		}
		fmt.Fprintf(stderr, "scavenge bench %s: %v\n", args[0], err)
		return exitError
	}
	if *asJSON {
		if err := writeJSON(stdout, res); err != nil {
			fmt.Fprintf(stderr, "scavenge bench: %v\n", err)
			return exitError
		}
		return exitOK
	}
	res.print(stdout)
	return exitOK
}

// startCPUProfile profiles the process into path until the returned func
// is called; an empty path profiles nothing.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// latency summarizes a sample of durations, in milliseconds for JSON.
type latency struct {
	N    int     `json:"n"`
	Min  float64 `json:"min_ms"`
	P50  float64 `json:"p50_ms"`
	P90  float64 `json:"p90_ms"`
	P99  float64 `json:"p99_ms"`
	Max  float64 `json:"max_ms"`
	Mean float64 `json:"mean_ms"`
}

// summarize computes the nearest-rank percentiles of ds.
func summarize(ds []time.Duration) latency {
	if len(ds) == 0 {
		return latency{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		return ms(s[min(max(i, 0), len(s)-1)])
	}
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return latency{
		N:    len(s),
		Min:  ms(s[0]),
		P50:  rank(0.50),
		P90:  rank(0.90),
		P99:  rank(0.99),
		Max:  ms(s[len(s)-1]),
		Mean: ms(sum / time.Duration(len(s))),
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// cells formats a latency for one table row.
func (l latency) cells() []string {
	f := func(v float64) string { return fmt.Sprintf("%.1f ms", v) }
	return []string{f(l.P50), f(l.P90), f(l.P99), f(l.Min), f(l.Max), f(l.Mean)}
}
