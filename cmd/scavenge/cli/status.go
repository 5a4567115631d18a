package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/scavenge/scavenge/scavenger"
)

var statusCmd = &command{
	name:     "status",
	synopsis: "[--home DIR] [--json] [JOB]",
	summary:  "show this machine's presence, its guests and the jobs submitted here",
	help: `
Shows whether this machine donates and why, the guests it runs for other
peers (and what was done to them when the owner came back), and the jobs
submitted here: where each ran, its state, exit code and times. Jobs are kept
in the home's database, so they survive a daemon restart.

With a JOB ID, shows that job in detail.`,
	run: runStatus,
}

// statusJSON is `scavenge status --json`.
type statusJSON struct {
	Daemon scavenger.Status `json:"daemon"`
	Jobs   []scavenger.Job  `json:"jobs"`
}

func runStatus(ctx context.Context, e *env, args []string) error {
	fs := e.flagSet()
	home := addHomeFlag(fs)
	asJSON := fs.Bool("json", false, "print the status (or the job) as JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usagef("give at most one job ID, got %d arguments", len(pos))
	}
	dir, err := home.home(e)
	if err != nil {
		return err
	}
	c := newClient(dir)
	if len(pos) == 1 {
		job, err := c.Job(ctx, pos[0])
		if err != nil {
			return err // the daemon's words name the job
		}
		if *asJSON {
			return writeJSON(e.stdout, job)
		}
		printJob(e, job, time.Now())
		return nil
	}
	st, err := c.Status(ctx)
	if err != nil {
		return err
	}
	jobs, err := c.Jobs(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		if jobs == nil {
			jobs = []scavenger.Job{}
		}
		if st.Guests == nil {
			st.Guests = []scavenger.Guest{}
		}
		return writeJSON(e.stdout, statusJSON{Daemon: st, Jobs: jobs})
	}
	now := time.Now()
	printDaemon(e, st, now)
	fmt.Fprintln(e.stdout)
	printJobs(e, jobs, now)
	return nil
}

func printDaemon(e *env, st scavenger.Status, now time.Time) {
	tw := newTable(e.stdout)
	row(tw, "machine", fmt.Sprintf("%s (peer %s)", st.Name, st.ID))
	row(tw, "presence", presenceLine(st))
	if !st.Presence.Donating {
		row(tw, "guests get", guestsLine(st.Presence))
	}
	if st.Paused {
		row(tw, "paused", "yes: 'scavenge resume' lends this machine again")
	}
	row(tw, "slots", fmt.Sprintf("%d of %d free", st.Free, st.CPUs))
	if len(st.Checkpoint) > 0 {
		row(tw, "checkpoints", strings.Join(st.Checkpoint, ", ")+" (guests that must leave keep their work)")
	} else {
		row(tw, "checkpoints", "none: guests that must leave restart elsewhere")
	}
	if len(st.Guests) == 0 {
		row(tw, "guests", "none")
	}
	tw.Flush()
	if len(st.Guests) == 0 {
		return
	}
	fmt.Fprintln(e.stdout, "guests:")
	tw = newTable(e.stdout)
	row(tw, "  JOB", "TASK", "HOME", "PID", "RUNNING", "COMMAND", "ACTION")
	for _, g := range st.Guests {
		action := g.Action
		if action == "" {
			action = "-"
		}
		row(tw, "  "+g.JobID, g.TaskID, shortID(g.HomePeer), strconv.Itoa(g.Pid),
			humanDuration(now.Sub(g.Started)), truncate(commandLine(g.Argv), 40), action)
	}
	tw.Flush()
}

func printJobs(e *env, jobs []scavenger.Job, now time.Time) {
	if len(jobs) == 0 {
		fmt.Fprintln(e.stdout, "no jobs submitted here yet")
		return
	}
	tw := newTable(e.stdout)
	row(tw, "ID", "COMMAND", "STATE", "TASKS", "WHERE", "EXIT", "SUBMITTED", "DURATION")
	for _, j := range jobs {
		row(tw, j.ID, truncate(jobTitle(j), 40), string(j.State), taskProgress(j), truncate(where(j), 30),
			truncate(jobExitText(j), 12), humanTime(j.Submitted, now), runTime(j, now))
	}
	tw.Flush()
}

