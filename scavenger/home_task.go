package scavenger

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/scavenge/scavenge/peer/wire"
)

// One attempt of a task on a claimed donor, the home's end of the task
// protocol: spec, inputs the donor lacks, live output, renewals, exit,
// output files, done. Its outcome decides what happens to the task next.

// taskRun is a task running (or about to) on a claimed slot.
type taskRun struct {
	key     taskKey
	req     SubmitRequest
	order   uint64 // its place in the queue, kept if it is requeued
	cand    candidate
	claimID string
	lease   time.Duration
	started bool // the donor said Started (set and read by the attempt's goroutine)
	resumed bool // it resumes from a checkpoint (set before the attempt talks)
	// released: the slot was given back to the scheduler (guarded by home.mu).
	released bool
	// cancelled is the user's reason once cancel was asked (guarded by
	// home.mu); cancelCh hands it to the attempt's control goroutine.
	cancelled string
	cancelCh  chan string
}

func newTaskRun(p *pending, c candidate, resp *wire.ClaimResponse) *taskRun {
	return &taskRun{key: p.key, req: p.req, order: p.order, cand: c, claimID: resp.ClaimID,
		lease: time.Duration(resp.LeaseMillis) * time.Millisecond, cancelCh: make(chan string, 1)}
}

// requestCancel asks the attempt to stop; the caller holds home.mu.
func (r *taskRun) requestCancel(reason string) {
	if r.cancelled != "" {
		return
	}
	r.cancelled = reason
	r.cancelCh <- reason // capacity 1 and sent once: never blocks
}

// attemptEnd is how an attempt ended.
type attemptEnd int

const (
	endExited    attemptEnd = iota // the donor reported the exit and sent the outputs
	endFailed                      // it could not run, or the donor broke the protocol
	endPreempted                   // the donor's owner took the machine back
	endLost                        // the stream broke before the attempt completed
	endShutdown                    // this daemon is stopping: the task stays as it is
)

// attemptResult is what an attempt produced.
type attemptResult struct {
	end     attemptEnd
	exit    *wire.Exit // nil when no Exit arrived
	reason  string
	outputs []string // files written under OutDir
	digest  string   // of the result (exit code, stdout, output files), for replicas
	// migrated: the task left with a checkpoint, to resume elsewhere.
	migrated bool
}

// attempt is the state of one task stream.
type attempt struct {
	h       *home
	r       *taskRun
	log     *slog.Logger
	conn    *wire.Conn
	inputs  []inputFile
	logs    *taskLogs
	started chan struct{} // closed on Started: the control goroutine renews
	logErr  bool          // a log write failed once (warned)
	// result hashes what the task produced (stdout, output files by
	// name and SHA-256), so two replicas can be compared.
	result hash.Hash
	// received counts the output files and bytes the donor sent: a donor
	// is a stranger, and this home's disk is not its to fill.
	receivedFiles int
	receivedBytes int64
	// resume is the checkpoint this attempt resumes from (nil: from
	// scratch); finalImage is set once the donor sent the image the task
	// left with.
	resume     *TaskCheckpoint
	image      *inputFile // the image of resume, sent like an input
	finalImage bool
}

// Caps on what one attempt may send home (home.outputCap): output files
// are bounded by the sum of their sizes and their number; live output by
// what the log keeps (taskLogs).
const (
	maxOutputBytes = 64 << 30
	maxOutputFiles = 100_000
)

// outputCap is the most output files and bytes one attempt may send home.
type outputCap struct {
	files int
	bytes int64
}

