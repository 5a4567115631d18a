package scavenger

import (
	"sync"
	"time"

	"github.com/scavenge/scavenge/policy"
)

// The engine's counters and presence history, for the dashboard and the
// Prometheus endpoint. The donor, home and presence loops call one method
// here per event; readers take a snapshot (Engine.Stats), so nothing here
// knows about HTTP or Prometheus.

// HistoryWindow is how far back the presence history goes.
const HistoryWindow = 24 * time.Hour

// maxHistory bounds the history whatever the window: a policy flapping
// every second for a day must not grow the daemon without limit.
const maxHistory = 4096

// ReactionBuckets are the upper bounds (seconds) of the reaction-latency
// histogram: the owner should get the machine back within tens of ms.
var ReactionBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}

// Stats is a snapshot of the engine's counters, served as JSON by the local
// API's stats route.
type Stats struct {
	Time           time.Time `json:"time"`
	State          string    `json:"state"` // the policy's state now (owner, idle, donating, ...)
	Guests         int       `json:"guests"`
	Peers          int       `json:"peers"`
	TasksRun       uint64    `json:"tasks_run"`       // guests that ran here to the end
	TasksPreempted uint64    `json:"tasks_preempted"` // of which stopped for the owner
	TasksMigrated  uint64    `json:"tasks_migrated"`  // checkpointed and moved on
	// Checkpoints of guests here by outcome: images sent home (periodic
	// and final), checkpoints that failed, guests resumed here from an
	// image, and images that could not be resumed here.
	Checkpoints Checkpoints `json:"checkpoints"`
	// CPU seconds used by guests here, and by this home's tasks elsewhere.
	CPUDonatedSeconds  float64   `json:"cpu_donated_seconds"`
	CPUReceivedSeconds float64   `json:"cpu_received_seconds"`
	Reaction           Histogram `json:"reaction"`
	// The last guest that left here with a checkpoint, and the last one
	// that resumed here from one: where the time went.
	LastMigration *MigrationTiming `json:"last_migration,omitempty"`
	LastResume    *ResumeTiming    `json:"last_resume,omitempty"`
	History       []PresenceChange `json:"history"` // oldest first, the last HistoryWindow
}

// Histogram counts observations (seconds) into cumulative buckets.
type Histogram struct {
	Bounds []float64 `json:"bounds"` // upper bounds, ascending
	Counts []uint64  `json:"counts"` // observations <= Bounds[i] (cumulative)
	Count  uint64    `json:"count"`
	Sum    float64   `json:"sum"`
}

// Checkpoints counts checkpoint events on this donor.
type Checkpoints struct {
	Sent         uint64 `json:"sent"`
	Failed       uint64 `json:"failed"`
	Resumed      uint64 `json:"resumed"`
	ResumeFailed uint64 `json:"resume_failed"`
}

// MigrationTiming is how long each step of a guest's departure took.
type MigrationTiming struct {
	Backend string        `json:"backend"`
	Bytes   int64         `json:"bytes"`  // the image
	Freeze  time.Duration `json:"freeze"` // the owner's return to the guest frozen (criu)
	Dump    time.Duration `json:"dump"`   // criu's dump, or the task saving itself (signal)
	Pack    time.Duration `json:"pack"`   // the image written
	Send    time.Duration `json:"send"`   // the image sent home
}

// ResumeTiming is how long each step of a guest's return took.
type ResumeTiming struct {
	Backend string        `json:"backend"`
	Bytes   int64         `json:"bytes"`
	Receive time.Duration `json:"receive"` // the image from the home (0 when cached)
	Unpack  time.Duration `json:"unpack"`
	Restore time.Duration `json:"restore"` // criu's restore, or the task's start (signal)
}

// PresenceChange is one change of the policy's state.
type PresenceChange struct {
	Time     time.Time `json:"time"`
	State    string    `json:"state"`
	Donating bool      `json:"donating"`
}

// statsRecorder collects the counters. Every method is safe on a nil
// receiver, so engines built piecemeal in tests need none.
type statsRecorder struct {
	mu        sync.Mutex
	now       func() time.Time
	run       uint64
	preempted uint64
	migrated  uint64
	donated   time.Duration
	received  time.Duration
	ckpts     Checkpoints
	lastMig   *MigrationTiming
	lastRes   *ResumeTiming
	reaction  Histogram
	history   []PresenceChange
	// decidedAt is when the policy last changed what guests get; the next
	// guest transition measures its reaction from there.
	decidedAt time.Time
	action    GuestAction
}