func printJob(e *env, j scavenger.Job, now time.Time) {
	tw := newTable(e.stdout)
	row(tw, "job", j.ID)
	if j.Request.Name != "" {
		row(tw, "name", j.Request.Name)
	}
	if len(j.Request.Tasks) == 0 {
		row(tw, "command", commandLine(j.Request.Argv))
	}
	state := string(j.State)
	if x := jobExitText(j); x != "-" && len(j.Tasks) == 1 {
		state += " (exit " + x + ")"
	}
	row(tw, "state", state)
	if j.Reason != "" {
		row(tw, "reason", j.Reason)
	}
	if len(j.Tasks) > 1 {
		row(tw, "tasks", fmt.Sprintf("%d: %s", len(j.Tasks), tallyTasks(j.Tasks)))
	}
	row(tw, "submitted", fmt.Sprintf("%s (%s)", j.Submitted.Local().Format(time.DateTime), humanTime(j.Submitted, now)))
	if !j.Finished.IsZero() {
		row(tw, "finished", j.Finished.Local().Format(time.DateTime))
	}
	if d := runTime(j, now); d != "-" {
		row(tw, "duration", d)
	}
	if j.Request.OutDir != "" && len(j.Request.Outputs) > 0 {
		dir := j.Request.OutDir
		if len(j.Tasks) > 1 {
			dir = filepath.Join(dir, "<task>")
		}
		row(tw, "outputs", strings.Join(j.Request.Outputs, " ")+" -> "+dir)
	}
	if len(j.Tasks) > 1 {
		tw.Flush()
		fmt.Fprintln(e.stdout)
		printTasks(e, j.Tasks, now, j.Request.Checkpoint != "" && j.Request.Checkpoint != "none")
		return
	}
	for _, t := range j.Tasks {
		on := "-"
		if t.Peer != "" {
			on = fmt.Sprintf("%s (peer %s)", t.PeerName, t.Peer)
		}
		desc := fmt.Sprintf("%s on %s, attempt %d", t.State, on, t.Attempts)
		if t.Preemptions > 0 {
			desc += fmt.Sprintf(", preempted %d times", t.Preemptions)
		}
		if t.Moves > 0 {
			desc += fmt.Sprintf(", moved %d times", t.Moves)
		}
		if t.ExitCode != nil {
			desc += fmt.Sprintf(", exit %d", *t.ExitCode)
		}
		if t.Signal != "" {
			desc += ", signal " + t.Signal
		}
		row(tw, "task "+t.ID, desc)
		if c := checkpointLine(j.Request, t, now); c != "" {
			row(tw, "", c)
		}
		if t.Reason != "" {
			row(tw, "", t.Reason)
		}
		for _, o := range t.Outputs {
			row(tw, "", "wrote "+o)
		}
	}
	tw.Flush()
}

// printTasks is the table of a many-task job's tasks, one line each; the
// output files are left to --json, as there may be thousands.
func printTasks(e *env, tasks []scavenger.Task, now time.Time, checkpointed bool) {
	tw := newTable(e.stdout)
	if !checkpointed {
		row(tw, "TASK", "STATE", "PEER", "ATTEMPTS", "PREEMPTED", "EXIT", "STARTED", "RAN", "REASON")
	} else {
		row(tw, "TASK", "STATE", "PEER", "ATTEMPTS", "PREEMPTED", "MOVES", "CHECKPOINT", "LOST", "EXIT", "STARTED", "RAN", "REASON")
	}
	for _, t := range tasks {
		cells := []string{t.ID, string(t.State), taskPeer(t), strconv.Itoa(t.Attempts), strconv.Itoa(t.Preemptions)}
		if checkpointed {
			age := "-"
			if t.Checkpoint != nil {
				age = humanDuration(now.Sub(t.Checkpoint.Taken)) + " ago"
			}
			cells = append(cells, strconv.Itoa(t.Moves), age, humanDuration(t.WorkLost))
		}
		row(tw, append(cells, taskExitText(t), humanTime(t.Started, now), taskRunTime(t, now), truncate(t.Reason, 60))...)
	}
	tw.Flush()
}

// checkpointLine says how a checkpointed task's work is kept: its last
// checkpoint and the work lost so far; "" for a job without checkpoints.
func checkpointLine(req scavenger.SubmitRequest, t scavenger.Task, now time.Time) string {
	if req.Checkpoint == "" || req.Checkpoint == "none" {
		if t.WorkLost > 0 {
			return "work lost " + humanDuration(t.WorkLost) + " (no checkpoints: it restarts from scratch)"
		}
		return ""
	}
	line := "no checkpoint yet"
	if ck := t.Checkpoint; ck != nil {
		line = fmt.Sprintf("last %s checkpoint %s ago (%s)", ck.Backend, humanDuration(now.Sub(ck.Taken)), humanBytes(uint64(ck.Size)))
	}
	return line + ", work lost " + humanDuration(t.WorkLost)
}

