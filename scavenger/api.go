package scavenger

import (
	"time"

	"github.com/scavenge/scavenge/peer/wire"
)

// These types are the engine's public vocabulary: the local API serves them
// as JSON and the client decodes them, so field names are part of the API.

// Requirements select donors for a task.
type Requirements struct {
	CPUs        int      `json:"cpus,omitempty"`   // free slots needed; 0 means 1
	MemoryBytes uint64   `json:"memory,omitempty"` // free memory needed
	OS          string   `json:"os,omitempty"`     // e.g. linux
	Arch        string   `json:"arch,omitempty"`   // e.g. amd64
	Labels      []string `json:"labels,omitempty"` // all must be present
	// Checkpoint is the backend a donor must offer; the home sets it from
	// SubmitRequest.Checkpoint.
	Checkpoint string `json:"checkpoint,omitempty"`
}

// SubmitRequest is one job as the CLI hands it to the daemon. Paths are
// absolute paths on the daemon's machine.
type SubmitRequest struct {
	Name string `json:"name,omitempty"` // shown in status; default the command
	// Argv is the command of a one-command job. A job of many tasks sets
	// Tasks instead (Argv then stays empty); each task runs on its own.
	Argv    []string          `json:"argv,omitempty"`
	Tasks   []TaskRequest     `json:"tasks,omitempty"`
	Env     map[string]string `json:"env,omitempty"`     // every task's
	Inputs  []string          `json:"inputs,omitempty"`  // files copied into every task dir, by base name
	Outputs []string          `json:"outputs,omitempty"` // globs copied back from the task dir
	// OutDir is where outputs land: default <cwd>/scavenge-out/<job>; a
	// job of many tasks gets one folder per task in it (OutDir/<task>).
	OutDir       string        `json:"out_dir,omitempty"`
	Requirements Requirements  `json:"requirements"`
	Rank         Rank          `json:"rank,omitempty"`         // which matching peers first
	Retries      int           `json:"retries,omitempty"`      // re-runs of a task that exited non-zero; preemptions do not count
	TaskTimeout  time.Duration `json:"task_timeout,omitempty"` // a task running longer is stopped and fails; 0 = none
	Replicas     int           `json:"replicas,omitempty"`     // 2: each task runs on two peers and their outputs must agree
	WaitTimeout  time.Duration `json:"wait_timeout,omitempty"` // give up when no peer is idle this long; 0 = daemon default
	AllowLocal   bool          `json:"allow_local,omitempty"`  // may run on this machine
	// Checkpoint is how a task keeps its work when it must leave a donor:
	// "criu" (transparent, Linux), "signal" (the task saves itself: see
	// package checkpoint) or "" / "none" (it restarts from scratch).
	// CheckpointEvery also checkpoints it while it runs, so that a donor
	// that dies costs at most that much work; 0 = the donor's default.
	Checkpoint      string        `json:"checkpoint,omitempty"`
	CheckpointEvery time.Duration `json:"checkpoint_every,omitempty"`
	// Cwd is the submitter's working directory (the CLI's, not the
	// daemon's): the <cwd> of the default OutDir. Empty means the daemon's.
	Cwd string `json:"cwd,omitempty"`
}

// TaskRequest is one task of a many-task job: its command, and the
// environment and inputs it has on top of the job's.
type TaskRequest struct {
	Argv   []string          `json:"argv"`
	Env    map[string]string `json:"env,omitempty"`
	Inputs []string          `json:"inputs,omitempty"`
}

// Rank orders the peers that meet a job's requirements.
type Rank string

// Ranks.
const (
	RankDefault   Rank = ""          // dedicated peers first, then most free cores, then most free memory
	RankDedicated Rank = "dedicated" // the same, said explicitly
	RankMemory    Rank = "memory"    // most free memory first
	RankCPUs      Rank = "cpus"      // most free cores first
)

// JobState is where a job or task stands.
type JobState string

// Job and task states.
const (
	StateQueued    JobState = "queued"    // waiting for an idle peer
	StateRunning   JobState = "running"   // claimed and started on a donor
	StateSuspended JobState = "suspended" // frozen on its donor while the owner works there
	StateDone      JobState = "done"      // exited (any exit code)
	StateFailed    JobState = "failed"    // could not run (no peer in time, input missing, protocol error)
	StateCancelled JobState = "cancelled" // the user cancelled it
)

// Final reports whether s is an end state.
func (s JobState) Final() bool { return s == StateDone || s == StateFailed || s == StateCancelled }

// Job is a submitted job as stored in the home's database.
type Job struct {
	ID        string        `json:"id"`
	Request   SubmitRequest `json:"request"`
	State     JobState      `json:"state"`
	Tasks     []Task        `json:"tasks"`
	Submitted time.Time     `json:"submitted"`
	Finished  time.Time     `json:"finished,omitzero"`
	Reason    string        `json:"reason,omitempty"` // why it failed, is waiting, or was cancelled
}