func newStatsRecorder() *statsRecorder {
	return &statsRecorder{now: time.Now, reaction: Histogram{
		Bounds: ReactionBuckets, Counts: make([]uint64, len(ReactionBuckets)),
	}}
}

// stats is the engine's recorder, or nil before presence exists.
func (e *Engine) stats() *statsRecorder {
	if e == nil || e.presence == nil {
		return nil
	}
	return e.presence.stats
}

// decided records a policy decision: a change of state goes into the
// history, a change of guest action starts a reaction measurement.
func (s *statsRecorder) decided(d policy.Decision) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if a := GuestAction(d.GuestAction); a != s.action {
		s.action, s.decidedAt = a, now
	}
	st := string(d.State)
	if n := len(s.history); n > 0 && s.history[n-1].State == st && s.history[n-1].Donating == d.Donate {
		return
	}
	s.history = append(s.history, PresenceChange{Time: now, State: st, Donating: d.Donate})
	s.trimLocked(now)
}

// trimLocked drops changes older than the window, keeping the last one
// before it (it says what the state was when the window starts).
func (s *statsRecorder) trimLocked(now time.Time) {
	cut := 0
	for cut+1 < len(s.history) && now.Sub(s.history[cut+1].Time) > HistoryWindow {
		cut++
	}
	if over := len(s.history) - cut - maxHistory; over > 0 {
		cut += over
	}
	if cut > 0 {
		s.history = append(s.history[:0], s.history[cut:]...)
	}
}

// reacted records that a guest's transition was applied: the time since
// the decision that asked for it is the reaction latency.
func (s *statsRecorder) reacted() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.decidedAt.IsZero() {
		return
	}
	sec := s.now().Sub(s.decidedAt).Seconds()
	s.reaction.Count++
	s.reaction.Sum += sec
	for i, b := range s.reaction.Bounds {
		if sec <= b {
			s.reaction.Counts[i]++
		}
	}
}

// guestExited counts a guest that ran here and the CPU it used.
func (s *statsRecorder) guestExited(cpu time.Duration, preempted bool) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.run++
	if preempted {
		s.preempted++
	}
	s.donated += cpu
}

// guestMigrated counts a guest that left with a checkpoint.
func (s *statsRecorder) guestMigrated(t MigrationTiming) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.migrated++
	s.lastMig = &t
}

// guestResumed records how a guest came back from a checkpoint.
func (s *statsRecorder) guestResumed(t ResumeTiming) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ckpts.Resumed++
	s.lastRes = &t
}

// checkpointed counts a checkpoint image sent home (ok) or a checkpoint
// that failed.
func (s *statsRecorder) checkpointed(ok bool) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ok {
		s.ckpts.Sent++
	} else {
		s.ckpts.Failed++
	}
}

// resumeFailed counts an image that could not be resumed here.
func (s *statsRecorder) resumeFailed() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ckpts.ResumeFailed++
}

// receivedCPU counts CPU a donor reported for one of this home's tasks.
func (s *statsRecorder) receivedCPU(ms int64) {
	if s == nil || ms <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.received += time.Duration(ms) * time.Millisecond
}

// snapshot copies the counters into a Stats.
func (s *statsRecorder) snapshot() Stats {
	if s == nil {
		return Stats{Time: time.Now(), History: []PresenceChange{}, Reaction: Histogram{Bounds: ReactionBuckets, Counts: make([]uint64, len(ReactionBuckets))}}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.trimLocked(now)
	r := s.reaction
	r.Counts = append([]uint64(nil), r.Counts...)
	st := Stats{
		Time: now, TasksRun: s.run, TasksPreempted: s.preempted, TasksMigrated: s.migrated,
		CPUDonatedSeconds: s.donated.Seconds(), CPUReceivedSeconds: s.received.Seconds(),
		Reaction: r, History: append([]PresenceChange{}, s.history...),
		LastMigration: s.lastMig, LastResume: s.lastRes, Checkpoints: s.ckpts,
	}
	if n := len(s.history); n > 0 {
		st.State = s.history[n-1].State
	}
	return st
}

// Stats reports the counters, the presence history of the last 24 h, the
// guests running here and the peers seen now.
func (e *Engine) Stats() Stats {
	st := e.stats().snapshot()
	st.Guests = e.donor.guestCount()
	st.Peers = len(e.Peers())
	return st
}
