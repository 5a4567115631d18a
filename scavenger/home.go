package scavenger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/scavenge/scavenge/peer/wire"
)

// The home side keeps the jobs submitted on this machine and drives them:
// it queues their tasks, claims idle peers for them (home_match.go decides
// which), runs each over the task protocol (home_task.go), and records every
// change in the job database (store.go) and the live event logs (watch.go).

// Timing of the home side.
const (
	// homeClaimTimeout bounds one claim round trip; a claim is one request
	// and one answer, so a peer that takes longer is treated as unreachable.
	homeClaimTimeout = 5 * time.Second
	// homeTick is the scheduler's fallback period: it also reacts at once to
	// new submissions, changed offers and freed slots.
	homeTick = 250 * time.Millisecond
	// homeCancelWait is how long a cancelled task's donor has to report the
	// exit before the home gives up on it and resets the stream.
	homeCancelWait = 15 * time.Second
	// waitingEvery is how often a queued task's watchers hear that the
	// reason it waits changed. Under load the sentence (which counts free
	// slots) changes with nearly every dispatch, and an event per queued
	// task each time would cost more than the dispatching itself; Job and
	// Jobs always show the current one.
	waitingEvery = time.Second
	// reasonRestarted is what a task left running by a previous daemon says.
	reasonRestarted = "home daemon restarted"
	// reasonCancelled is the cancel reason when the user gave none.
	reasonCancelled = "cancelled by user"
)

// errHomeClosed is returned by submit after the daemon began stopping.
var errHomeClosed = errors.New("the home side is shut down")

// taskKey names one task of one job.
type taskKey struct{ job, task string }

// pending is a task waiting in the queue for a donor.
type pending struct {
	key       taskKey
	req       SubmitRequest
	order     uint64    // place in the queue: a requeued task keeps its own
	notOn     string    // a peer it must not run on (its other replica ran there)
	kind      string    // taskKind of req: tasks of a kind match the same peers
	since     time.Time // queued at: the wait timeout counts from here
	placing   bool      // claims for it are in flight
	cancelled string    // set by cancel while placing: the placer finishes it
	waiting   string    // why it waits now: Job and Jobs show it
	announced string    // the last waiting sentence published as an event
	lastSaid  time.Time // when it was published
}

// enqueueLocked puts a task at the end of the queue.
func (h *home) enqueueLocked(k taskKey, req SubmitRequest, since time.Time) {
	h.lastOrder++
	h.requeueLocked(k, req, since, h.lastOrder, "")
}

// requeueLocked puts a task back in the queue at its first place, so a task
// preempted on a donor runs before the ones submitted after it.
func (h *home) requeueLocked(k taskKey, req SubmitRequest, since time.Time, order uint64, notOn string) {
	p := &pending{key: k, req: req, since: since, order: order, notOn: notOn,
		kind: taskKind(req.Requirements, req.AllowLocal || h.e.opts.Home.AllowLocal)}
	i := len(h.queue)
	for i > 0 && h.queue[i-1].order > order {
		i--
	}
	h.queue = slices.Insert(h.queue, i, p)
}

// home is the home side of an Engine.
type home struct {
	e      *Engine
	log    *slog.Logger
	st     *store
	hub    *eventHub
	hashes *inputHashes  // inputs' SHA-256, remembered across submits
	wake   chan struct{} // capacity 1: something worth a dispatch happened

	// Timing; variables so tests can shorten them.
	claimTimeout, tick, cancelWait time.Duration
	outputCap                      outputCap

	mu     sync.Mutex
	closed bool
	queue  []*pending // in submission order
	// failedOn counts, per job and peer, the tasks that exited non-zero
	// there; avoid holds the peers that reached maxDonorFailures.
	failedOn map[string]map[string]int
	avoid    map[string]map[string]bool
	// ending counts, per job, the task ends being recorded; finished
	// holds the job's final record until the last of them has published
	// its task-ended event (see beginEnding).
	ending    map[string]int
	finished  map[string]Job
	lastOrder uint64 // the order of the last task queued
	runs      map[taskKey]*taskRun
	views     map[string]slotView // per peer: what we changed since its offer
	ours      map[string]slotUse  // per peer: our claims in flight and tasks running there
	seqs      map[string]uint64   // per peer: the newest offer sequence seen
	localNote string              // why this machine refused the last local claim
	// localClaims is the slots and memory of local claims in flight: the
	// donor side counts a claim as soon as it accepts, but not before.
	localClaims struct {
		cpus   int
		memory uint64
	}
	wg sync.WaitGroup // placement and task goroutines
}

