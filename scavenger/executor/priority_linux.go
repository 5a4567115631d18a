package executor

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// guestNice is the nice value of every guest: the lowest priority there is.
const guestNice = 19

// priorityHow says how a guest shares the CPU with the owner, for Limit.
const priorityHow = "idle priority (nice 19, SCHED_IDLE)"

// lowerThread gives the calling OS thread what every guest must start with,
// so that a process forked from it inherits them before any of the task's
// code runs: nice 19, the SCHED_IDLE policy (it runs only on a CPU nothing
// else wants, which is what keeps the owner's machine responsive), and
// no_new_privs (no setuid program or file capability can lift it above the
// guest user). None of these can be undone by an unprivileged thread, which
// is why the caller discards the thread afterwards.
func lowerThread() error {
	// With who = 0, both calls act on the calling thread only, not on the
	// whole daemon: Linux keeps nice and policy per thread.
	if err := unix.Setpriority(unix.PRIO_PROCESS, 0, guestNice); err != nil {
		return fmt.Errorf("set nice %d: %w", guestNice, err)
	}
	attr := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_IDLE}
	if err := unix.SchedSetAttr(0, &attr, 0); err != nil {
		return fmt.Errorf("set SCHED_IDLE: %w", err)
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("set no_new_privs: %w", err)
	}
	return nil
}
