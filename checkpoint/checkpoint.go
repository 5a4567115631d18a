// Package checkpoint saves a running task's state so that it can resume on
// another machine when its donor's owner comes back, instead of starting
// over. Backends, each behind [Backend]:
//
//   - criu ([CRIUBackend]): dumps an unmodified Linux process tree through the
//     CRIU binary and restores it elsewhere. Needs root, a criu that works on
//     this kernel (.ci/install-criu fetches one) and a guest started in its
//     own PID namespace; fails on open TCP connections and devices.
//   - signal ([SignalBackend]): cooperative, like HTCondor's self-checkpointing
//     and BOINC's API: the task gets a directory and a signal, writes its
//     state there and exits with [ExitCheckpointed]; the directory comes back
//     when it resumes. Works on every OS and for programs that hold sockets.
//   - none ([NoneBackend]): no checkpoint; a preempted task restarts from
//     scratch elsewhere.
//
// Whatever the backend, the saved state travels as an image: a versioned
// manifest naming every file with its size and SHA-256, then the files, all
// compressed with zstd ([Pack], [Unpack]). An image is addressed by the
// SHA-256 of its manifest ([Manifest.ID]).
//
// It imports nothing of the project.
package checkpoint

import (
	"context"
	"runtime"
)

// Backend names, as advertised in offers, asked for by jobs and written in
// image manifests.
const (
	CRIU   = "criu"
	Signal = "signal"
	None   = "none"
)

// Backend is what every checkpoint method has in common: a name and an
// honest answer to "does it work here?". What a backend does beyond that
// differs too much to share one method set (criu dumps a process from
// outside, signal asks the process to save itself, none does nothing), so
// the engine uses the concrete types.
type Backend interface {
	// Name is one of CRIU, Signal or None.
	Name() string
	// Check returns nil when the backend can be used on this machine now,
	// or an error whose text says why not, fit for `scavenge status`.
	Check(ctx context.Context) error
}

// Available lists the backends this build implements for this OS, best
// first. Implemented is not usable: criu also needs root and a working criu
// binary, so a donor advertises only the backends that [Usable] confirms.
func Available() []string {
	if runtime.GOOS == "linux" {
		return []string{CRIU, Signal, None}
	}
	return []string{Signal, None}
}

// Usable runs Check on each backend and returns the names of those that
// passed, in the order given, and why each other one did not. A donor calls
// it at start-up and advertises the names in its offers.
func Usable(ctx context.Context, backends ...Backend) (names []string, why map[string]error) {
	why = map[string]error{}
	for _, b := range backends {
		if err := b.Check(ctx); err != nil {
			why[b.Name()] = err
			continue
		}
		names = append(names, b.Name())
	}
	return names, why
}
