package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/scavenge/scavenge/scavenger"
)

// throughputResult compares tiny tasks through the swarm with the same
// number run here by xargs.
type throughputResult struct {
	Tasks         int     `json:"tasks"`
	Donors        int     `json:"donors"`
	SlotsPerDonor int     `json:"slots_per_donor"`
	Submitters    int     `json:"submitters"`
	OneJob        bool    `json:"one_job"`        // one job of every task, as a job file makes
	SubmitSeconds float64 `json:"submit_seconds"` // until the last Submit returned
	Seconds       float64 `json:"seconds"`        // first Submit to last finished
	TasksPerSec   float64 `json:"tasks_per_s"`
	Local         struct {
		Command     string  `json:"command"`
		Seconds     float64 `json:"seconds"`
		TasksPerSec float64 `json:"tasks_per_s"`
	} `json:"local"`
}

func throughputBenchmark() benchmark {
	var tasks, donors, submitters int
	var oneJob bool
	return benchmark{
		help: `Submits tiny "true" tasks from one home to dedicated donors (every core a
slot), from several goroutines at once, and prints tasks per second from the
first Submit to the last task finished; beside it, the same number of "true"
run here by "xargs -P <cores> -n1 true".`,
		flags: func(fs *flag.FlagSet) {
			fs.IntVar(&tasks, "tasks", 500, "tasks to run")
			fs.IntVar(&donors, "donors", 4, "donor peers")
			fs.IntVar(&submitters, "submitters", 8, "goroutines submitting the tasks at once")
			fs.BoolVar(&oneJob, "one-job", false, "submit one job of every task (as a job file does) instead of a job per task")
		},
		check: func() error {
			if tasks < 1 || donors < 1 || submitters < 1 {
				return fmt.Errorf("--tasks %d --donors %d --submitters %d: want at least 1 of each", tasks, donors, submitters)
			}
			return nil
		},
		run: func(ctx context.Context, log *slog.Logger) (benchResult, error) {
			if oneJob {
				return measureOneJob(ctx, log, tasks, donors)
			}
			return measureThroughput(ctx, log, tasks, donors, submitters)
		},
	}
}

// measureThroughput submits tasks `true` tasks from a home to donors
// dedicated donors (every core a slot), from submitters goroutines at once,
// and times them to the last one finished; then it times
// `xargs -P <cores>` running as many here.
func measureThroughput(ctx context.Context, log *slog.Logger, tasks, donors, submitters int) (_ *throughputResult, err error) {
	sw, home, ds, err := benchSwarm(ctx, log, donors, 0)
	if err != nil {
		return nil, err
	}
	defer func() { err = joinClose(err, sw) }()
	if _, err := waitIdle(ctx, home, ds); err != nil {
		return nil, err
	}
	// One task first, so the measurement does not include opening the
	// donors' work dirs.
	if _, _, _, err := dispatchOnce(ctx, home, filepath.Join(sw.dir, "out", "warmup")); err != nil {
		return nil, fmt.Errorf("warm-up task: %w", err)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Several submitters, as several `scavenge submit` processes would be:
	// each Submit stores the job before it returns.
	var (
		wg        sync.WaitGroup
		next      atomic.Int64
		errs      = make(chan error, tasks+submitters)
		submitted = make(chan struct{}, submitters)
	)
	start := time.Now()
	for range submitters {
		wg.Go(func() {
			defer func() { submitted <- struct{}{} }()
			for {
				i := int(next.Add(1)) - 1
				if i >= tasks || ctx.Err() != nil {
					return
				}
				id, err := home.eng.Submit(ctx, scavenger.SubmitRequest{
					Argv:   []string{"true"},
					OutDir: filepath.Join(sw.dir, "out", strconv.Itoa(i)),
				})
				if err != nil {
					errs <- fmt.Errorf("submit task %d: %w", i+1, err)
					cancel()
					return
				}
				events, err := home.eng.Watch(ctx, id)
				if err != nil {
					errs <- fmt.Errorf("watch job %s: %w", id, err)
					cancel()
					return
				}
				wg.Go(func() {
					if err := awaitFinished(ctx, id, events); err != nil {
						errs <- err
						cancel()
					}
				})
			}
		})
	}
	var submitTook time.Duration
	for range submitters {
		<-submitted
	}
	submitTook = time.Since(start)
	wg.Wait()
	took := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}

	r := &throughputResult{
		Tasks:         tasks,
		Donors:        donors,
		SlotsPerDonor: runtime.NumCPU(),
		Submitters:    submitters,
		SubmitSeconds: submitTook.Seconds(),
		Seconds:       took.Seconds(),
		TasksPerSec:   float64(tasks) / took.Seconds(),
	}
	return r, r.runLocal(ctx)
}

