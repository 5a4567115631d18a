package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"time"

	"github.com/scavenge/scavenge/scavenger"
)

// dispatchWarmup tasks run before measuring: the first task opens the
// connection's streams and the donor's work dir and cache.
const dispatchWarmup = 3

// dispatchResult is the latency of one task at a time from Submit on the
// home to the donor's events, as the home saw them.
type dispatchResult struct {
	Tasks    int     `json:"tasks"`
	Started  latency `json:"submit_to_started"`
	Output   latency `json:"submit_to_first_output"`
	Finished latency `json:"submit_to_finished"`
}

func dispatchBenchmark() benchmark {
	var n int
	return benchmark{
		help: `Submits "echo x" from a home to one dedicated donor, one task at a time,
and prints the latency from Submit to the task's start, to its first
output and to its end (p50, p90, p99), as the home saw them.`,
		flags: func(fs *flag.FlagSet) { fs.IntVar(&n, "n", 200, "tasks to time") },
		check: func() error {
			if n < 1 {
				return fmt.Errorf("--n %d: want at least 1", n)
			}
			return nil
		},
		run: func(ctx context.Context, log *slog.Logger) (benchResult, error) {
			return measureDispatch(ctx, log, n)
		},
	}
}

// measureDispatch starts a home and one dedicated donor and submits `echo x`
// n times, each after the previous finished.
func measureDispatch(ctx context.Context, log *slog.Logger, n int) (_ *dispatchResult, err error) {
	sw, home, donors, err := benchSwarm(ctx, log, 1, 0)
	if err != nil {
		return nil, err
	}
	defer func() { err = joinClose(err, sw) }()
	if _, err := waitIdle(ctx, home, donors); err != nil {
		return nil, err
	}
	var started, output, finished []time.Duration
	for i := range dispatchWarmup + n {
		s, o, f, err := dispatchOnce(ctx, home, filepath.Join(sw.dir, "out", strconv.Itoa(i)))
		if err != nil {
			return nil, fmt.Errorf("task %d: %w", i+1, err)
		}
		if i < dispatchWarmup {
			continue
		}
		started, output, finished = append(started, s), append(output, o), append(finished, f)
	}
	return &dispatchResult{
		Tasks:    n,
		Started:  summarize(started),
		Output:   summarize(output),
		Finished: summarize(finished),
	}, nil
}

// dispatchOnce submits `echo x` and returns how long after Submit was called
// the task started, its first output arrived and it finished.
func dispatchOnce(ctx context.Context, home *inprocPeer, outDir string) (started, output, finished time.Duration, err error) {
	t0 := time.Now()
	id, err := home.eng.Submit(ctx, scavenger.SubmitRequest{
		Argv:   []string{"echo", "x"},
		OutDir: outDir,
	})
	if err != nil {
		return 0, 0, 0, fmt.Errorf("submit: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events, err := home.eng.Watch(ctx, id)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("watch job %s: %w", id, err)
	}
	for ev := range events {
		switch ev.Type {
		case scavenger.EventStarted:
			started = ev.Time.Sub(t0)
		case scavenger.EventOutput:
			if output == 0 {
				output = ev.Time.Sub(t0)
			}
		case scavenger.EventFinished:
			finished = ev.Time.Sub(t0)
			if err := checkRan(ev.Job); err != nil {
				return 0, 0, 0, fmt.Errorf("job %s: %w", id, err)
			}
			if output == 0 {
				return 0, 0, 0, fmt.Errorf("job %s finished without output", id)
			}
			return started, output, finished, nil
		}
	}
	return 0, 0, 0, fmt.Errorf("job %s: watch ended before it finished: %w", id, context.Cause(ctx))
}

// checkRan reports a job that did not run to exit code 0.
func checkRan(j *scavenger.Job) error {
	if j == nil {
		return fmt.Errorf("finished without a job record")
	}
	if j.State != scavenger.StateDone {
		return fmt.Errorf("%s: %s", j.State, j.Reason)
	}
	for _, t := range j.Tasks {
		if t.ExitCode == nil || *t.ExitCode != 0 {
			return fmt.Errorf("task %s: exit code %s, signal %q", t.ID, exitText(t.ExitCode), t.Signal)
		}
	}
	return nil
}

func (r *dispatchResult) print(w io.Writer) {
	fmt.Fprintf(w, "dispatch: %d tasks of \"echo x\", one at a time, from a home to one donor\n", r.Tasks)
	fmt.Fprintf(w, "(two peers in this process, loopback TCP, private swarm key, real executor)\n\n")
	tw := newTable(w)
	row(tw, "", "p50", "p90", "p99", "min", "max", "mean")
	row(tw, append([]string{"submit → started"}, r.Started.cells()...)...)
	row(tw, append([]string{"submit → first output"}, r.Output.cells()...)...)
	row(tw, append([]string{"submit → finished"}, r.Finished.cells()...)...)
	tw.Flush()
}

// benchSwarm starts an in-process swarm of a home (not donating) and n
// dedicated donors with slots slots each (0: all cores).
func benchSwarm(ctx context.Context, log *slog.Logger, n, slots int) (*inprocSwarm, *inprocPeer, []*inprocPeer, error) {
	sw, err := newInprocSwarm(ctx, "scavenge-bench-", log)
	if err != nil {
		return nil, nil, nil, err
	}
	home, err := sw.add(ctx, inprocSpec{Name: "home"})
	if err != nil {
		return nil, nil, nil, joinClose(err, sw)
	}
	var donors []*inprocPeer
	for i := range n {
		d, err := sw.add(ctx, inprocSpec{
			Name:      fmt.Sprintf("donor%d", i+1),
			Bootstrap: home.node.Addrs(),
			Donate:    true,
			Dedicated: true,
			Slots:     slots,
		})
		if err != nil {
			return nil, nil, nil, joinClose(err, sw)
		}
		donors = append(donors, d)
	}
	return sw, home, donors, nil
}

// joinClose closes sw and adds its error to err.
func joinClose(err error, sw *inprocSwarm) error {
	if cerr := sw.close(); cerr != nil {
		return errors.Join(err, fmt.Errorf("close the swarm: %w", cerr))
	}
	return err
}