// taskPeer names the peer of a task's current or last attempt.
func taskPeer(t scavenger.Task) string {
	switch {
	case t.PeerName != "":
		return t.PeerName
	case t.Peer != "":
		return shortID(t.Peer)
	}
	return "-"
}

// taskExitText is a task's exit code or signal, "-" when it has none.
func taskExitText(t scavenger.Task) string {
	switch {
	case t.Signal != "":
		return t.Signal
	case t.ExitCode != nil:
		return strconv.Itoa(*t.ExitCode)
	}
	return "-"
}

// taskRunTime is how long a task's last attempt ran, or runs so far.
func taskRunTime(t scavenger.Task, now time.Time) string {
	if t.Started.IsZero() {
		return "-"
	}
	end := t.Finished
	if !t.State.Final() || end.Before(t.Started) {
		end = now
	}
	return humanDuration(end.Sub(t.Started))
}

// jobTitle is what `status` calls a job: its name, else its command (a
// many-task job's first task's).
func jobTitle(j scavenger.Job) string {
	switch {
	case j.Request.Name != "":
		return j.Request.Name
	case len(j.Request.Argv) > 0:
		return commandLine(j.Request.Argv)
	case len(j.Request.Tasks) > 0:
		return commandLine(j.Request.Tasks[0].Argv)
	}
	return "-"
}

// taskProgress is "finished/all" of a job's tasks.
func taskProgress(j scavenger.Job) string {
	final := 0
	for _, t := range j.Tasks {
		if t.State.Final() {
			final++
		}
	}
	return fmt.Sprintf("%d/%d", final, len(j.Tasks))
}

// taskTally counts a job's tasks by state.
type taskTally struct {
	done, nonZero              int // nonZero: done with an exit code other than 0, or a signal
	running, suspended, queued int
	failed, cancelled          int
}

func tallyTasks(tasks []scavenger.Task) taskTally {
	var n taskTally
	for _, t := range tasks {
		switch t.State {
		case scavenger.StateDone:
			n.done++
			if !taskSucceeded(t) {
				n.nonZero++
			}
		case scavenger.StateRunning:
			n.running++
		case scavenger.StateSuspended:
			n.suspended++
		case scavenger.StateQueued:
			n.queued++
		case scavenger.StateFailed:
			n.failed++
		case scavenger.StateCancelled:
			n.cancelled++
		}
	}
	return n
}

// String says the counts that are not zero: "45 done (1 exited non-zero),
// 2 running, 3 queued".
func (n taskTally) String() string {
	var parts []string
	add := func(count int, what string) {
		if count > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", count, what))
		}
	}
	add(n.done, "done")
	if n.nonZero > 0 {
		parts[len(parts)-1] += fmt.Sprintf(" (%d exited non-zero)", n.nonZero)
	}
	add(n.running, "running")
	add(n.suspended, "suspended")
	add(n.queued, "queued")
	add(n.failed, "failed")
	add(n.cancelled, "cancelled")
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// taskSucceeded reports whether a task is done with exit code 0.
func taskSucceeded(t scavenger.Task) bool {
	return t.State == scavenger.StateDone && t.Signal == "" && (t.ExitCode == nil || *t.ExitCode == 0)
}

// where names the peers a job's tasks ran on.
func where(j scavenger.Job) string {
	var names []string
	for _, t := range j.Tasks {
		n := t.PeerName
		if n == "" && t.Peer != "" {
			n = shortID(t.Peer)
		}
		if n != "" && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return "-"
	}
	return strings.Join(names, ",")
}

// jobExitText is the exit code (or signal) of a one-task job, the distinct
// ones of a many-task job ("0,3"), "-" when none.
func jobExitText(j scavenger.Job) string {
	var out []string
	for _, t := range j.Tasks {
		if x := taskExitText(t); x != "-" && !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	if len(out) == 0 {
		return "-"
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}

// runTime is how long a job's tasks ran: from the first start to the last
// finish, or to now while running.
func runTime(j scavenger.Job, now time.Time) string {
	var start, end time.Time
	for _, t := range j.Tasks {
		if !t.Started.IsZero() && (start.IsZero() || t.Started.Before(start)) {
			start = t.Started
		}
		if t.Finished.After(end) {
			end = t.Finished
		}
	}
	if start.IsZero() {
		return "-"
	}
	if !j.State.Final() {
		end = now
	}
	if end.Before(start) {
		return "-"
	}
	return humanDuration(end.Sub(start))
}