// newHome opens the job database and requeues the tasks a previous daemon
// left unfinished, so their work continues when run starts.
func newHome(e *Engine) (*home, error) {
	if e.opts.DBPath == "" {
		return nil, errors.New("scavenger: Options.DBPath is required")
	}
	st, err := openStore(e.opts.DBPath, storeLockTimeout)
	if err != nil {
		return nil, err
	}
	h := &home{
		e: e, log: e.log.With("component", "home"), st: st, hub: newEventHub(), hashes: newInputHashes(),
		wake:         make(chan struct{}, 1),
		claimTimeout: homeClaimTimeout, tick: homeTick, cancelWait: homeCancelWait,
		outputCap: outputCap{files: maxOutputFiles, bytes: maxOutputBytes},
		runs:      map[taskKey]*taskRun{}, views: map[string]slotView{}, ours: map[string]slotUse{}, seqs: map[string]uint64{},
		failedOn: map[string]map[string]int{}, avoid: map[string]map[string]bool{},
		ending: map[string]int{}, finished: map[string]Job{},
	}
	jobs, requeued, err := st.recoverUnfinished(reasonRestarted)
	if err != nil {
		st.close()
		return nil, err
	}
	now := time.Now()
	for _, j := range jobs {
		h.hub.publish(Event{Type: EventSubmitted, Time: j.Submitted, JobID: j.ID})
		for _, t := range requeued[j.ID] {
			h.hub.publish(Event{Type: EventRequeued, JobID: j.ID, TaskID: t, Message: reasonRestarted})
		}
		for _, t := range j.Tasks {
			if t.State == StateQueued {
				h.enqueueLocked(taskKey{j.ID, t.ID}, j.Request, now)
			}
		}
	}
	if len(jobs) > 0 {
		h.log.Info("resuming unfinished jobs", "jobs", len(jobs), "tasks", len(h.queue))
	}
	return h, nil
}

// run is the scheduler: it places queued tasks whenever something changed
// (a submission, new offers, a freed slot) and at least every tick. When ctx
// ends it stops every claim and task stream (donors stop the guests when
// their leases lapse; a restarted home requeues them) and closes the database.
func (h *home) run(ctx context.Context) error {
	tick := time.NewTicker(h.tick)
	defer tick.Stop()
	offersChanged := h.e.opts.Mesh.OffersChanged()
	for {
		h.dispatch(ctx)
		select {
		case <-ctx.Done():
			h.mu.Lock()
			h.closed = true
			h.mu.Unlock()
			h.wg.Wait()
			h.hub.close()
			if err := h.st.close(); err != nil {
				h.log.Error("closing the job database", "err", err)
			}
			return nil
		case <-h.wake:
		case <-offersChanged:
		case <-tick.C:
			// This machine is asked again each tick; remote peers that
			// refused are asked again when they publish a new offer.
			h.mu.Lock()
			h.localNote = ""
			h.mu.Unlock()
		}
	}
}

// poke asks the scheduler for a dispatch; it never blocks.
func (h *home) poke() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// peers lists the other peers' offers, sorted by name then ID.
func (h *home) peers() []PeerInfo {
	now := time.Now()
	var out []PeerInfo
	for _, o := range h.e.opts.Mesh.Offers() {
		if o.Peer == h.e.ID() {
			continue
		}
		out = append(out, PeerInfo{Offer: o, AgeMillis: max(now.Sub(o.Issued), 0).Milliseconds()})
	}
	slices.SortFunc(out, func(a, b PeerInfo) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.Peer, b.Peer)
	})
	return out
}