// measureOneJob submits one job of tasks `true` tasks and times it to its end.
func measureOneJob(ctx context.Context, log *slog.Logger, tasks, donors int) (_ *throughputResult, err error) {
	sw, home, ds, err := benchSwarm(ctx, log, donors, 0)
	if err != nil {
		return nil, err
	}
	defer func() { err = joinClose(err, sw) }()
	if _, err := waitIdle(ctx, home, ds); err != nil {
		return nil, err
	}
	if _, _, _, err := dispatchOnce(ctx, home, filepath.Join(sw.dir, "out", "warmup")); err != nil {
		return nil, fmt.Errorf("warm-up task: %w", err)
	}
	req := scavenger.SubmitRequest{Name: "throughput", OutDir: filepath.Join(sw.dir, "out", "job")}
	for range tasks {
		req.Tasks = append(req.Tasks, scavenger.TaskRequest{Argv: []string{"true"}})
	}
	start := time.Now()
	id, err := home.eng.Submit(ctx, req)
	if err != nil {
		return nil, err
	}
	submitTook := time.Since(start)
	j, err := waitJob(ctx, home, id)
	if err != nil {
		return nil, err
	}
	if err := checkRan(&j); err != nil {
		return nil, fmt.Errorf("job %s: %w", id, err)
	}
	took := time.Since(start)
	r := &throughputResult{Tasks: tasks, Donors: donors, SlotsPerDonor: runtime.NumCPU(), Submitters: 1, OneJob: true,
		SubmitSeconds: submitTook.Seconds(), Seconds: took.Seconds(), TasksPerSec: float64(tasks) / took.Seconds()}
	return r, r.runLocal(ctx)
}

// runLocal times the same number of `true` run here by xargs.
func (r *throughputResult) runLocal(ctx context.Context) error {
	r.Local.Command = fmt.Sprintf("seq %d | xargs -P %d -n1 true", r.Tasks, runtime.NumCPU())
	local := time.Now()
	if out, err := exec.CommandContext(ctx, "sh", "-c", r.Local.Command).CombinedOutput(); err != nil {
		return fmt.Errorf("local run %q: %w: %s", r.Local.Command, err, out)
	}
	r.Local.Seconds = time.Since(local).Seconds()
	r.Local.TasksPerSec = float64(r.Tasks) / r.Local.Seconds
	return nil
}

// awaitFinished drains a job's events and reports a job that did not run.
func awaitFinished(ctx context.Context, id string, events <-chan scavenger.Event) error {
	for ev := range events {
		if ev.Type == scavenger.EventFinished {
			if err := checkRan(ev.Job); err != nil {
				return fmt.Errorf("job %s: %w", id, err)
			}
			return nil
		}
	}
	return fmt.Errorf("job %s: watch ended before it finished: %w", id, context.Cause(ctx))
}

func (r *throughputResult) print(w io.Writer) {
	how := fmt.Sprintf("%d submitters, a job per task", r.Submitters)
	if r.OneJob {
		how = "one job of every task"
	}
	fmt.Fprintf(w, "throughput: %d tasks of \"true\" from one home (%s) to %d donors with %d slots each\n",
		r.Tasks, how, r.Donors, r.SlotsPerDonor)
	fmt.Fprintf(w, "(all in this process, loopback TCP, private swarm key, real executor; %d cores)\n\n", runtime.NumCPU())
	tw := newTable(w)
	row(tw, "", "tasks/s", "seconds", "")
	row(tw, "swarm", fmt.Sprintf("%.0f", r.TasksPerSec), fmt.Sprintf("%.2f", r.Seconds),
		fmt.Sprintf("first submit to last finished (submitting took %.2f s)", r.SubmitSeconds))
	row(tw, "local", fmt.Sprintf("%.0f", r.Local.TasksPerSec), fmt.Sprintf("%.2f", r.Local.Seconds), r.Local.Command)
	tw.Flush()
}
