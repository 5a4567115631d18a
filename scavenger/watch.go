package scavenger

import (
	"context"
	"sync"
	"time"
)

// Limits of the in-memory event logs that Watch replays.
const (
	// maxLiveOutput is the output data one job's live log keeps; beyond it
	// output goes only to the log files (a note says so once).
	maxLiveOutput = 16 << 20
	// maxRetainedOutput is the output data kept across the logs of finished
	// jobs; the oldest finished logs are dropped beyond it (Watch on such a
	// job then sends just its final record).
	maxRetainedOutput = 256 << 20
	// maxRetainedJobs caps the number of finished jobs whose logs are kept.
	maxRetainedJobs = 10000
)

// truncatedNote is the one output event that replaces a job's output beyond
// maxLiveOutput in the live view.
const truncatedNote = "output truncated in live view: see the log file"

// eventLog is one job's events, in order. It only grows: watchers read its
// events without copying them, so an event is never changed once appended.
type eventLog struct {
	events    []Event
	output    int  // bytes of output data in events
	truncated bool // output beyond maxLiveOutput was dropped
	final     bool // EventFinished is the last event
	changed   chan struct{}
}

// eventHub keeps every job's events while the daemon runs and serves any
// number of watchers. Publishing never waits for a watcher: each watcher has
// its own goroutine that reads the log at its own pace, so a slow client
// costs memory bounded by the log, never a stalled engine.
type eventHub struct {
	mu       sync.Mutex
	logs     map[string]*eventLog
	finished []string // job IDs of final logs, oldest first, for eviction
	retained int      // output bytes in final logs
	done     chan struct{}
	shutdown bool
	// limits, variables for tests
	maxLive, maxRetained, maxJobs int
}

func newEventHub() *eventHub {
	return &eventHub{logs: map[string]*eventLog{}, done: make(chan struct{}),
		maxLive: maxLiveOutput, maxRetained: maxRetainedOutput, maxJobs: maxRetainedJobs}
}

// publish appends ev to its job's log and wakes that job's watchers. Output
// data must not be changed after publishing (copy it first).
func (h *eventHub) publish(ev Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.publishLocked(ev)
}

// ensure starts a job's log with first unless it has one.
func (h *eventHub) ensure(first Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.logs[first.JobID] == nil {
		h.publishLocked(first)
	}
}

func (h *eventHub) publishLocked(ev Event) {
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	l := h.logs[ev.JobID]
	if l == nil {
		l = &eventLog{changed: make(chan struct{})}
		h.logs[ev.JobID] = l
	}
	if l.final {
		return // nothing follows EventFinished
	}
	if ev.Type == EventOutput && len(ev.Data) > 0 {
		if l.truncated {
			return
		}
		if l.output+len(ev.Data) > h.maxLive {
			l.truncated = true
			ev = Event{Type: EventOutput, Time: ev.Time, JobID: ev.JobID, TaskID: ev.TaskID,
				Stream: "stderr", Message: truncatedNote}
		}
		l.output += len(ev.Data)
	}
	l.events = append(l.events, ev)
	if ev.Type == EventFinished {
		l.final = true
		h.finished = append(h.finished, ev.JobID)
		h.retained += l.output
		h.evict()
	}
	close(l.changed)
	l.changed = make(chan struct{})
}

// evict drops the oldest finished logs beyond the retention limits. Watchers
// already following an evicted log keep their reference and finish reading.
func (h *eventHub) evict() {
	for len(h.finished) > 0 && (h.retained > h.maxRetained || len(h.finished) > h.maxJobs) {
		id := h.finished[0]
		h.finished = h.finished[1:]
		if l := h.logs[id]; l != nil {
			h.retained -= l.output
			delete(h.logs, id)
		}
	}
}

// follow streams a job's events from the first and then live. The channel
// closes after EventFinished, when ctx ends, or when the hub shuts down. ok is
// false when the hub holds no log for the job.
func (h *eventHub) follow(ctx context.Context, jobID string) (_ <-chan Event, ok bool) {
	h.mu.Lock()
	l := h.logs[jobID]
	h.mu.Unlock()
	if l == nil {
		return nil, false
	}
	out := make(chan Event, 64)
	go func() {
		defer close(out)
		next := 0
		for {
			h.mu.Lock()
			batch, final, changed := l.events[next:], l.final, l.changed
			h.mu.Unlock()
			for _, ev := range batch {
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				case <-h.done:
					return
				}
			}
			next += len(batch)
			if final {
				return
			}
			select {
			case <-changed:
			case <-ctx.Done():
				return
			case <-h.done:
				return
			}
		}
	}()
	return out, true
}

// close ends every watcher: the daemon is stopping.
func (h *eventHub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.shutdown {
		h.shutdown = true
		close(h.done)
	}
}
