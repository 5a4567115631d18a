//go:build unix

package executor

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// errNoGracefulStop is returned by signalGroup when the OS cannot ask a
// guest to terminate; Unix always can.
var errNoGracefulStop = errors.New("no graceful stop on this OS")

// signalGroup sends sig to the process group led by proc: the guest and
// everything it forked that stayed in its group.
func signalGroup(proc *os.Process, sig os.Signal) error {
	s, ok := sig.(syscall.Signal)
	if !ok {
		return fmt.Errorf("unsupported signal %v", sig)
	}
	err := unix.Kill(-proc.Pid, s)
	if errors.Is(err, unix.ESRCH) {
		return os.ErrProcessDone
	}
	return err
}

// killedBy names the signal that ended the process ("killed",
// "terminated"), or "" when it exited by itself.
func killedBy(ps *os.ProcessState) string {
	ws, ok := ps.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() {
		return ""
	}
	return ws.Signal().String()
}

// noCgroupFreeze is how a guest is frozen without a cgroup, for the log.
const noCgroupFreeze = "frozen with SIGSTOP of their process group"

// pauseGroup stops the guest's process group (SIGSTOP), or continues it
// (SIGCONT): the freezer of systems without cgroups. SIGSTOP cannot be
// caught, so a guest cannot refuse it.
func pauseGroup(proc *os.Process, stop bool) error {
	sig := syscall.SIGCONT
	if stop {
		sig = syscall.SIGSTOP
	}
	return signalGroup(proc, sig)
}
