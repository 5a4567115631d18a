package main_test

import (
	"os/exec"
	"syscall"
)

// setDeathSignal kills a daemon if the test process dies without stopping
// it (a panic, a -timeout), so no daemon outlives its test.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
