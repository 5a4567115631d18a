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
}

// Process is a running guest.
type Process interface {
	Pid() int
	// Wait blocks until the process has exited and its output is flushed.
	Wait() (ExitStatus, error)
	// Signal sends sig to the whole process group.
	Signal(sig os.Signal) error
	// Stop sends SIGTERM to the group, then SIGKILL after grace.
	Stop(grace time.Duration) error
}

// ExitStatus is how a guest ended.
type ExitStatus struct {
	Code   int           // exit code; -1 when killed by a signal
	Signal string        // the signal that killed it, e.g. "killed"
	CPU    time.Duration // user + system time
}