// runTask runs one attempt of r's task and returns how it ended.
func (h *home) runTask(ctx context.Context, r *taskRun) attemptResult {
	log := h.log.With("job", r.key.job, "task", r.key.task, "peer", r.cand.name)
	inputs, err := h.st.inputs(r.key.job)
	if err != nil {
		return attemptResult{end: endFailed, reason: err.Error()}
	}
	logs := h.st.logs(r.key.job, r.key.task)
	defer logs.close()

	openCtx, cancelOpen := context.WithTimeout(ctx, h.claimTimeout)
	s, err := h.openStream(openCtx, r.cand, wire.TaskProtocol)
	cancelOpen()
	if err != nil {
		if ctx.Err() != nil {
			return attemptResult{end: endShutdown}
		}
		return attemptResult{end: endLost, reason: fmt.Sprintf("lost %s: %v", r.cand.name, err)}
	}
	// A stopping daemon resets its streams; the donors stop the guests when
	// the leases lapse, and the next daemon requeues the tasks.
	stopReset := context.AfterFunc(ctx, func() { s.Reset() })
	defer stopReset()

	a := &attempt{h: h, r: r, log: log, conn: wire.NewConn(s), inputs: inputsOf(inputs, r.key.task), logs: logs, result: sha256.New(),
		started: make(chan struct{})}
	if ck, image := h.resumePoint(r); ck != nil {
		a.resume, a.image, r.resumed = ck, image, true
	}
	done, ctlExited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(ctlExited)
		a.control(s, done)
	}()
	res := a.converse(ctx)
	close(done)
	s.Close() // also ends a Send the control goroutine may be blocked in
	<-ctlExited
	log.Debug("attempt ended", "end", res.end, "reason", res.reason)
	return res
}

// control renews the lease every lease/3 once the task started and turns a
// cancel request into a Cancel frame (sent once the task started: before,
// the donor is busy with inputs). A donor that does not report the exit
// within cancelWait of the request is given up on.
func (a *attempt) control(s wire.Stream, done <-chan struct{}) {
	started := a.started
	isStarted, cancelReason := false, ""
	var renew <-chan time.Time
	sendCancel := func() bool {
		return a.conn.Send(&wire.Cancel{Reason: wire.CleanText(cancelReason, wire.MaxReasonLen)}) == nil
	}
	for {
		select {
		case <-done:
			return
		case <-started:
			started, isStarted = nil, true
			t := time.NewTicker(max(a.r.lease/3, 10*time.Millisecond))
			defer t.Stop()
			renew = t.C
			if cancelReason != "" && !sendCancel() {
				s.Reset()
				return
			}
		case <-renew:
			if err := a.conn.Send(&wire.Renew{}); err != nil {
				s.Reset() // the reader sees the broken stream
				return
			}
		case cancelReason = <-a.r.cancelCh:
			giveUp := time.AfterFunc(a.h.cancelWait, func() { s.Reset() })
			defer giveUp.Stop()
			if isStarted && !sendCancel() {
				s.Reset()
				return
			}
		}
	}
}

// converse runs the protocol from the spec to Done.
func (a *attempt) converse(ctx context.Context) attemptResult {
	spec := taskSpec(a.r.req, a.inputs, a.r.claimID, a.r.key)
	if ck := a.resume; ck != nil {
		spec.Resume = &wire.Resume{Backend: ck.Backend, ID: ck.ID, SHA256: ck.SHA256, Size: ck.Size}
	}
	if err := a.conn.Send(spec); err != nil {
		return a.broken(ctx, err, nil)
	}
	var exit *wire.Exit
	var outputs []string
	var next wire.Message // read already, by a checkpoint cut short
	sentInputs, started := false, false
	for {
		m := next
		if next = nil; m == nil {
			var err error
			if m, err = a.conn.Recv(); err != nil {
				res := a.broken(ctx, err, exit)
				res.outputs = outputs
				return res
			}
		}
		switch m := m.(type) {
		case *wire.Need:
			if sentInputs || started {
				return a.protocol(m, exit)
			}
			sentInputs = true
			if res, ok := a.sendInputs(ctx, m); !ok {
				return res
			}
		case *wire.GuestState:
			if !started || exit != nil {
				return a.protocol(m, exit)
			}
			a.h.markGuestState(a.r, m)
		case *wire.Started:
			if started || exit != nil {
				return a.protocol(m, exit)
			}
			started = true
			close(a.started)
			a.h.markStarted(a.r, m)
		case *wire.Output:
			a.output(m)
		case *wire.Checkpoint:
			if !started || exit != nil {
				return a.protocol(m, exit)
			}
			res, ok, after := a.receiveCheckpoint(ctx, m)
			if !ok {
				return res
			}
			next = after
		case *wire.Exit:
			if exit != nil {
				return a.protocol(m, exit)
			}
			exit = m
			if started && exitedOK(m) {
				// The donor frees a started task's slot when its process
				// ends, before this Exit: the next task may claim it while
				// this one's outputs travel. After a failure it waits until
				// the failure is counted, so a peer where a job's tasks keep
				// failing is avoided before it gets another one.
				a.h.releaseRun(a.r)
			}
		case *wire.FileHeader:
			if exit == nil {
				return a.protocol(m, exit)
			}
			dst, res, ok := a.receiveOutput(ctx, m, exit)
			if !ok {
				res.outputs = outputs
				return res
			}
			outputs = append(outputs, dst)
		case *wire.Error:
			who := a.r.cand.name
			if exit == nil {
				// The donor could not host it (its claim lapsed, its disk
				// is full): not the task's fault, so it runs elsewhere,
				// counted against the retries like a lost donor.
				return attemptResult{end: endLost, reason: who + " could not run it: " + m.Message}
			}
			return attemptResult{end: endFailed, exit: exit, reason: who + " after the exit: " + m.Message, outputs: outputs}
		case *wire.Done:
			if exit == nil {
				return a.protocol(m, exit)
			}
			return a.exited(exit, outputs)
		default:
			return a.protocol(m, exit)
		}
	}
}