// submit checks a request, hashes its inputs, stores the job and queues its
// task. Nothing is stored when the request is bad.
func (h *home) submit(ctx context.Context, req SubmitRequest) (string, error) {
	inputs, err := checkRequest(&req)
	if err != nil {
		return "", err
	}
	for i := range inputs {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		f := &inputs[i]
		if f.SHA, f.Size, err = h.hashes.sum(f.Path); err != nil {
			return "", fmt.Errorf("input %s: %w", f.Path, err)
		}
	}
	id := newJobID()
	if req.OutDir == "" {
		cwd := req.Cwd
		if cwd == "" {
			if cwd, err = os.Getwd(); err != nil {
				return "", fmt.Errorf("default output directory: %w", err)
			}
		}
		req.OutDir = filepath.Join(cwd, "scavenge-out", id)
	}
	// The donor checks the spec again; checking here first turns a task
	// every donor would refuse into an error the user sees at once.
	now := wallNow()
	j := Job{ID: id, Request: req, State: StateQueued, Submitted: now}
	for _, tid := range taskIDs(req) {
		if err := taskSpec(req, inputs, "check", taskKey{id, tid}).Validate(); err != nil {
			return "", fmt.Errorf("bad job: task %s: %w", tid, err)
		}
		j.Tasks = append(j.Tasks, Task{ID: tid, State: StateQueued})
	}
	if err := h.st.create(j, inputs); err != nil {
		if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
			return "", errHomeClosed
		}
		return "", err
	}
	h.hub.publish(Event{Type: EventSubmitted, Time: now, JobID: id})
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		// Stored but not queued: the next daemon on this home runs it.
		return id, nil
	}
	for _, t := range j.Tasks {
		h.enqueueLocked(taskKey{id, t.ID}, req, now)
	}
	h.log.Info("job submitted", "job", id, "name", req.Name, "argv", req.Argv, "tasks", len(j.Tasks), "inputs", len(inputs))
	h.poke()
	return id, nil
}

// checkRequest validates a request before anything is stored and returns
// its inputs (not yet hashed). Every error names the field or file at fault.
func checkRequest(req *SubmitRequest) ([]inputFile, error) {
	var errs []error
	if len(req.Tasks) == 0 && (len(req.Argv) == 0 || req.Argv[0] == "") {
		errs = append(errs, errNoCommand)
	}
	if req.OutDir != "" && !filepath.IsAbs(req.OutDir) {
		errs = append(errs, fmt.Errorf("output directory %q is not an absolute path", req.OutDir))
	}
	if req.Cwd != "" && !filepath.IsAbs(req.Cwd) {
		errs = append(errs, fmt.Errorf("working directory %q is not an absolute path", req.Cwd))
	}
	if req.Requirements.CPUs < 0 {
		errs = append(errs, fmt.Errorf("cpus %d is negative", req.Requirements.CPUs))
	}
	if req.WaitTimeout < 0 {
		errs = append(errs, fmt.Errorf("wait timeout %s is negative", req.WaitTimeout))
	}
	switch req.Checkpoint {
	case "", "none":
		if req.CheckpointEvery != 0 {
			errs = append(errs, fmt.Errorf("checkpoint_every %s without a checkpoint backend", req.CheckpointEvery))
		}
	case wire.BackendCRIU, wire.BackendSignal:
		req.Requirements.Checkpoint = req.Checkpoint
		if req.CheckpointEvery < 0 {
			errs = append(errs, fmt.Errorf("checkpoint_every %s is negative", req.CheckpointEvery))
		}
		if req.Replicas > 1 {
			errs = append(errs, fmt.Errorf("checkpoint %s with %d replicas: the replicas would share one checkpoint", req.Checkpoint, req.Replicas))
		}
	default:
		errs = append(errs, fmt.Errorf("checkpoint %q is not criu, signal or none", req.Checkpoint))
	}
	for _, g := range req.Outputs {
		if _, err := path.Match(g, ""); err != nil {
			errs = append(errs, fmt.Errorf("output glob %q: %w", g, err))
		} else if err := wire.CheckRelPath(g); err != nil {
			errs = append(errs, fmt.Errorf("output glob %q: %w", g, err))
		}
	}
	var inputs []inputFile
	byName := map[string]string{}
	for _, p := range req.Inputs {
		if !filepath.IsAbs(p) && req.Cwd != "" {
			p = filepath.Join(req.Cwd, p)
		}
		f, err := checkInput(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if other, ok := byName[f.Name]; ok {
			errs = append(errs, fmt.Errorf("inputs %s and %s would both be %s in the task directory", other, p, f.Name))
			continue
		}
		byName[f.Name] = p
		inputs = append(inputs, f)
	}
	own, taskErrs := checkTasks(req, inputs)
	inputs = append(inputs, own...)
	errs = append(errs, taskErrs...)
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("bad job: %w", err)
	}
	return inputs, nil
}

