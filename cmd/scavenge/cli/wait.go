package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/scavenge/scavenge/scavenger"
	"github.com/scavenge/scavenge/scavenger/client"
)

var waitCmd = &command{
	name:     "wait",
	synopsis: "[--home DIR] [--json] JOB",
	summary:  "wait until a job has finished and exit with its result",
	help: `
Waits until every task of the job is final, prints one line saying how the
job ended (with --json, its final record instead) and exits like the job:
a job of one task with the task's exit code, as 'scavenge submit' does (128+N
when a signal N killed it); a job of many tasks with 0 when every task exited
0, else 1. A job that failed or was cancelled exits 1.

Ctrl-C stops waiting and leaves the job running ('scavenge cancel' stops it).
When the daemon stops meanwhile, wait waits up to a minute for it to come
back (a restarted daemon resumes its jobs) and goes on.

Example:
  id=$(scavenge submit --detach -- make test) && scavenge wait "$id"`,
	run: runWait,
}

func init() { register(waitCmd) }

// daemonReturnWait is how long wait (and cancel) wait for a daemon that
// went away to come back before giving up.
var daemonReturnWait = time.Minute

// reconnectPause spaces attempts to reach the daemon again, so a stream that
// keeps breaking does not spin.
const reconnectPause = 200 * time.Millisecond

func runWait(ctx context.Context, e *env, args []string) error {
	fs := e.flagSet()
	home := addHomeFlag(fs)
	asJSON := fs.Bool("json", false, "print the job's final record as JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want one job ID, got %d arguments", len(pos))
	}
	dir, err := home.home(e)
	if err != nil {
		return err
	}
	id := pos[0]
	j, err := waitFinished(ctx, e, dir, id)
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintf(e.stderr, "\nscavenge: stopped waiting; job %s goes on (see 'scavenge status %s')\n", id, id)
			return &codeError{code: exitInterrupted}
		}
		return err
	}
	if *asJSON {
		if err := writeJSON(e.stdout, j); err != nil {
			return err
		}
	} else {
		fmt.Fprintln(e.stdout, jobSummary(j, time.Now()))
	}
	return waitExit(j)
}

// waitFinished follows a job's events until it finishes and returns its
// final record. A daemon that goes away is waited for (daemonReturnWait),
// since a restarted daemon resumes the job; no daemon at the start, or an
// error the daemon gives (an unknown job), ends the wait at once.
func waitFinished(ctx context.Context, e *env, home, id string) (scavenger.Job, error) {
	c := newClient(home)
	var lost time.Time // when the daemon went away; zero while it answers
	reached := false   // the daemon streamed the job's events at least once
	for {
		var broke error
		for ev, err := range c.Events(ctx, id) {
			if err != nil {
				broke = err
				break
			}
			lost, reached = time.Time{}, true
			if ev.Type != scavenger.EventFinished {
				continue
			}
			if ev.Job != nil {
				return *ev.Job, nil
			}
			return c.Job(ctx, id)
		}
		if ctx.Err() != nil {
			return scavenger.Job{}, ctx.Err()
		}
		var apiErr *client.APIError
		if !reached || errors.As(broke, &apiErr) {
			return scavenger.Job{}, broke
		}
		if lost.IsZero() {
			lost = time.Now()
			fmt.Fprintf(e.stderr, "scavenge: lost the daemon (%v); waiting up to %s for it to come back\n", broke, humanDuration(daemonReturnWait))
		}
		left := daemonReturnWait - time.Since(lost)
		if left <= 0 {
			return scavenger.Job{}, fmt.Errorf("waiting for job %s: the daemon did not come back within %s: %w", id, humanDuration(daemonReturnWait), broke)
		}
		select {
		case <-ctx.Done():
			return scavenger.Job{}, ctx.Err()
		case <-time.After(reconnectPause):
		}
		// The next call waits for the daemon to listen again.
		c = client.New(home)
		c.StartWait = left
	}
}

// waitExit is wait's exit for a finished job.
func waitExit(j scavenger.Job) error {
	if len(j.Tasks) == 1 && j.State == scavenger.StateDone {
		if code := taskExitCode(j.Tasks[0]); code != 0 {
			return &codeError{code: code}
		}
		return nil
	}
	if j.State != scavenger.StateDone {
		return &codeError{code: exitError}
	}
	for _, t := range j.Tasks {
		if !taskSucceeded(t) {
			return &codeError{code: exitError}
		}
	}
	return nil
}

// jobSummary says in one line how a job ended (or stands):
//
//	job k3x done: exit 0 on bob in 1.2s
//	job k3x failed: 50 tasks: 47 done, 3 failed; first: task 7: no idle peer within 10m
func jobSummary(j scavenger.Job, now time.Time) string {
	s := fmt.Sprintf("job %s %s", j.ID, j.State)
	if len(j.Tasks) == 1 {
		t := j.Tasks[0]
		if t.State == scavenger.StateDone {
			s += ": " + exitWords(t)
			if p := taskPeer(t); p != "-" {
				s += " on " + p
			}
		} else if r := jobReason(j); r != "" {
			s += ": " + r
		}
	} else {
		s += fmt.Sprintf(": %d tasks: %s", len(j.Tasks), tallyTasks(j.Tasks))
		if t, ok := firstProblem(j.Tasks); ok {
			s += fmt.Sprintf("; first: task %s: %s", t.ID, problemWords(t))
		}
	}
	if d := runTime(j, now); d != "-" {
		s += " in " + d
	}
	return s
}

// exitWords says how a task's command ended: "exit 3", "killed by signal
// killed".
func exitWords(t scavenger.Task) string {
	switch {
	case t.Signal != "":
		return "killed by signal " + t.Signal
	case t.ExitCode != nil:
		return fmt.Sprintf("exit %d", *t.ExitCode)
	}
	return "no exit code"
}

// firstProblem is the first task that did not succeed, in task order.
func firstProblem(tasks []scavenger.Task) (scavenger.Task, bool) {
	for _, t := range tasks {
		if t.State.Final() && !taskSucceeded(t) {
			return t, true
		}
	}
	return scavenger.Task{}, false
}

// problemWords says why a task did not succeed.
func problemWords(t scavenger.Task) string {
	if t.State == scavenger.StateDone {
		return exitWords(t)
	}
	return orDefault(t.Reason, string(t.State))
}
