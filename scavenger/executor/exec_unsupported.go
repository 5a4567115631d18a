//go:build !unix && !windows

package executor

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
)

// On systems without processes in the Unix or Windows sense (js, wasip1,
// plan9) the executor builds but cannot start guests.

var errNoGracefulStop = errors.New("no graceful stop on " + runtime.GOOS)

func (e *Executor) start(*launch) (*exec.Cmd, error) {
	return nil, fmt.Errorf("guests on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}

func signalGroup(*os.Process, os.Signal) error { return errors.ErrUnsupported }

const noCgroupFreeze = "cannot be frozen"

func pauseGroup(*os.Process, bool) error { return errors.ErrUnsupported }

func killedBy(*os.ProcessState) string { return "" }

// priorityHow is what sharing a guest gets without cgroups here: nothing.
const priorityHow = "no priority"

func (e *Executor) degrade(error) { e.noSandbox.Store(true) }