// Task is one run of the command (a one-command job has one).
type Task struct {
	ID          string    `json:"id"`
	State       JobState  `json:"state"`
	Peer        string    `json:"peer,omitempty"`      // donor peer ID of the current or last attempt
	PeerName    string    `json:"peer_name,omitempty"` // its machine name
	Attempts    int       `json:"attempts"`
	Preemptions int       `json:"preemptions,omitempty"`
	Lost        int       `json:"lost,omitempty"`     // attempts whose donor vanished mid-run
	Failures    int       `json:"failures,omitempty"` // attempts that exited non-zero and were retried
	Replicas    []string  `json:"replicas,omitempty"` // "<peer>=<result digest>" of the replicas so far (replicas = 2)
	ExitCode    *int      `json:"exit_code,omitempty"`
	Signal      string    `json:"signal,omitempty"`
	Reason      string    `json:"reason,omitempty"`
	Started     time.Time `json:"started,omitzero"`
	Finished    time.Time `json:"finished,omitzero"`
	Outputs     []string  `json:"outputs,omitempty"` // paths written under OutDir
	// Moves counts the times the task resumed from a checkpoint on
	// another donor; Checkpoint is the newest image kept at home.
	Moves      int             `json:"moves,omitempty"`
	Checkpoint *TaskCheckpoint `json:"checkpoint,omitempty"`
	// WorkLost is the run time thrown away: attempts that ended without
	// a checkpoint, and the part after the last checkpoint of those that
	// resumed from one.
	WorkLost time.Duration `json:"work_lost,omitempty"`
}

// TaskCheckpoint is a checkpoint image of a task, kept in the home's
// directory until the task ends.
type TaskCheckpoint struct {
	Backend string    `json:"backend"`
	ID      string    `json:"id"`     // the image's manifest ID
	SHA256  string    `json:"sha256"` // of the image file
	Size    int64     `json:"size"`
	Taken   time.Time `json:"taken"`
	Peer    string    `json:"peer"` // the donor that took it
	Final   bool      `json:"final,omitempty"`
}

// EventType says what an Event carries.
type EventType string

// Event types streamed to a watching client.
const (
	EventSubmitted EventType = "submitted"  // the job is stored: JobID is set
	EventWaiting   EventType = "waiting"    // no peer yet: Message says why
	EventStarted   EventType = "started"    // a donor started it: Peer, PeerName
	EventOutput    EventType = "output"     // Stream and Data
	EventRequeued  EventType = "requeued"   // preempted or donor lost: runs again elsewhere
	EventGuest     EventType = "guest"      // the donor's owner policy shared, suspended or resumed it: Message says what
	EventOutputs   EventType = "outputs"    // output files landed: Files
	EventTaskEnded EventType = "task-ended" // a task reached its final state: State, ExitCode, Message (the reason)
	EventFinished  EventType = "finished"   // the job reached its final state: Job is set
)

// Event is one thing that happened to a job, in order.
type Event struct {
	Type     EventType `json:"type"`
	Time     time.Time `json:"time"`
	JobID    string    `json:"job"`
	TaskID   string    `json:"task,omitempty"`
	Peer     string    `json:"peer,omitempty"`
	PeerName string    `json:"peer_name,omitempty"`
	Stream   string    `json:"stream,omitempty"` // stdout or stderr
	Data     []byte    `json:"data,omitempty"`
	Message  string    `json:"message,omitempty"`
	Files    []string  `json:"files,omitempty"`
	State    JobState  `json:"state,omitempty"`     // EventTaskEnded
	ExitCode *int      `json:"exit_code,omitempty"` // EventTaskEnded, when the task exited
	Job      *Job      `json:"job_record,omitempty"`
}

// PeerInfo is a peer as `scavenge peers` shows it.
type PeerInfo struct {
	wire.Offer
	AgeMillis int64 `json:"age_ms"` // since the offer was issued
}

// Age is the time since the offer was issued.
func (p PeerInfo) Age() time.Duration { return time.Duration(p.AgeMillis) * time.Millisecond }

// Guest is a task running on this machine for another peer.
type Guest struct {
	JobID    string    `json:"job"`
	TaskID   string    `json:"task"`
	HomePeer string    `json:"home_peer"`
	Argv     []string  `json:"argv"`
	Pid      int       `json:"pid"`
	Started  time.Time `json:"started"`
	Action   string    `json:"action,omitempty"` // what was done to it, e.g. "killed: owner returned"
}

// Presence is the donor's availability as the policy decided it.
type Presence struct {
	Donating bool       `json:"donating"`
	State    wire.State `json:"state"`  // idle, busy, owner or paused
	Reason   string     `json:"reason"` // in words
	// Detail is the policy's own name for the state (owner-back,
	// outside-hours, ...): status shows it, offers carry State.
	Detail string `json:"detail,omitempty"`
	// Action is what guests must get now; Share caps them in share mode.
	Action GuestAction `json:"action,omitempty"`
	Share  Limits      `json:"share,omitzero"`
	// GuestNote says what is done to guests and what comes next ("continue
	// after 5 min without the owner, killed after 30 min").
	GuestNote string `json:"guest_note,omitempty"`
	// Fallback is what a guest gets when Action is GuestMigrate and it
	// cannot be checkpointed: GuestKill or GuestShare (capped to Share).
	Fallback GuestAction `json:"fallback,omitempty"`
}

// GuestAction is what the owner's policy does to guests while the owner
// uses the machine.
type GuestAction string

// Guest actions.
const (
	GuestRun     GuestAction = ""        // run on at idle priority (thawed, caps lifted)
	GuestShare   GuestAction = "share"   // run on, capped to Presence.Share
	GuestSuspend GuestAction = "suspend" // frozen until the owner leaves again
	GuestKill    GuestAction = "kill"    // stopped; its home runs it again elsewhere
	GuestMigrate GuestAction = "migrate" // checkpointed and moved on (needs a checkpoint backend)
)

// Status is what this daemon is doing, for `scavenge status`.
type Status struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Addrs    []string `json:"addrs"`
	Presence Presence `json:"presence"`
	Paused   bool     `json:"paused"`
	CPUs     int      `json:"cpus"`
	Free     int      `json:"free_cpus"`
	Guests   []Guest  `json:"guests"`
	// Checkpoint lists the backends guests here can be checkpointed with.
	Checkpoint []string `json:"checkpoint,omitempty"`
}