// exited classifies a reported exit.
func (a *attempt) exited(exit *wire.Exit, outputs []string) attemptResult {
	a.h.e.stats().receivedCPU(exit.CPUMs)
	if exit.ResumeFailed != "" {
		why := fmt.Sprintf("checkpoint image rejected by %s, starting over: %s", a.r.cand.name, exit.ResumeFailed)
		a.h.dropCheckpoint(a.r.key, why)
		return attemptResult{end: endPreempted, exit: exit, reason: why}
	}
	if exit.Preempted {
		verb := "preempted on"
		if a.finalImage {
			verb = "migrated from"
		}
		return attemptResult{end: endPreempted, exit: exit, outputs: outputs, migrated: a.finalImage,
			reason: fmt.Sprintf("%s %s: %s", verb, a.r.cand.name, exit.Reason)}
	}
	fmt.Fprintf(a.result, "exit %d %s\n", exit.Code, exit.Signal)
	return attemptResult{end: endExited, exit: exit, outputs: outputs, digest: hex.EncodeToString(a.result.Sum(nil))}
}

// broken classifies a stream that failed before Done.
func (a *attempt) broken(ctx context.Context, err error, exit *wire.Exit) attemptResult {
	switch {
	case ctx.Err() != nil:
		return attemptResult{end: endShutdown}
	case exit != nil && (exit.Preempted || len(a.r.req.Outputs) == 0):
		// Everything that matters arrived; only Done is missing.
		return a.exited(exit, nil)
	case exit != nil:
		return attemptResult{end: endLost, exit: exit, reason: fmt.Sprintf("lost %s while it sent the outputs: %v", a.r.cand.name, err)}
	}
	return attemptResult{end: endLost, reason: fmt.Sprintf("lost %s: %v", a.r.cand.name, err)}
}

// protocolf fails the attempt on a broken promise of the donor.
func (a *attempt) protocolf(format string, args ...any) attemptResult {
	reason := fmt.Sprintf(format, args...)
	a.log.Warn("protocol error", "err", reason)
	return attemptResult{end: endFailed, reason: reason}
}

// protocol fails the attempt on a message out of place.
func (a *attempt) protocol(m wire.Message, exit *wire.Exit) attemptResult {
	a.log.Warn("protocol error", "got", m.Kind())
	return attemptResult{end: endFailed, exit: exit,
		reason: fmt.Sprintf("%s broke the task protocol: unexpected %s", a.r.cand.name, m.Kind())}
}

