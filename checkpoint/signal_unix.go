//go:build unix

package checkpoint

import (
	"os"
	"syscall"
)

// RequestSignal is the signal that asks a task to checkpoint and exit. It
// is SIGUSR2 because its default action is to terminate: a task that does
// not follow the protocol ends as if killed, and is restarted from scratch.
var RequestSignal os.Signal = syscall.SIGUSR2
