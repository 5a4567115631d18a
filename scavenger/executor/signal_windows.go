package executor

import (
	"errors"
	"fmt"
	"os"
)

// errNoGracefulStop is returned by signalGroup for anything but os.Kill:
// Windows cannot deliver SIGTERM, and a console control event would need
// the guest to share the daemon's console. Stop therefore kills at once.
var errNoGracefulStop = errors.New("no graceful stop on Windows")

// signalGroup kills the guest. Windows has no process groups to signal:
// only the guest process itself is terminated; killing what it started
// would need a Job object, which this executor does not create yet.
func signalGroup(proc *os.Process, sig os.Signal) error {
	if sig != os.Kill {
		return fmt.Errorf("signal %v: %w", sig, errNoGracefulStop)
	}
	return proc.Kill()
}

// killedBy is always "": Windows processes end with an exit code only.
func killedBy(*os.ProcessState) string { return "" }

// noCgroupFreeze is how a guest is frozen without a cgroup, for the log.
const noCgroupFreeze = "cannot be frozen"

// pauseGroup cannot suspend a guest on Windows yet: that needs a Job object
// or suspending each thread.
func pauseGroup(*os.Process, bool) error {
	return fmt.Errorf("suspend a guest on Windows: %w", errors.ErrUnsupported)
}