// checkInput requires an input to be a readable regular file. A relative
// path is relative to the daemon's working directory (the CLI sends
// absolute paths; checkRequest resolves against the request's Cwd first).
func checkInput(p string) (inputFile, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return inputFile{}, fmt.Errorf("input %s: %w", p, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return inputFile{}, fmt.Errorf("input %w", err) // names the path
	}
	if !fi.Mode().IsRegular() {
		return inputFile{}, fmt.Errorf("input %s is not a regular file", abs)
	}
	f, err := os.Open(abs)
	if err != nil {
		return inputFile{}, fmt.Errorf("input %w", err)
	}
	f.Close()
	name := filepath.Base(abs)
	if err := wire.CheckRelPath(name); err != nil {
		return inputFile{}, fmt.Errorf("input %s: %w", abs, err)
	}
	// The guest runs as another user on another machine, where this
	// machine's owner and group bits mean nothing: what travels is whether
	// the file is executable.
	mode := uint32(0o644)
	if fi.Mode().Perm()&0o111 != 0 {
		mode = 0o755
	}
	return inputFile{Path: abs, Name: name, Mode: mode}, nil
}

// taskSpec is the TaskSpec of one attempt of a task.
func taskSpec(req SubmitRequest, inputs []inputFile, claimID string, k taskKey) *wire.TaskSpec {
	mine := inputsOf(inputs, k.task)
	refs := make([]wire.FileRef, len(mine))
	for i, f := range mine {
		refs[i] = f.ref()
	}
	argv, env := taskCommand(req, k.task)
	return &wire.TaskSpec{ClaimID: claimID, JobID: k.job, TaskID: k.task, Argv: argv, Env: env,
		Inputs: refs, Outputs: req.Outputs, CPUs: needCPUs(req.Requirements), MemoryBytes: req.Requirements.MemoryBytes,
		TimeoutMs: req.TaskTimeout.Milliseconds(), Checkpoint: checkpointBackend(req), CheckpointEveryMs: req.CheckpointEvery.Milliseconds()}
}

// checkpointBackend is the backend req's tasks are checkpointed with, ""
// for none.
func checkpointBackend(req SubmitRequest) string {
	if req.Checkpoint == "none" {
		return ""
	}
	return req.Checkpoint
}

// jobs lists the stored jobs, newest first.
func (h *home) jobs() ([]Job, error) {
	jobs, err := h.st.list()
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	waiting := h.waitingLocked()
	h.mu.Unlock()
	for i := range jobs {
		overlayWaiting(&jobs[i], waiting)
	}
	return jobs, nil
}

// job returns one stored job.
func (h *home) job(id string) (Job, error) {
	j, err := h.st.get(id)
	if err != nil {
		return Job{}, err
	}
	h.mu.Lock()
	waiting := h.waitingLocked()
	h.mu.Unlock()
	overlayWaiting(&j, waiting)
	return j, nil
}

// waitingLocked says why each queued task waits. That sentence changes with
// every offer, so it lives in memory (and in EventWaiting) rather than
// costing a database write for every queued task each time; jobs and job
// lay it over the stored records.
func (h *home) waitingLocked() map[taskKey]string {
	out := map[taskKey]string{}
	for _, p := range h.queue {
		if p.waiting != "" {
			out[p.key] = p.waiting
		}
	}
	return out
}

func overlayWaiting(j *Job, waiting map[taskKey]string) {
	if j.State.Final() || len(waiting) == 0 {
		return
	}
	for i := range j.Tasks {
		t := &j.Tasks[i]
		if why, ok := waiting[taskKey{j.ID, t.ID}]; ok && t.State == StateQueued {
			t.Reason = why
		}
	}
	settleJob(j, j.Finished)
}

