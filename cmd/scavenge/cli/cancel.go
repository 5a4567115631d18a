package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/scavenge/scavenge/scavenger"
	"github.com/scavenge/scavenge/scavenger/client"
)

var cancelCmd = &command{
	name:     "cancel",
	synopsis: "[--home DIR] [--reason TEXT] JOB",
	summary:  "cancel a job: stop its running tasks and drop its queued ones",
	help: `
Cancels a job submitted here: its queued tasks are dropped at once and its
running ones stopped on their peers; tasks that had finished keep their
results. Waits (up to half a minute) for the peers to confirm, then prints
how the job ended. Cancelling a job that has already finished changes
nothing and is not an error: it says how the job ended and exits 0.`,
	run: runCancel,
}

func init() { register(cancelCmd) }

// cancelConfirmWait bounds how long cancel waits for the job's end: the
// home gives a donor 15 s to report a stopped task before it stops waiting.
const cancelConfirmWait = 30 * time.Second

func runCancel(ctx context.Context, e *env, args []string) error {
	fs := e.flagSet()
	home := addHomeFlag(fs)
	reason := fs.String("reason", "", "why, as `TEXT`: the job's record and 'scavenge status' show it (default \"cancelled by the user\")")
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
	c := newClient(dir)
	before, err := c.Job(ctx, id)
	if err != nil {
		return err // the daemon's words name the job
	}
	if before.State.Final() {
		return alreadyFinished(e, before)
	}
	if err := c.Cancel(ctx, id, *reason); err != nil {
		// 409: it finished between the two calls.
		var apiErr *client.APIError
		if errors.As(err, &apiErr) && apiErr.Status == http.StatusConflict {
			if j, jerr := c.Job(ctx, id); jerr == nil && j.State.Final() {
				return alreadyFinished(e, j)
			}
		}
		return err
	}
	if n := tallyTasks(before.Tasks); n.running+n.suspended > 0 {
		fmt.Fprintf(e.stderr, "scavenge: cancelling job %s: stopping its running tasks (%d)\n", id, n.running+n.suspended)
	}
	j, err := confirmEnd(ctx, c, id)
	switch {
	case err == nil:
		fmt.Fprintln(e.stdout, jobSummary(j, time.Now()))
		return nil
	case ctx.Err() != nil:
		fmt.Fprintf(e.stderr, "\nscavenge: job %s is being cancelled; stopped waiting for its tasks to stop (see 'scavenge status %s')\n", id, id)
		return &codeError{code: exitInterrupted}
	default:
		fmt.Fprintf(e.stdout, "job %s: cancel requested, but its end is not confirmed yet (%v): see 'scavenge status %s'\n", id, err, id)
		return nil
	}
}

// alreadyFinished reports a job that was final before cancel reached it.
func alreadyFinished(e *env, j scavenger.Job) error {
	fmt.Fprintf(e.stdout, "nothing to cancel: %s\n", jobSummary(j, time.Now()))
	return nil
}

// confirmEnd waits up to cancelConfirmWait for a cancelled job's final
// record.
func confirmEnd(ctx context.Context, c *client.Client, id string) (scavenger.Job, error) {
	ctx, cancel := context.WithTimeout(ctx, cancelConfirmWait)
	defer cancel()
	for ev, err := range c.Events(ctx, id) {
		if err != nil {
			return scavenger.Job{}, err
		}
		if ev.Type == scavenger.EventFinished {
			if ev.Job != nil {
				return *ev.Job, nil
			}
			return c.Job(ctx, id)
		}
	}
	return scavenger.Job{}, fmt.Errorf("the events of job %s ended early", id)
}