// sendInputs answers Need: each asked-for input, in the order asked.
func (a *attempt) sendInputs(ctx context.Context, need *wire.Need) (attemptResult, bool) {
	bySHA := map[string]inputFile{}
	for _, f := range a.inputs {
		bySHA[f.SHA] = f
	}
	if a.image != nil {
		bySHA[a.image.SHA] = *a.image
	}
	for _, sha := range need.SHA256 {
		f, ok := bySHA[sha]
		if !ok {
			return attemptResult{end: endFailed, reason: fmt.Sprintf("%s asked for input %s, which this job does not have", a.r.cand.name, sha)}, false
		}
		if err := sendFile(a.conn, f.Name, f.Path, f.SHA, f.Size, f.Mode); err != nil {
			// The file is ours to blame if it is gone or changed since submit.
			if fi, serr := os.Stat(f.Path); serr != nil || fi.Size() != f.Size || errors.Is(err, errSHA256Mismatch) {
				return attemptResult{end: endFailed, reason: fmt.Sprintf("input %s changed or vanished since submit: %v", f.Path, err)}, false
			}
			return a.broken(ctx, err, nil), false
		}
	}
	return attemptResult{}, true
}

// output logs and publishes a piece of live output.
func (a *attempt) output(m *wire.Output) {
	data := bytes.Clone(m.Data) // m.Data is only valid until the next Recv
	if !m.Stderr {
		a.result.Write(data)
	}
	if err := a.logs.write(m.Stderr, data); err != nil && !a.logErr {
		a.logErr = true
		a.log.Error("writing task output to its log", "err", err)
	}
	stream := "stdout"
	if m.Stderr {
		stream = "stderr"
	}
	a.h.hub.publish(Event{Type: EventOutput, JobID: a.r.key.job, TaskID: a.r.key.task, Stream: stream, Data: data})
}

// receiveOutput lands one output file in OutDir; ok is false when the
// attempt must end (res says how).
func (a *attempt) receiveOutput(ctx context.Context, fh *wire.FileHeader, exit *wire.Exit) (dst string, res attemptResult, ok bool) {
	who := a.r.cand.name
	if !matchesAny(a.r.req.Outputs, fh.Name) {
		return "", attemptResult{end: endFailed, exit: exit, reason: fmt.Sprintf("%s sent output %s, which matches no output pattern", who, fh.Name)}, false
	}
	a.receivedFiles++
	a.receivedBytes += fh.Size
	if limit := a.h.outputCap; a.receivedFiles > limit.files || a.receivedBytes > limit.bytes {
		return "", attemptResult{end: endFailed, exit: exit, reason: fmt.Sprintf(
			"%s sent more output than a task may return (%d files, %s at most)", who, limit.files, humanBytes(uint64(limit.bytes)))}, false
	}
	fmt.Fprintf(a.result, "\nfile %q %s\n", fh.Name, fh.SHA256)
	dst, err := outputPath(taskOutDir(a.r.req, a.r.key.task), fh.Name)
	if err == nil {
		err = receiveFile(a.conn, fh, dst)
	}
	var pathErr *fs.PathError
	var linkErr *os.LinkError
	switch {
	case err == nil:
		return dst, attemptResult{}, true
	case errors.Is(err, errSHA256Mismatch):
		return "", attemptResult{end: endFailed, exit: exit, reason: fmt.Sprintf("output %s from %s: %v", fh.Name, who, err)}, false
	case errors.As(err, &pathErr), errors.As(err, &linkErr), errors.Is(err, errOutputEscapes):
		return "", attemptResult{end: endFailed, exit: exit, reason: fmt.Sprintf("output %s: %v", fh.Name, err)}, false
	}
	return "", a.broken(ctx, err, exit), false
}

func matchesAny(globs []string, name string) bool {
	for _, g := range globs {
		if ok, _ := path.Match(g, name); ok {
			return true
		}
	}
	return false
}

// errOutputEscapes refuses an output that would land outside OutDir.
var errOutputEscapes = errors.New("would land outside the output directory")

