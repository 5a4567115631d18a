package scavenger

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"
)

// Reading a task's output, for `scavenge logs`. The home appends each
// task's stdout and stderr to files (store.go), every attempt to the same
// two, and never rewrites them: a byte offset names a place in a log for
// good, so a reader can stop and resume. Following a log waits on the job's
// events (an output event means the file grew, a task-ended event means it
// will not grow again) instead of polling the file hard.

// Output streams of a task, as LogRequest.Stream and Event.Stream name them.
const (
	StreamStdout = "stdout"
	StreamStderr = "stderr"
)

// logPollEvery is how often a followed log is read even without an event:
// output beyond the live view's limit (maxLiveOutput) goes only to the file
// and publishes no event, and this bounds how late it shows.
const logPollEvery = time.Second

// errLogStopped ends a followed log whose task was still running when the
// daemon began to stop: the log is not complete, and a reader must not
// take the end for the task's.
var errLogStopped = errors.New("the daemon is stopping")

// LogRequest says which log of which task to read.
type LogRequest struct {
	JobID  string `json:"job"`
	TaskID string `json:"task"`
	Stream string `json:"stream,omitempty"` // StreamStdout (the default) or StreamStderr
	Offset int64  `json:"offset,omitempty"` // bytes of the log to skip
	// Follow keeps reading what is appended until the task is final.
	Follow bool `json:"follow,omitempty"`
}

// NoTaskError is returned for a task ID a known job does not have. It
// matches ErrNotFound, so callers that only tell "unknown" from other errors
// need not know it.
type NoTaskError struct {
	Job, Task string
	Tasks     []string // the job's task IDs
}

func (e *NoTaskError) Error() string {
	if len(e.Tasks) == 1 {
		return fmt.Sprintf("job %s has no task %q: its only task is %s", e.Job, e.Task, e.Tasks[0])
	}
	return fmt.Sprintf("job %s has no task %q: its tasks are %s to %s", e.Job, e.Task, e.Tasks[0], e.Tasks[len(e.Tasks)-1])
}

// Is makes errors.Is(err, ErrNotFound) true.
func (e *NoTaskError) Is(target error) bool { return target == ErrNotFound }

// logFileSuffix maps a stream name to its log file's suffix (store.logPath).
func logFileSuffix(stream string) (string, error) {
	switch stream {
	case "", StreamStdout:
		return "out", nil
	case StreamStderr:
		return "err", nil
	}
	return "", fmt.Errorf("log stream %q: want %s or %s", stream, StreamStdout, StreamStderr)
}

// Logs opens one stream of a task's log at req.Offset. Reading it gives
// what the task printed so far, then io.EOF; with req.Follow it waits for
// more instead, until the task is final (io.EOF once all is read), ctx ends
// (ctx's error) or the daemon stops (an error: the log may go on). A task
// that printed nothing has an empty log. An unknown job or task is
// ErrNotFound. Close the log when done.
func (e *Engine) Logs(ctx context.Context, req LogRequest) (io.ReadCloser, error) {
	return e.home.openLog(ctx, req)
}

func (h *home) openLog(ctx context.Context, req LogRequest) (*taskLog, error) {
	suffix, err := logFileSuffix(req.Stream)
	if err != nil {
		return nil, err
	}
	if req.Offset < 0 {
		return nil, fmt.Errorf("log offset %d is negative", req.Offset)
	}
	// The IDs become a path: only ones the database holds get that far.
	j, err := h.st.get(req.JobID)
	if err != nil {
		return nil, err
	}
	t := findTask(&j, req.TaskID)
	if t == nil {
		ids := make([]string, len(j.Tasks))
		for i, t := range j.Tasks {
			ids[i] = t.ID
		}
		return nil, &NoTaskError{Job: j.ID, Task: req.TaskID, Tasks: ids}
	}
	l := &taskLog{ctx: ctx, path: h.st.logPath(j.ID, t.ID, suffix), task: t.ID, off: req.Offset, cancel: func() {}}
	if !req.Follow || t.State.Final() {
		l.ended = true
		return l, nil
	}
	// Watch replays the job's past events first, so an end that came
	// after the record above was read is among them.
	wctx, cancel := context.WithCancel(ctx)
	events, err := h.watch(wctx, j.ID)
	if err != nil {
		cancel()
		return nil, err
	}
	l.events, l.cancel = events, cancel
	l.poll = time.NewTicker(logPollEvery)
	return l, nil
}

// taskLog reads one log file from an offset, waiting on the job's events
// for more while following.
type taskLog struct {
	ctx    context.Context
	path   string
	task   string
	off    int64
	f      *os.File // nil until the file exists: a task creates it on its first output
	ended  bool     // the task is final: what the file holds is all there is
	stop   error    // the events ended early: reported once the file is read
	events <-chan Event
	cancel context.CancelFunc // ends the watch
	poll   *time.Ticker
}

func (l *taskLog) Read(p []byte) (int, error) {
	for {
		n, err := l.readFile(p)
		if n > 0 || err != nil {
			return n, err
		}
		if l.stop != nil {
			return 0, l.stop
		}
		if l.ended {
			return 0, io.EOF
		}
		if err := l.wait(); err != nil {
			return 0, err
		}
	}
}

// readFile reads what the file holds past the offset: 0 and no error at
// its end, or while the task has printed nothing on this stream.
func (l *taskLog) readFile(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if l.f == nil {
		f, err := os.Open(l.path)
		if errors.Is(err, fs.ErrNotExist) {
			return 0, nil
		}
		if err != nil {
			return 0, fmt.Errorf("task log: %w", err)
		}
		l.f = f
	}
	n, err := l.f.ReadAt(p, l.off)
	l.off += int64(n)
	if err != nil && !errors.Is(err, io.EOF) {
		return n, fmt.Errorf("task log %s at byte %d: %w", l.path, l.off, err)
	}
	return n, nil
}

// wait blocks until the log may have grown or the task ended.
func (l *taskLog) wait() error {
	select {
	case ev, ok := <-l.events:
		if err := l.note(ev, ok); err != nil {
			return err
		}
	case <-l.poll.C:
		return nil
	case <-l.ctx.Done():
		return l.ctx.Err()
	}
	// The replay of a long job, or a burst of output, is one read of the
	// file rather than one per event.
	for !l.ended && l.stop == nil {
		select {
		case ev, ok := <-l.events:
			if err := l.note(ev, ok); err != nil {
				return err
			}
		default:
			return nil
		}
	}
	return nil
}

// note takes in one event (ok false: the channel closed).
func (l *taskLog) note(ev Event, ok bool) error {
	switch {
	case !ok && l.ctx.Err() != nil:
		return l.ctx.Err()
	case !ok:
		// Closed without EventFinished: the event hub shut down.
		l.stop = errLogStopped
	case ev.Type == EventFinished:
		l.ended = true
	case ev.Type == EventTaskEnded && ev.TaskID == l.task:
		l.ended = true
	}
	return nil
}

// Close ends the watch and closes the file.
func (l *taskLog) Close() error {
	l.cancel()
	if l.poll != nil {
		l.poll.Stop()
	}
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