// watch streams a job's events from its start, then live. A job that ended
// before this daemon started has no events in memory: it gets its final
// record as one EventFinished.
func (h *home) watch(ctx context.Context, jobID string) (<-chan Event, error) {
	if ch, ok := h.hub.follow(ctx, jobID); ok {
		return ch, nil
	}
	j, err := h.st.get(jobID)
	if err != nil {
		return nil, err
	}
	if !j.State.Final() {
		// Unfinished jobs get a log when stored or recovered, so this one
		// was stored just now: start its log if submit has not yet.
		h.hub.ensure(Event{Type: EventSubmitted, Time: j.Submitted, JobID: j.ID})
		if ch, ok := h.hub.follow(ctx, jobID); ok {
			return ch, nil
		}
	}
	ch := make(chan Event, 1)
	ch <- Event{Type: EventFinished, Time: j.Finished, JobID: j.ID, Job: &j}
	close(ch)
	return ch, nil
}

// cancel stops a job: queued tasks are cancelled at once, running ones are
// asked to stop and become cancelled when their donor reports the exit.
func (h *home) cancel(jobID, reason string) error {
	j, err := h.st.get(jobID)
	if err != nil {
		return err
	}
	if j.State.Final() {
		return fmt.Errorf("job %s has already finished: %s", jobID, j.State)
	}
	if reason == "" {
		reason = reasonCancelled
	}
	h.mu.Lock()
	var now []string // task IDs to cancel here
	known := map[string]bool{}
	for i := 0; i < len(h.queue); {
		p := h.queue[i]
		if p.key.job != jobID {
			i++
			continue
		}
		known[p.key.task] = true
		if p.placing {
			p.cancelled = reason
			i++
			continue
		}
		h.queue = slices.Delete(h.queue, i, i+1)
		now = append(now, p.key.task)
	}
	for k, r := range h.runs {
		if k.job == jobID {
			known[k.task] = true
			r.requestCancel(reason)
		}
	}
	h.mu.Unlock()
	// A task the scheduler does not hold (it cannot be running) is
	// cancelled in the database directly.
	for _, t := range j.Tasks {
		if !t.State.Final() && !known[t.ID] {
			now = append(now, t.ID)
		}
	}
	h.log.Info("cancelling job", "job", jobID, "reason", reason)
	for _, t := range now {
		h.endTask(taskKey{jobID, t}, StateCancelled, reason, nil)
	}
	return nil
}

// dispatch starts placing every queued task that has candidates, fails the
// ones that waited too long, and tells the others' watchers why they wait.
func (h *home) dispatch(ctx context.Context) {
	offers := h.e.opts.Mesh.Offers()
	self := h.e.ID()
	now := time.Now()
	var local *wire.Offer
	type note struct {
		key taskKey
		why string
	}
	var waits, expired []note

	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	for _, o := range offers {
		h.seqs[o.Peer] = max(h.seqs[o.Peer], o.Seq)
	}
	// Placing only takes slots, so once tasks of one kind found no peer in
	// this round, later ones of that kind will not either: a long queue
	// costs one match per kind, not one per task.
	unplaced := map[string]string{}
	for i := 0; i < len(h.queue); {
		p := h.queue[i]
		if p.placing {
			i++
			continue
		}
		var cands []candidate
		kind := p.kind
		avoid := h.avoid[p.key.job]
		if len(avoid) > 0 || p.req.Rank != RankDefault {
			kind += "|" + p.key.job // its own peers, or its own order
		}
		if p.notOn != "" {
			avoid = maps.Clone(avoid)
			if avoid == nil {
				avoid = map[string]bool{}
			}
			avoid[p.notOn] = true
			kind += "|" + p.key.task
		}
		why, known := unplaced[kind]
		if !known {
			allowLocal := p.req.AllowLocal || h.e.opts.Home.AllowLocal
			in := matchInput{now: now, req: p.req.Requirements, self: self, offers: offers, views: h.views, ours: h.ours,
				rank: p.req.Rank, avoid: avoid}
			if allowLocal {
				if local == nil {
					local = h.localOffer(now)
				}
				in.local, in.localNote = local, h.localNote
			}
			cands, why = match(in)
		}
		if len(cands) == 0 {
			unplaced[kind] = why
			if wait := h.waitTimeout(p.req); wait > 0 && now.Sub(p.since) >= wait {
				h.queue = slices.Delete(h.queue, i, i+1)
				expired = append(expired, note{p.key, fmt.Sprintf("no idle peer within %s: %s", wait, why)})
				continue
			}
			p.waiting = why
			if why != p.announced && (p.lastSaid.IsZero() || now.Sub(p.lastSaid) >= waitingEvery) {
				p.announced, p.lastSaid = why, now
				waits = append(waits, note{p.key, why})
			}
			i++
			continue
		}
		p.placing = true
		h.reserveLocked(cands[0], p.req.Requirements)
		if cands[0].local {
			local.FreeCPUs = max(local.FreeCPUs-needCPUs(p.req.Requirements), 0)
			local.FreeMemoryBytes -= min(local.FreeMemoryBytes, p.req.Requirements.MemoryBytes)
		}
		h.wg.Add(1)
		go h.place(ctx, p, cands)
		i++
	}
	h.mu.Unlock()

	for _, n := range waits {
		h.hub.publish(Event{Type: EventWaiting, JobID: n.key.job, TaskID: n.key.task, Message: n.why})
	}
	for _, n := range expired {
		h.log.Info("giving up on a task", "job", n.key.job, "task", n.key.task, "reason", n.why)
		h.endTask(n.key, StateFailed, n.why, nil)
	}
}

