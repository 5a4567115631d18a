// Package checkpoint will save a running task's state so that it can resume
// on another machine when its donor's owner comes back, instead of starting
// over. Backends:
//
//   - criu: dumps an unmodified Linux process tree (needs root or
//     CAP_CHECKPOINT_RESTORE; fails on open TCP connections and devices).
//   - signal: cooperative, like HTCondor self-checkpointing and BOINC's API:
//     the task gets a signal and a directory, writes its state and exits with
//     the checkpoint code; the directory comes back when it resumes.
//   - none: no checkpoint; a preempted task restarts from scratch elsewhere.
//
// Only "none" works in this build: the criu and signal backends and the
// versioned image format come with the migration work. The names are
// defined now because offers advertise backends and the home matches on
// them; Available tells the truth about which of them this build can do.
//
// It imports nothing of the project.
package checkpoint

// Backend names, as advertised in offers and asked for by jobs.
const (
	CRIU   = "criu"
	Signal = "signal"
	None   = "none"
)

// Available lists the backends this build can actually use, best first. A
// donor advertises exactly these, so a home never sends it a task expecting a
// checkpoint it cannot take.
func Available() []string {
	return []string{None}
}