// outputPath is where output name (a clean relative slash path, checked by
// the wire layer) lands under outDir, creating its directories. A symlink
// or file in the way is refused, so an output cannot be redirected outside
// outDir by what is already there.
func outputPath(outDir, name string) (string, error) {
	rel := filepath.FromSlash(name)
	if !filepath.IsLocal(rel) {
		return "", fmt.Errorf("%s %w", name, errOutputEscapes)
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", err
	}
	dir := outDir
	if parent := filepath.Dir(rel); parent != "." {
		for _, part := range strings.Split(parent, string(filepath.Separator)) {
			dir = filepath.Join(dir, part)
			fi, err := os.Lstat(dir)
			if errors.Is(err, fs.ErrNotExist) {
				break // the rest is created below
			}
			if err != nil {
				return "", err
			}
			if !fi.IsDir() {
				return "", fmt.Errorf("%s: %s is not a directory: %w", name, dir, errOutputEscapes)
			}
		}
	}
	dst := filepath.Join(outDir, rel)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", err
	}
	return dst, nil
}

// markStarted records that the task's process runs on its donor. Watchers
// hear it at once and the record is queued without waiting for the disk:
// the attempt goes on reading the task's output meanwhile, so no Output can
// overtake the Started, and the writer keeps the order of changes, so the
// attempt's end is always written after its start. Should the daemon die
// before the record is on disk, the task is still queued there and simply
// runs again.
func (h *home) markStarted(r *taskRun, m *wire.Started) {
	r.started = true
	h.hub.publish(Event{Type: EventStarted, JobID: r.key.job, TaskID: r.key.task, Peer: r.cand.peer, PeerName: r.cand.name})
	now := wallNow()
	h.st.updateLater(r.key.job, func(j *Job) error {
		t := findTask(j, r.key.task)
		if t == nil {
			return errSkip
		}
		t.Attempts++
		if r.resumed {
			t.Moves++
		}
		t.State, t.Peer, t.PeerName, t.Started, t.Reason = StateRunning, r.cand.peer, r.cand.name, now, ""
		t.ExitCode, t.Signal, t.Finished = nil, "", time.Time{}
		settleJob(j, now)
		return nil
	}, func(j Job, err error) {
		if err != nil {
			if !errors.Is(err, errSkip) {
				h.log.Error("recording a task's start", "job", r.key.job, "err", err)
			}
			return
		}
		attempts := 0
		if t := findTask(&j, r.key.task); t != nil {
			attempts = t.Attempts
		}
		h.log.Info("task started", "job", r.key.job, "task", r.key.task, "peer", r.cand.name, "pid", m.Pid, "attempt", attempts)
	})
}

// markGuestState records what the donor's owner policy did to the running
// task: suspended is a state of its own (the task is not lost, and its
// lease is still renewed); shared and resumed are running with a reason.
func (h *home) markGuestState(r *taskRun, m *wire.GuestState) {
	h.hub.publish(Event{Type: EventGuest, JobID: r.key.job, TaskID: r.key.task, Peer: r.cand.peer, PeerName: r.cand.name,
		Message: m.State + ": " + m.Reason})
	state := StateRunning
	if m.State == wire.GuestSuspended {
		state = StateSuspended
	}
	now := wallNow()
	h.st.updateLater(r.key.job, func(j *Job) error {
		t := findTask(j, r.key.task)
		if t == nil || t.State.Final() {
			return errSkip
		}
		t.State, t.Reason = state, m.Reason
		settleJob(j, now)
		return nil
	}, nil)
	h.log.Info("task "+m.State+" on its donor", "job", r.key.job, "task", r.key.task, "peer", r.cand.name, "reason", m.Reason)
}

// releaseRun gives r's slot back to the scheduler, once.
func (h *home) releaseRun(r *taskRun) {
	h.mu.Lock()
	released := r.released
	if !released {
		r.released = true
		h.releaseLocked(r.cand, r.req.Requirements, "")
	}
	h.mu.Unlock()
	if !released {
		h.poke()
	}
}