// taskKind groups tasks that match the same peers.
func taskKind(r Requirements, allowLocal bool) string {
	return fmt.Sprintf("%d|%d|%s|%s|%q|%v", r.CPUs, r.MemoryBytes, r.OS, r.Arch, r.Labels, allowLocal)
}

// waitTimeout is how long a task may wait for a peer; 0 means forever.
func (h *home) waitTimeout(req SubmitRequest) time.Duration {
	if req.WaitTimeout > 0 {
		return req.WaitTimeout
	}
	return h.e.opts.Home.WaitTimeout
}

// localOffer is this machine as a candidate for allow_local jobs: the donor
// side's offer as it would publish it now, less the claims in flight.
func (h *home) localOffer(now time.Time) *wire.Offer {
	o := h.e.donor.offer()
	o.Peer, o.Issued, o.Expires = h.e.ID(), now, now.Add(time.Minute)
	o.FreeCPUs = max(o.FreeCPUs-h.localClaims.cpus, 0)
	o.FreeMemoryBytes -= min(o.FreeMemoryBytes, h.localClaims.memory)
	return &o
}

// reserveLocked counts a claim about to be made on c against c's offer, so
// other tasks placed before c's next offer do not count on the same slots.
func (h *home) reserveLocked(c candidate, r Requirements) {
	if c.local {
		h.localClaims.cpus += needCPUs(r)
		h.localClaims.memory += r.MemoryBytes
		return
	}
	v := h.views[c.peer]
	if v.seq != c.seq {
		v = slotView{seq: c.seq}
	}
	v.cpus -= needCPUs(r)
	v.memory -= int64(r.MemoryBytes)
	h.views[c.peer] = v
	h.useLocked(c.peer, r, 1)
}

// useLocked counts (sign 1) or stops counting (sign -1) a slot of ours at
// peer: a claim about to be made, then the task running on it.
func (h *home) useLocked(peer string, r Requirements, sign int) {
	u := h.ours[peer]
	u.cpus += sign * needCPUs(r)
	if sign > 0 {
		u.memory += r.MemoryBytes
	} else {
		u.memory -= min(u.memory, r.MemoryBytes)
	}
	if u.cpus <= 0 {
		delete(h.ours, peer)
		return
	}
	h.ours[peer] = u
}

// unreserveLocked undoes reserveLocked for a claim not made after all (or,
// for this machine, answered: the donor side counts it from then on).
func (h *home) unreserveLocked(c candidate, r Requirements) {
	if c.local {
		h.localClaims.cpus -= needCPUs(r)
		h.localClaims.memory -= r.MemoryBytes
		return
	}
	h.useLocked(c.peer, r, -1)
	if v, ok := h.views[c.peer]; ok && v.seq == c.seq {
		v.cpus += needCPUs(r)
		v.memory += int64(r.MemoryBytes)
		h.views[c.peer] = v
	}
}

