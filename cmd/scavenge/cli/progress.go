package cli

import (
	"context"
	"fmt"
	"io"
	"iter"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/scavenge/scavenge/scavenger"
	"github.com/scavenge/scavenge/scavenger/client"
)

// While a job of many tasks runs, submit shows one line on a terminal,
// redrawn in place: how many tasks are done, running, queued and failed,
// the time so far and an estimate of the time left, and which peers run
// them. Events worth keeping (a task failed or was requeued) are printed
// above it. When stdout is not a terminal (a log, a pipe, CI) it prints a
// plain line per task start and end instead. The tasks' own output is not
// shown: many tasks' output interleaved is unreadable; it is in the logs.
//
// The line is drawn with a carriage return and padding spaces, not ANSI
// sequences, so it works in every console, Windows' included. This file
// has three parts: taskTracker (events in, counts out), renderProgress
// (counts to a line, a pure function) and progressView (what is printed
// when).

// taskTracker follows a many-task job's events and keeps the counts the
// progress line shows.
type taskTracker struct {
	total         int
	start         time.Time
	tasks         map[string]*trackedTask
	done, failed  int
	ran           time.Duration // run time of the tasks that exited
	ranN          int
	waiting       string // the scheduler's last reason for waiting
	lastPlainWait string // the waiting reason last printed as a line
}

// trackedTask is one task as the events tell it.
type trackedTask struct {
	peers   []string // names of the peers running it now
	started time.Time
	final   bool
}

func newTaskTracker(total int, start time.Time) *taskTracker {
	return &taskTracker{total: total, start: start, tasks: map[string]*trackedTask{}}
}

func (t *taskTracker) task(id string) *trackedTask {
	tt := t.tasks[id]
	if tt == nil {
		tt = &trackedTask{}
		t.tasks[id] = tt
	}
	return tt
}

// apply takes one event in and returns the line that tells it, if any, and
// whether that line is worth showing above a live progress line too
// (problems are; routine starts and ends are only counted there).
func (t *taskTracker) apply(ev scavenger.Event) (line string, notable bool) {
	peer := orDefault(ev.PeerName, shortID(ev.Peer))
	switch ev.Type {
	case scavenger.EventSubmitted:
		if !ev.Time.IsZero() {
			t.start = ev.Time
		}
	case scavenger.EventWaiting:
		t.waiting = ev.Message
		// Every queued task repeats the scheduler's reason, and while tasks
		// run the rest wait for a slot as a matter of course: a line is
		// worth it when nothing runs, once per new reason.
		if ev.Message != t.lastPlainWait && t.runningTasks() == 0 {
			t.lastPlainWait = ev.Message
			return "waiting: " + ev.Message, false
		}
	case scavenger.EventStarted:
		tt := t.task(ev.TaskID)
		tt.peers = append(tt.peers, peer)
		tt.started = ev.Time
		t.waiting, t.lastPlainWait = "", ""
		return fmt.Sprintf("task %s started on %s", ev.TaskID, peer), false
	case scavenger.EventRequeued:
		tt := t.task(ev.TaskID)
		if i := slices.Index(tt.peers, peer); i >= 0 {
			tt.peers = slices.Delete(tt.peers, i, i+1)
		}
		return fmt.Sprintf("task %s requeued from %s: %s", ev.TaskID, peer, orDefault(ev.Message, "it runs again on another peer")), true
	case scavenger.EventGuest:
		return fmt.Sprintf("task %s on %s: %s", ev.TaskID, peer, ev.Message), true
	case scavenger.EventTaskEnded:
		return t.ended(ev, peer)
	}
	return "", false
}

// ended counts a task's end and words it.
func (t *taskTracker) ended(ev scavenger.Event, peer string) (string, bool) {
	tt := t.task(ev.TaskID)
	if tt.final {
		return "", false // told twice (a replayed stream): counted once
	}
	tt.final, tt.peers = true, nil
	ran := ev.State == scavenger.StateDone && !tt.started.IsZero()
	if ran {
		t.ran += max(ev.Time.Sub(tt.started), 0)
		t.ranN++
	}
	why := endText(ev.State, ev.ExitCode, ev.Message)
	if why == "" {
		t.done++
		if ran {
			return fmt.Sprintf("task %s done in %s on %s", ev.TaskID, shortDuration(ev.Time.Sub(tt.started)), peer), false
		}
		return fmt.Sprintf("task %s done", ev.TaskID), false
	}
	t.failed++
	if peer != "" && ev.ExitCode != nil {
		why += " on " + peer
	}
	return fmt.Sprintf("task %s %s", ev.TaskID, why), true
}

