package scavenger

import (
	"context"
	"io"
	"os"
	"time"
)

// Executor starts guest processes. The real one (scavenger/executor) runs
// each task sandboxed, in its own process group, at idle priority and never
// with the daemon's privileges.
type Executor interface {
	Start(ctx context.Context, spec ExecSpec) (Process, error)
}

// ExecSpec is one guest process to start.
type ExecSpec struct {
	Argv   []string
	Dir    string   // the task's working directory; exists, writable by the guest
	Env    []string // the complete environment ("K=V"); nothing is inherited
	Stdout io.Writer
	Stderr io.Writer
	Hide   []string // paths the guest must not see or reach (the daemon's home)
	// Limits caps the guest from its first instruction on, where the OS
	// can (cgroups); zero fields mean no cap.
	Limits Limits
	// Migratable starts the guest so that criu can dump it and restore it
	// on another machine (Migrator): its own PID namespace (criu restores
	// exact PIDs), its own session, no tty, and stdio on pipes.
	Migratable bool
}

// Migrator is an Executor that can checkpoint guests with criu and bring
// them back. The donor uses it when a job asked for the criu backend and
// the machine's criu works.
type Migrator interface {
	// Dump writes a criu image of p (started Migratable by this executor)
	// into imagesDir. With leaveRunning the guest goes on afterwards (a
	// periodic checkpoint); without, it is dead once Dump returns nil and
	// its Wait returns. A guest frozen before Dump stays frozen while
	// criu works, so the owner keeps the CPU.
	Dump(ctx context.Context, p Process, imagesDir string, leaveRunning bool) error
	// Restore brings back the guest dumped in imagesDir as spec says
	// (Dir must be where it was dumped; Stdout, Stderr, Limits as for
	// Start) and returns it running, in a cgroup of its own.
	Restore(ctx context.Context, spec ExecSpec, imagesDir string) (Process, error)
}

// Limits are caps on a guest's resources.
type Limits struct {
	CPUs        float64 `json:"cpus,omitempty"`   // CPU time, in cores (0.1 = a tenth of one core)
	MemoryBytes uint64  `json:"memory,omitempty"` // resident memory; the guest is killed above it
}

// Process is a running guest.
type Process interface {
	Pid() int
	// Wait blocks until the process has exited and its output is flushed.
	Wait() (ExitStatus, error)
	// Signal sends sig to the whole process group.
	Signal(sig os.Signal) error
	// Stop sends SIGTERM to the group, then SIGKILL after grace. Where the
	// guest has a cgroup, every process in it is killed at the end, even
	// one that left the group (setsid).
	Stop(grace time.Duration) error
	// Limit sets new caps (share mode: a small CPU cap while the owner
	// works) and returns how they are enforced, for status ("cgroup cpu
	// quota 0.10 cores, memory 512 MiB" or "no cgroup: idle priority
	// only").
	Limit(l Limits) (how string, err error)
	// Freeze stops every process of the guest at once (cgroup freezer, or
	// SIGSTOP of its process group) and returns how; Thaw continues them.
	Freeze() (how string, err error)
	Thaw() error
}

// ExitStatus is how a guest ended.
type ExitStatus struct {
	Code   int           // exit code; -1 when killed by a signal
	Signal string        // the signal that killed it, e.g. "killed"
	CPU    time.Duration // user + system time
}