// releaseLocked gives back a slot of c: either a claim there was refused
// (refused says why, and the peer is skipped until its next offer) or a task
// of ours there ended (refused is empty: it has room again, although its
// newest offer still counts our slot as taken).
func (h *home) releaseLocked(c candidate, r Requirements, refused string) {
	if c.local {
		if refused != "" {
			h.localNote = refused
		}
		return
	}
	h.useLocked(c.peer, r, -1)
	seq := max(h.seqs[c.peer], c.seq)
	v := h.views[c.peer]
	fresh := v.seq != seq
	if fresh {
		v = slotView{seq: seq} // deltas against an older offer no longer count
	}
	// A refused claim's reservation is undone only if it still counts; an
	// ended task always frees its slot.
	if refused == "" || !fresh && seq == c.seq {
		v.cpus += needCPUs(r)
		v.memory += int64(r.MemoryBytes)
	}
	v.refused = refused
	h.views[c.peer] = v
}

// place claims the candidates in order until one accepts, then runs the
// task there. When none accepts, the task waits for the next dispatch.
func (h *home) place(ctx context.Context, p *pending, cands []candidate) {
	defer h.wg.Done()
	for i, c := range cands {
		h.mu.Lock()
		if i > 0 {
			h.reserveLocked(c, p.req.Requirements)
		}
		cancelled := p.cancelled != ""
		if cancelled {
			h.unreserveLocked(c, p.req.Requirements)
		}
		h.mu.Unlock()
		if cancelled {
			break
		}
		resp, err := h.claim(ctx, c, p.key, p.req.Requirements)
		if c.local {
			// Answered: the donor side's own accounting has it now.
			h.mu.Lock()
			h.unreserveLocked(c, p.req.Requirements)
			h.mu.Unlock()
		}
		if ctx.Err() != nil {
			return // shutting down: the task stays queued in the database
		}
		if err != nil || !resp.Accepted {
			refused := ""
			if err != nil {
				refused = "unreachable (" + err.Error() + ")"
				h.log.Warn("claim failed", "job", p.key.job, "peer", c.name, "err", err)
			} else {
				refused = "declined (" + resp.Reason + ")"
				h.log.Debug("claim declined", "job", p.key.job, "peer", c.name, "reason", resp.Reason)
			}
			h.mu.Lock()
			h.releaseLocked(c, p.req.Requirements, refused)
			h.mu.Unlock()
			continue
		}
		h.mu.Lock()
		h.queue = slices.DeleteFunc(h.queue, func(q *pending) bool { return q == p })
		if p.cancelled != "" {
			// The claim lapses on the donor when no task starts on it;
			// until then the peer's offers count the slot as taken.
			if !c.local {
				h.useLocked(c.peer, p.req.Requirements, -1)
			}
			h.mu.Unlock()
			h.endTask(p.key, StateCancelled, p.cancelled, nil)
			return
		}
		r := newTaskRun(p, c, resp)
		h.runs[p.key] = r
		h.mu.Unlock()
		h.finishAttempt(r, h.runTask(ctx, r))
		return
	}
	h.mu.Lock()
	p.placing = false
	reason := p.cancelled
	if reason != "" {
		h.queue = slices.DeleteFunc(h.queue, func(q *pending) bool { return q == p })
	}
	h.mu.Unlock()
	if reason != "" {
		h.endTask(p.key, StateCancelled, reason, nil)
		return
	}
	h.poke() // the refusals change the waiting sentence
}

// claim asks one candidate for a slot: one request, one answer.
func (h *home) claim(ctx context.Context, c candidate, k taskKey, r Requirements) (*wire.ClaimResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, h.claimTimeout)
	defer cancel()
	s, err := h.openStream(ctx, c, wire.ClaimProtocol)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	stop := context.AfterFunc(ctx, func() { s.Reset() })
	defer stop()
	conn := wire.NewConn(s)
	err = conn.Send(&wire.ClaimRequest{JobID: k.job, TaskID: k.task, CPUs: needCPUs(r), MemoryBytes: r.MemoryBytes,
		Labels: r.Labels, OS: r.OS, Arch: r.Arch})
	if err != nil {
		return nil, claimErr(ctx, h.claimTimeout, err)
	}
	resp, err := wire.Expect[*wire.ClaimResponse](conn)
	if err != nil {
		return nil, claimErr(ctx, h.claimTimeout, err)
	}
	return resp, nil
}