// endText says why a task did not succeed, or "" when it did.
func endText(state scavenger.JobState, exit *int, reason string) string {
	switch {
	case state == scavenger.StateDone && (exit == nil || *exit == 0) && reason == "":
		return ""
	case state == scavenger.StateDone && exit != nil && *exit != 0:
		if reason != "" {
			return fmt.Sprintf("failed: exit %d (%s)", *exit, reason)
		}
		return fmt.Sprintf("failed: exit %d", *exit)
	case state == scavenger.StateDone:
		return "" // exit 0 with a note (e.g. after retries): a success
	case state == scavenger.StateCancelled:
		return "cancelled: " + orDefault(reason, "no reason given")
	default:
		return "failed: " + orDefault(reason, "no reason given")
	}
}

// runningTasks is the number of tasks running now.
func (t *taskTracker) runningTasks() int {
	n := 0
	for _, tt := range t.tasks {
		if !tt.final && len(tt.peers) > 0 {
			n++
		}
	}
	return n
}

// progressCounts is what the progress line shows.
type progressCounts struct {
	Total, Done, Failed, Running, Queued int
	Mean                                 time.Duration // run time of a task so far; 0 while none has exited
	Busy                                 time.Duration // time the running tasks have run, each counted up to Mean
	Start                                time.Time
	Peers                                []peerLoad // peers running tasks, by name
	Waiting                              string     // why tasks wait, when none runs
}

// peerLoad is a peer and how many tasks it runs.
type peerLoad struct {
	Name  string
	Tasks int
}

