//go:build !linux

package sensor

import (
	"context"

	"github.com/shirou/gopsutil/v4/process"
)

// processCPU is the CPU time, in seconds, a process has used itself. Unlike
// on Linux, time of children that have exited is lost, so a guest's
// short-lived processes count as the owner's load.
func processCPU(ctx context.Context, pid int32) (float64, error) {
	t, err := (&process.Process{Pid: pid}).TimesWithContext(ctx)
	if err != nil {
		return 0, err
	}
	return t.User + t.System, nil
}