// finishAttempt records an attempt's outcome: the task ends (exited,
// failed, cancelled) or goes back to the queue (preempted, lost) until it has
// used up its retries.
func (h *home) finishAttempt(r *taskRun, res attemptResult) {
	h.mu.Lock()
	cancelled := r.cancelled
	if res.end == endShutdown && cancelled == "" {
		// Left as it is: the next daemon on this home requeues it.
		delete(h.runs, r.key)
		h.mu.Unlock()
		return
	}
	// The donor freed the slot when the process ended: the next task may
	// claim it while this outcome is written.
	h.mu.Unlock()
	h.releaseRun(r)

	if len(res.outputs) > 0 {
		h.hub.publish(Event{Type: EventOutputs, JobID: r.key.job, TaskID: r.key.task, Files: res.outputs})
	}
	requeued, failedHere, elsewhere := false, false, ""
	dropImage := ""
	h.beginEnding(r.key.job)
	var final *Job
	defer func() { h.endEnding(r.key.job, final) }()
	j, err := h.st.update(r.key.job, func(j *Job) error {
		t := findTask(j, r.key.task)
		if t == nil || t.State.Final() {
			return errSkip // the first result of a task wins
		}
		requeued, failedHere, elsewhere = false, false, ""
		now := wallNow()
		if !r.started {
			t.Attempts++ // it reached a donor, although it never started there
		}
		if e := res.exit; e != nil && (res.end == endExited || res.end == endFailed || cancelled != "") {
			code := e.Code
			t.ExitCode, t.Signal = &code, e.Signal
		}
		t.Outputs = res.outputs
		if res.end == endPreempted || res.end == endLost {
			t.WorkLost += workLost(t, t.Started, now, res.migrated)
		}
		switch {
		case cancelled != "":
			t.State, t.Reason = StateCancelled, cancelled
		case res.end == endExited && res.exit.Error != "":
			t.State, t.Reason = StateFailed, res.exit.Error
		case res.end == endExited && r.req.Replicas > 1 && exitedOK(res.exit):
			requeued = replicaDone(t, r, res.digest)
			if requeued && len(t.Replicas) == 1 {
				elsewhere = r.cand.peer // the second replica runs on another peer
			}
		case res.end == endExited && !exitedOK(res.exit) && t.Failures < r.req.Retries:
			// A failure, to run again elsewhere up to the job's retries.
			t.Failures++
			failedHere, requeued = true, true
			t.State, t.Reason = StateQueued, fmt.Sprintf("%s on %s; retry %d of %d", exitText(res.exit), r.cand.name, t.Failures, r.req.Retries)
		case res.end == endExited:
			failedHere = !exitedOK(res.exit)
			t.State, t.Reason = StateDone, res.exit.Reason
		case res.end == endFailed:
			t.State, t.Reason = StateFailed, res.reason
		case res.migrated:
			// Moved with its work: not a preemption, and no retry is used.
			t.State, t.Reason, requeued = StateQueued, res.reason, true
		default: // preempted or lost: not the task's fault
			if res.end == endPreempted {
				t.Preemptions++
			} else {
				t.Lost++
			}
			if t.Preemptions+t.Lost > h.e.opts.Home.Retries {
				t.State, t.Reason = StateFailed, retriesReason(t, res.reason)
			} else {
				t.State, t.Reason, requeued = StateQueued, res.reason, true
			}
		}
		if t.State.Final() {
			t.Finished = now
			if t.Checkpoint != nil {
				dropImage = h.checkpointPath(r.key, t.Checkpoint.SHA256)
			}
		}
		settleJob(j, now)
		return nil
	})
	if err != nil && !errors.Is(err, errSkip) {
		h.log.Error("recording a task's end", "job", r.key.job, "task", r.key.task, "err", err)
	}
	if dropImage != "" && err == nil {
		os.Remove(dropImage) // the record keeps its description, for status
	}

	h.mu.Lock()
	if failedHere && err == nil {
		h.countFailureLocked(r.key.job, r.cand)
	}
	// Only now: until the outcome is written, cancel must find the run
	// here and leave the database to this function.
	delete(h.runs, r.key)
	cancelledNow := r.cancelled
	if requeued {
		// Published before the task is back in the queue, so that its next
		// Started cannot come first.
		h.hub.publish(Event{Type: EventRequeued, JobID: r.key.job, TaskID: r.key.task,
			Peer: r.cand.peer, PeerName: r.cand.name, Message: res.reason})
		if cancelledNow == "" {
			h.requeueLocked(r.key, r.req, time.Now(), r.order, elsewhere)
		}
	}
	h.mu.Unlock()

	switch {
	case requeued && cancelledNow != "":
		// Cancelled while its outcome was being recorded.
		h.endTask(r.key, StateCancelled, cancelledNow, nil)
	case requeued:
		h.log.Info("task requeued", "job", r.key.job, "task", r.key.task, "reason", res.reason)
		h.poke()
	case err == nil:
		h.taskEnded(j, r.key.task)
		final = &j
	}
}