// counts sums up the tracker at now.
func (t *taskTracker) counts(now time.Time) progressCounts {
	c := progressCounts{Total: t.total, Done: t.done, Failed: t.failed, Start: t.start, Waiting: t.waiting}
	if t.ranN > 0 {
		c.Mean = t.ran / time.Duration(t.ranN)
	}
	load := map[string]int{}
	for _, tt := range t.tasks {
		if !tt.final && len(tt.peers) > 0 {
			c.Running++
			c.Busy += min(max(now.Sub(tt.started), 0), c.Mean)
			for _, p := range tt.peers {
				load[p]++
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(load)) {
		c.Peers = append(c.Peers, peerLoad{name, load[name]})
	}
	c.Queued = max(c.Total-c.Done-c.Failed-c.Running, 0)
	return c
}

// ETA is the time left: the mean run time so far for each task left, less
// what the running tasks have done of theirs, shared among the tasks
// running now. ok is false while there is nothing to estimate from.
func (c progressCounts) ETA() (d time.Duration, ok bool) {
	left := c.Total - c.Done - c.Failed
	if c.Mean == 0 || c.Running == 0 || left < 0 {
		return 0, false
	}
	return max(c.Mean*time.Duration(left)-c.Busy, 0) / time.Duration(c.Running), true
}

// The bar's width in characters: progressBarWidth when the line has room,
// less on a narrower terminal, and no bar below minProgressBar.
const (
	progressBarWidth = 20
	minProgressBar   = 8
)

// renderProgress is the progress line for c at now, cut to fit width
// characters (0: no limit).
func renderProgress(c progressCounts, now time.Time, width int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d/%d done, %d running, %d queued", c.Done, c.Total, c.Running, c.Queued)
	if c.Failed > 0 {
		fmt.Fprintf(&b, ", %d failed", c.Failed)
	}
	fmt.Fprintf(&b, " | %s", shortDuration(now.Sub(c.Start)))
	if eta, ok := c.ETA(); ok {
		fmt.Fprintf(&b, ", ETA %s", shortDuration(eta))
	}
	switch {
	case len(c.Peers) > 0:
		b.WriteString(" | on")
		for _, p := range c.Peers {
			fmt.Fprintf(&b, " %s:%d", p.Name, p.Tasks)
		}
	case c.Waiting != "":
		b.WriteString(" | waiting: " + c.Waiting)
	}
	line := b.String()
	// The bar takes what room the counts leave, up to its full width; on a
	// narrow terminal the counts matter more.
	bar := progressBarWidth
	if width > 0 {
		bar = min(bar, width-len([]rune(line))-3)
	}
	if bar >= minProgressBar {
		line = progressBar(c.Done+c.Failed, c.Total, bar) + " " + line
	}
	return cut(line, width)
}

// progressBar is "[#####.....]" with done of total filled.
func progressBar(done, total, width int) string {
	n := 0
	if total > 0 {
		n = min(done*width/total, width)
	}
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + "]"
}

// cut shortens s to width characters (0: any), marking the cut.
func cut(s string, width int) string {
	r := []rune(s)
	if width <= 0 || len(r) <= width {
		return s
	}
	if width <= 3 {
		return string(r[:width])
	}
	return string(r[:width-3]) + "..."
}

// shortDuration is a duration as a progress line shows it: "4.2s", "42s",
// "3m05s", "2h07m".
func shortDuration(d time.Duration) string {
	d = max(d, 0)
	switch {
	case d < 10*time.Second:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d/time.Minute), int(d%time.Minute/time.Second))
	default:
		return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
}

// progressView prints a job's progress: a live line on a terminal, plain
// lines otherwise.
type progressView struct {
	w       io.Writer
	tr      *taskTracker
	live    bool
	width   func() int       // the terminal's width; live only
	now     func() time.Time // the clock, replaced in tests
	shown   int              // characters of the live line now on screen
	dirty   bool             // counts changed since the line was drawn
	drawnAt time.Time
}

// liveRefresh is how often the live line is redrawn without news, so that
// the elapsed time and the estimate keep moving.
const liveRefresh = time.Second

// event takes one event in and prints what it calls for.
func (v *progressView) event(ev scavenger.Event) {
	line, notable := v.tr.apply(ev)
	if !v.live {
		if line != "" {
			fmt.Fprintln(v.w, line)
		}
		return
	}
	if notable {
		v.println(line)
	}
	v.dirty = true
}

// tick redraws the live line if anything changed, or if it has not been
// drawn for liveRefresh. Called at most 10 times a second, it is what
// throttles the drawing.
func (v *progressView) tick() {
	if !v.live {
		return
	}
	now := v.now()
	if !v.dirty && now.Sub(v.drawnAt) < liveRefresh {
		return
	}
	width := v.width()
	if width > 0 {
		width-- // a line that fills the last column wraps on some terminals
	}
	v.draw(renderProgress(v.tr.counts(now), now, width))
	v.dirty, v.drawnAt = false, now
}

// draw puts s on the live line: back to its start, s, and spaces over the
// rest of the line before.
func (v *progressView) draw(s string) {
	n := len([]rune(s))
	fmt.Fprint(v.w, "\r"+s+strings.Repeat(" ", max(v.shown-n, 0)))
	v.shown = n
}

// println prints a line of its own where the live line is; the next tick
// draws the live line again below it.
func (v *progressView) println(s string) {
	v.clear()
	fmt.Fprintln(v.w, s)
	v.dirty = true
}

// clear blanks the live line and leaves the cursor at its start.
func (v *progressView) clear() {
	if v.shown > 0 {
		fmt.Fprint(v.w, "\r"+strings.Repeat(" ", v.shown)+"\r")
		v.shown = 0
	}
}

// terminalWidth returns, when w is a terminal that can redraw a line, a
// function giving its width in characters.
func terminalWidth(e *env, w io.Writer) (func() int, bool) {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) || e.getenv("TERM") == "dumb" {
		return nil, false
	}
	return func() int {
		width, _, err := term.GetSize(int(f.Fd()))
		if err != nil || width <= 0 {
			return 80
		}
		return width
	}, true
}

// liveTick is how often the live line may be redrawn: 10 times a second
// is smooth to the eye and costs nothing.
const liveTick = 100 * time.Millisecond

// followTasks shows a many-task job's progress until it finishes, then a
// summary, and returns the command's exit: 0 when every task exited 0,
// else 1. Ctrl-C cancels the job.
func followTasks(ctx context.Context, e *env, c *client.Client, id string, total int) error {
	v := &progressView{w: e.stdout, tr: newTaskTracker(total, time.Now()), now: time.Now}
	v.width, v.live = terminalWidth(e, e.stdout)
	fmt.Fprintf(e.stdout, "job %s: %s submitted; their output goes to the job's logs: scavenge logs %s TASK\n", id, countNoun(total, "task"), id)

	streamCtx, stop := context.WithCancel(ctx)
	defer stop() // ends the stream's goroutine whichever way this returns
	events := pumpEvents(streamCtx, c.Events(streamCtx, id))
	var tick <-chan time.Time
	if v.live {
		t := time.NewTicker(liveTick)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-tick:
			v.tick()
		case r, ok := <-events:
			switch {
			case !ok && ctx.Err() != nil, ok && r.err != nil && ctx.Err() != nil:
				v.clear()
				return cancelJob(e, c, id)
			case !ok:
				v.clear()
				return fmt.Errorf("following job %s: the event stream ended early (it goes on: see 'scavenge status %s')", id, id)
			case r.err != nil:
				v.clear()
				return fmt.Errorf("following job %s: %w (it goes on: see 'scavenge status %s')", id, r.err, id)
			case r.ev.Type == scavenger.EventFinished:
				v.clear()
				return tasksFinished(ctx, e, c, r.ev)
			default:
				v.event(r.ev)
			}
		}
	}
}

