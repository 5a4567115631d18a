//go:build !linux

package sensor

import (
	"context"

	"github.com/shirou/gopsutil/v4/process"
)

// processTable finds each process's parent; CPU times are asked later,
// for the guests' processes only.
func processTable(ctx context.Context) (procTable, error) {
	pids, err := process.PidsWithContext(ctx)
	if err != nil {
		return procTable{}, err
	}
	t := procTable{children: make(map[int32][]int32)}
	for _, pid := range pids {
		ppid, err := (&process.Process{Pid: pid}).PpidWithContext(ctx)
		if err != nil {
			continue // exited while we looked, or not ours to see
		}
		t.children[ppid] = append(t.children[ppid], pid)
	}
	return t, nil
}

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
