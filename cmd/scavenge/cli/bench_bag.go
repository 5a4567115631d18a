package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"time"

	"github.com/scavenge/scavenge/policy"
	"github.com/scavenge/scavenge/policy/sensor"
	"github.com/scavenge/scavenge/scavenger"
)

// bagResult is the makespan of a bag of equal tasks over a swarm against
// the ideal (all work spread evenly over every slot, no overhead), once
// with owners away and once with owners coming and going.
type bagResult struct {
	Tasks     int           `json:"tasks"`
	TaskTime  time.Duration `json:"task_time_ns"`
	Donors    int           `json:"donors"`
	Slots     int           `json:"slots_per_donor"`
	Ideal     time.Duration `json:"ideal_ns"`
	Calm      bagRun        `json:"calm"`
	Returning bagRun        `json:"owners_returning"`
}

// bagRun is one run of the bag.
type bagRun struct {
	Makespan    time.Duration `json:"makespan_ns"`
	Efficiency  float64       `json:"efficiency"` // ideal / makespan
	Preemptions int           `json:"preemptions"`
	Schedule    string        `json:"schedule,omitempty"`
}

func bagBenchmark() benchmark {
	var tasks, donors, slots int
	var taskTime time.Duration
	return benchmark{
		help: `Submits one job of equal sleeping tasks to desk-PC donors (fake owner
sensors) and prints the makespan beside the ideal (total work / slots):
first with every owner away, then with owners coming back on a schedule
(each donor's owner returns for 1 s every 5 s, offset per donor; the policy
kills guests on return, so their tasks run again elsewhere).`,
		flags: func(fs *flag.FlagSet) {
			fs.IntVar(&tasks, "tasks", 200, "tasks in the job")
			fs.DurationVar(&taskTime, "task", 500*time.Millisecond, "how long each task sleeps")
			fs.IntVar(&donors, "donors", 5, "donor peers")
			fs.IntVar(&slots, "slots", 2, "slots per donor")
		},
		check: func() error {
			if tasks < 1 || donors < 1 || slots < 1 || taskTime <= 0 {
				return fmt.Errorf("--tasks %d --donors %d --slots %d --task %s: want positive values", tasks, donors, slots, taskTime)
			}
			return nil
		},
		run: func(ctx context.Context, log *slog.Logger) (benchResult, error) {
			r := &bagResult{Tasks: tasks, TaskTime: taskTime, Donors: donors, Slots: slots,
				Ideal: time.Duration(float64(taskTime) * float64(tasks) / float64(donors*slots))}
			var err error
			if r.Calm, err = measureBag(ctx, log, r, false); err != nil {
				return nil, fmt.Errorf("owners away: %w", err)
			}
			if r.Returning, err = measureBag(ctx, log, r, true); err != nil {
				return nil, fmt.Errorf("owners returning: %w", err)
			}
			return r, nil
		},
	}
}

// Owners' schedule in the second run.
const (
	ownerEvery = 5 * time.Second
	ownerStays = time.Second
)

// measureBag runs the bag once over fresh donors.
func measureBag(ctx context.Context, log *slog.Logger, r *bagResult, returning bool) (run bagRun, err error) {
	sw, err := newInprocSwarm(ctx, "scavenge-bench-", log)
	if err != nil {
		return run, err
	}
	defer func() { err = joinClose(err, sw) }()
	home, err := sw.add(ctx, inprocSpec{Name: "home"})
	if err != nil {
		return run, err
	}
	var donors []*inprocPeer
	for i := range r.Donors {
		owner := &sensor.Fake{}
		owner.Set(ownerAway)
		d, err := sw.add(ctx, inprocSpec{Name: "donor" + strconv.Itoa(i+1), Bootstrap: home.node.Addrs(), Donate: true,
			Slots: r.Slots, Sensor: owner, IdleAfter: 100 * time.Millisecond,
			OnReturn: policy.OnReturn{Action: policy.ActionKill, Grace: time.Second}})
		if err != nil {
			return run, err
		}
		donors = append(donors, d)
	}
	if _, err := waitIdle(ctx, home, donors); err != nil {
		return run, err
	}
	req := scavenger.SubmitRequest{Name: "bag"}
	sleep := strconv.FormatFloat(r.TaskTime.Seconds(), 'f', 3, 64)
	for range r.Tasks {
		req.Tasks = append(req.Tasks, scavenger.TaskRequest{Argv: []string{"sleep", sleep}})
	}
	start := time.Now()
	id, err := home.eng.Submit(ctx, req)
	if err != nil {
		return run, err
	}
	stop := make(chan struct{})
	defer close(stop)
	if returning {
		run.Schedule = fmt.Sprintf("each owner back %s in every %s", ownerStays, ownerEvery)
		for i, d := range donors {
			go ownerSchedule(d.sensor, time.Duration(i)*ownerEvery/time.Duration(len(donors)), stop)
		}
	}
	j, err := waitJob(ctx, home, id)
	if err != nil {
		return run, err
	}
	run.Makespan = time.Since(start)
	for _, t := range j.Tasks {
		if t.State != scavenger.StateDone || t.ExitCode == nil || *t.ExitCode != 0 {
			return run, fmt.Errorf("task %s: %s (%s)", t.ID, t.State, t.Reason)
		}
		run.Preemptions += t.Preemptions
	}
	run.Efficiency = float64(r.Ideal) / float64(run.Makespan)
	return run, nil
}

// ownerSchedule has the owner come back for ownerStays every ownerEvery,
// first after offset, until stop.
func ownerSchedule(owner *sensor.Fake, offset time.Duration, stop <-chan struct{}) {
	wait := func(d time.Duration) bool {
		select {
		case <-stop:
			return false
		case <-time.After(d):
			return true
		}
	}
	if !wait(offset) {
		return
	}
	for {
		owner.Set(ownerBack)
		if !wait(ownerStays) {
			return
		}
		owner.Set(ownerAway)
		if !wait(ownerEvery - ownerStays) {
			return
		}
	}
}

// waitJob waits for job id's final record.
func waitJob(ctx context.Context, home *inprocPeer, id string) (scavenger.Job, error) {
	events, err := home.eng.Watch(ctx, id)
	if err != nil {
		return scavenger.Job{}, err
	}
	for ev := range events {
		if ev.Type == scavenger.EventFinished && ev.Job != nil {
			return *ev.Job, nil
		}
	}
	return scavenger.Job{}, fmt.Errorf("job %s: watch ended before it finished: %w", id, context.Cause(ctx))
}

func (r *bagResult) print(w io.Writer) {
	fmt.Fprintf(w, "bag of tasks: %d tasks of %s sleep over %d donors x %d slots (all in this process, loopback TCP)\n",
		r.Tasks, r.TaskTime, r.Donors, r.Slots)
	fmt.Fprintf(w, "ideal makespan (total work / slots): %s\n\n", r.Ideal.Round(time.Millisecond))
	tw := newTable(w)
	row(tw, "", "makespan", "ideal / makespan", "preemptions", "")
	for _, x := range []struct {
		name string
		run  bagRun
	}{{"owners away", r.Calm}, {"owners returning", r.Returning}} {
		row(tw, x.name, x.run.Makespan.Round(time.Millisecond).String(), fmt.Sprintf("%.2f", x.run.Efficiency),
			strconv.Itoa(x.run.Preemptions), x.run.Schedule)
	}
	tw.Flush()
}