// tasksFinished prints the summary of a finished job and returns its exit.
func tasksFinished(ctx context.Context, e *env, c *client.Client, ev scavenger.Event) error {
	job := ev.Job
	if job == nil { // a stream replayed after the job's log was dropped
		j, err := c.Job(context.WithoutCancel(ctx), ev.JobID)
		if err != nil {
			return fmt.Errorf("job %s finished, but: %w", ev.JobID, err)
		}
		job = &j
	}
	fmt.Fprint(e.stdout, taskSummary(*job))
	return tasksExit(*job)
}

// eventOrErr is one item of a job's event stream.
type eventOrErr struct {
	ev  scavenger.Event
	err error
}

// pumpEvents turns the event stream into a channel, so that it can be
// read beside a ticker. The goroutine ends with the stream or with ctx.
func pumpEvents(ctx context.Context, seq iter.Seq2[scavenger.Event, error]) <-chan eventOrErr {
	ch := make(chan eventOrErr)
	go func() {
		defer close(ch)
		for ev, err := range seq {
			select {
			case ch <- eventOrErr{ev, err}:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch
}

// maxFailuresListed is how many failed tasks the summary names one by one.
const maxFailuresListed = 10

// taskSummary is what submit prints when a many-task job ends: the counts,
// the failed tasks and why, and where the outputs are.
func taskSummary(j scavenger.Job) string {
	var b strings.Builder
	var failed []string
	outputs := false
	for _, t := range j.Tasks {
		outputs = outputs || len(t.Outputs) > 0
		if why := taskFailure(t); why != "" {
			failed = append(failed, fmt.Sprintf("  task %s %s\n", t.ID, why))
		}
	}
	state := string(j.State)
	if j.State == scavenger.StateDone {
		state = "finished" // "done" would say so of failed tasks too
	}
	fmt.Fprintf(&b, "job %s %s: %d of %d tasks succeeded", j.ID, state, len(j.Tasks)-len(failed), len(j.Tasks))
	if len(failed) > 0 {
		fmt.Fprintf(&b, ", %d failed", len(failed))
	}
	if !j.Finished.IsZero() && !j.Submitted.IsZero() {
		fmt.Fprintf(&b, ", in %s", shortDuration(j.Finished.Sub(j.Submitted)))
	}
	b.WriteString("\n")
	for i, f := range failed {
		if i == maxFailuresListed {
			fmt.Fprintf(&b, "  ... and %d more (see 'scavenge status %s')\n", len(failed)-i, j.ID)
			break
		}
		b.WriteString(f)
	}
	if outputs {
		fmt.Fprintf(&b, "outputs in %s%c\n", filepath.Join(j.Request.OutDir, "<task>"), filepath.Separator)
	}
	return b.String()
}

// taskFailure says why a finished task did not succeed, or "".
func taskFailure(t scavenger.Task) string {
	if t.Signal != "" {
		return fmt.Sprintf("failed: killed by signal %s on %s", t.Signal, orDefault(t.PeerName, shortID(t.Peer)))
	}
	why := endText(t.State, t.ExitCode, "")
	if !t.State.Final() {
		return "did not finish: " + string(t.State)
	}
	switch {
	case why == "":
		return ""
	case t.ExitCode != nil:
		return why + " on " + orDefault(t.PeerName, shortID(t.Peer))
	}
	return endText(t.State, t.ExitCode, t.Reason)
}

// tasksExit is a many-task job's exit: nil when every task succeeded.
func tasksExit(j scavenger.Job) error {
	failed := 0
	for _, t := range j.Tasks {
		if taskFailure(t) != "" {
			failed++
		}
	}
	switch {
	case j.State == scavenger.StateCancelled:
		return &codeError{code: exitError, err: fmt.Errorf("job %s was cancelled: %s", j.ID, orDefault(jobReason(j), "no reason given"))}
	case failed > 0:
		return &codeError{code: exitError, err: fmt.Errorf("job %s: %d of %d tasks failed", j.ID, failed, len(j.Tasks))}
	}
	return nil
}