// replicaDone records one successful replica of a job with Replicas = 2
// and says whether the task runs again: after the first, on another peer;
// after a second that disagrees, both run again (a failure, up to the
// job's retries). Two that agree complete the task.
func replicaDone(t *Task, r *taskRun, digest string) (again bool) {
	result := r.cand.peer + "=" + digest
	if len(t.Replicas) == 0 {
		t.Replicas = []string{result}
		t.State, t.Reason = StateQueued, fmt.Sprintf("replica 1 of 2 done on %s; running it on another peer", r.cand.name)
		return true
	}
	first, _, _ := strings.Cut(t.Replicas[0], "=")
	if strings.HasSuffix(t.Replicas[0], "="+digest) {
		t.Replicas = append(t.Replicas, result)
		t.State, t.Reason = StateDone, "2 replicas agree ("+abbrevPeer(first)+", "+r.cand.name+")"
		return false
	}
	mismatch := fmt.Sprintf("replicas disagree: %s and %s gave different results", abbrevPeer(first), r.cand.name)
	t.Replicas = nil
	if t.Failures >= r.req.Retries {
		t.State, t.Reason = StateFailed, mismatch
		return false
	}
	t.Failures++
	t.State, t.Reason = StateQueued, mismatch+"; running both again"
	return true
}

// exitedOK reports whether an exit is a success: code 0, no signal.
func exitedOK(e *wire.Exit) bool { return e.Code == 0 && e.Signal == "" && e.Error == "" }

// exitText says how a process ended: "exit 3", "killed by terminated".
func exitText(e *wire.Exit) string {
	switch {
	case e.Error != "":
		return e.Error
	case e.Signal != "":
		return "killed by " + e.Signal
	}
	return fmt.Sprintf("exit %d", e.Code)
}

// maxDonorFailures is how many of a job's tasks may fail on one peer
// before the job stops sending it more.
const maxDonorFailures = 2

// countFailureLocked notes that a task of job failed on c's peer.
func (h *home) countFailureLocked(job string, c candidate) {
	if h.failedOn[job] == nil {
		h.failedOn[job] = map[string]int{}
	}
	h.failedOn[job][c.peer]++
	if h.failedOn[job][c.peer] >= maxDonorFailures {
		if h.avoid[job] == nil {
			h.avoid[job] = map[string]bool{}
		}
		if !h.avoid[job][c.peer] {
			h.log.Warn("avoiding a peer for this job: its tasks keep failing there", "job", job, "peer", c.name)
		}
		h.avoid[job][c.peer] = true
	}
}

// taskEnded publishes EventTaskEnded once task id of j is final.
func (h *home) taskEnded(j Job, id string) {
	t := findTask(&j, id)
	if t == nil || !t.State.Final() {
		return
	}
	h.hub.publish(Event{Type: EventTaskEnded, JobID: j.ID, TaskID: id, Peer: t.Peer, PeerName: t.PeerName,
		State: t.State, ExitCode: t.ExitCode, Message: t.Reason})
}

// retriesReason says why a task that kept being preempted or losing its
// donor was given up on.
func retriesReason(t *Task, last string) string {
	var parts []string
	if t.Preemptions > 0 {
		parts = append(parts, "preempted "+timesText(t.Preemptions))
	}
	if t.Lost > 0 {
		parts = append(parts, "donor lost "+timesText(t.Lost))
	}
	return fmt.Sprintf("%s (last: %s)", strings.Join(parts, ", "), last)
}

func timesText(n int) string {
	if n == 1 {
		return "1 time"
	}
	return fmt.Sprintf("%d times", n)
}