func claimErr(ctx context.Context, timeout time.Duration, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("no answer to the claim within %s", timeout)
	}
	return fmt.Errorf("claim: %w", err)
}

// openStream opens a protocol stream to a candidate: over the mesh, or for
// this machine over an in-process pipe served by the donor side's own code.
func (h *home) openStream(ctx context.Context, c candidate, protocol string) (wire.Stream, error) {
	if !c.local {
		s, err := h.e.opts.Mesh.NewStream(ctx, c.peer, protocol)
		if err != nil {
			return nil, fmt.Errorf("open %s to %s: %w", protocol, c.name, err)
		}
		return s, nil
	}
	a, b := pipeStreams()
	serve := h.e.donor.serveClaim
	if protocol == wire.TaskProtocol {
		serve = h.e.donor.serveTask
	}
	go serve(h.e.ID(), b)
	return a, nil
}

// wallNow is the time to store: without the monotonic reading, so a job in
// memory equals the same job read back from the database.
func wallNow() time.Time { return time.Now().Round(0) }

// errSkip aborts a store update that has nothing to change.
var errSkip = errors.New("nothing to change")

func findTask(j *Job, id string) *Task {
	for i := range j.Tasks {
		if j.Tasks[i].ID == id {
			return &j.Tasks[i]
		}
	}
	return nil
}

// endTask puts a task in a final state (not through a donor's exit: a wait
// timeout, a cancel before it ran) and finishes its job when that was the
// last task.
func (h *home) endTask(k taskKey, state JobState, reason string, exitCode *int) {
	image := ""
	h.beginEnding(k.job)
	var final *Job
	defer func() { h.endEnding(k.job, final) }()
	j, err := h.st.update(k.job, func(j *Job) error {
		t := findTask(j, k.task)
		if t == nil || t.State.Final() {
			return errSkip
		}
		t.State, t.Reason, t.Finished = state, reason, wallNow()
		if exitCode != nil {
			t.ExitCode = exitCode
		}
		if t.Checkpoint != nil {
			image = h.checkpointPath(k, t.Checkpoint.SHA256)
		}
		settleJob(j, t.Finished)
		return nil
	})
	if image != "" && err == nil {
		os.Remove(image) // a task that waited to resume ended without a donor
	}
	if errors.Is(err, errSkip) {
		return
	}
	if err != nil {
		h.log.Error("recording a task's end", "job", k.job, "task", k.task, "err", err)
		return
	}
	h.taskEnded(j, k.task)
	final = &j
}

// beginEnding marks that an end of one of job's tasks is being recorded.
// Ends are recorded concurrently, and the one that makes the job final
// may get there before another has published its task-ended event; since
// watchers stop at EventFinished, the job's EventFinished waits until
// every end under way has called endEnding.
func (h *home) beginEnding(job string) {
	h.mu.Lock()
	h.ending[job]++
	h.mu.Unlock()
}

// endEnding is beginEnding's other half, once the task's events are out; j
// is the job as that end left it (nil when nothing was recorded).
func (h *home) endEnding(job string, j *Job) {
	h.mu.Lock()
	if j != nil && j.State.Final() {
		h.finished[job] = *j
	}
	h.ending[job]--
	done, ok := h.finished[job]
	if h.ending[job] > 0 {
		ok = false
	} else {
		delete(h.ending, job)
		delete(h.finished, job)
	}
	h.mu.Unlock()
	if ok {
		h.published(done)
	}
}

// published sends EventFinished once a job's update made it final.
func (h *home) published(j Job) {
	if !j.State.Final() {
		return
	}
	h.log.Info("job finished", "job", j.ID, "state", j.State, "reason", j.Reason)
	h.mu.Lock()
	delete(h.failedOn, j.ID)
	delete(h.avoid, j.ID)
	h.mu.Unlock()
	h.hub.publish(Event{Type: EventFinished, Time: j.Finished, JobID: j.ID, Job: &j})
}
