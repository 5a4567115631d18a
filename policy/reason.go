package policy

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// The sentences of Decision.Reason and Decision.GuestReason. They round
// durations down (HumanDuration), so a reason never contradicts its rule.

func (m *Machine) pauseReason() string {
	if m.pauseNote == "" {
		return "paused by the owner"
	}
	return "paused by the owner: " + m.pauseNote
}

// presentReason says why the owner counts as present: recent input comes
// first, as the rule people expect, then the CPU load.
func (m *Machine) presentReason(now time.Time) string {
	switch {
	case !m.stepped:
		return "no sensor reading yet"
	case m.inputSeen && (!m.cpu.busy || now.Sub(m.lastInput) < m.quiet()):
		return "keyboard used " + HumanDuration(now.Sub(m.lastInput)) + " ago" + source(m.inputSource)
	case m.cpu.busy:
		return m.cpuReason(now)
	}
	return "owner present" // not reached: the owner is away without input or CPU load
}

// cpuReason explains the CPU rule while it holds: "owner CPU 63% > 25% for
// 30s", or while it is clearing, "owner CPU above 25% until 10s ago (now 3%)".
func (m *Machine) cpuReason(now time.Time) string {
	w, ceiling := m.cpu, m.p.OwnerCPUMax
	if !w.high {
		return "owner CPU above " + percent(ceiling) + " until " + HumanDuration(now.Sub(w.side)) + " ago (now " + percent(w.load) + ")"
	}
	s := "owner CPU " + percentOver(w.load, ceiling)
	if m.p.OwnerCPUFor > 0 {
		s += " for " + HumanDuration(now.Sub(w.side))
	}
	return s
}

// awayReason says why the owner counts as away.
func (m *Machine) awayReason(now time.Time) string {
	switch {
	case m.p.Dedicated:
		return "dedicated machine"
	case !m.inputSeen:
		return "no keyboard, mouse or login session found"
	}
	s := "no input for " + HumanDuration(now.Sub(m.lastInput))
	if m.awayAfter != m.p.IdleAfter {
		return s + " (held-back guests continue after " + HumanDuration(m.awayAfter) + ")"
	}
	return s + " (idle after " + HumanDuration(m.p.IdleAfter) + ")"
}

// actionWords says what action a does to guests held back since m.held.
func (m *Machine) actionWords(a Action) string {
	r := m.p.OnReturn
	resume := "; full speed again after " + HumanDuration(r.ResumeAfter) + " without the owner"
	switch a {
	case ActionShare:
		return "shared: lowest priority" + limitWords(r.Share, " each") + resume
	case ActionSuspend:
		s := "suspended" + resume
		if r.MaxSuspend > 0 {
			s += "; " + pastTense(r.Fallback) + " after " + HumanDuration(r.MaxSuspend) + " suspended"
		}
		return s
	case ActionKill:
		return killWords(r.Grace)
	case ActionMigrate:
		return "checkpointed and moved to another peer (" + pastTense(r.Fallback) + " if that is not possible)"
	}
	return ""
}

// killWords describes a kill with its grace period.
func killWords(grace time.Duration) string {
	if grace <= 0 {
		return "killed at once; their homes run them again elsewhere"
	}
	return "stopped (SIGTERM, then SIGKILL after " + HumanDuration(grace) + "); their homes run them again elsewhere"
}

// limitWords writes caps as ", at most 0.1 CPU and 512MiB each".
func limitWords(l Limits, each string) string {
	var parts []string
	if l.CPUs > 0 {
		parts = append(parts, strconv.FormatFloat(l.CPUs, 'f', -1, 64)+" CPU")
	}
	if l.MemoryBytes > 0 {
		parts = append(parts, HumanBytes(l.MemoryBytes))
	}
	switch len(parts) {
	case 0:
		return ""
	case 1:
		return ", at most " + parts[0] + each
	}
	return ", at most " + parts[0] + " and " + parts[1] + each
}

// pastTense names what the fallback does to a guest.
func pastTense(a Action) string {
	switch a {
	case ActionShare:
		return "shared"
	case ActionSuspend:
		return "suspended"
	case ActionMigrate:
		return "migrated"
	case ActionKill:
		return "killed"
	}
	return "left alone"
}

func source(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

// percent writes a load as a whole percentage: "25%".
func percent(f float64) string { return fmt.Sprintf("%.0f%%", math.Round(f*100)) }

// percentOver prints "load > limit" as whole percentages, with one decimal
// each when whole numbers would read "25% > 25%".
func percentOver(load, limit float64) string {
	l, m := math.Round(load*100), math.Round(limit*100)
	if l > m {
		return fmt.Sprintf("%.0f%% > %.0f%%", l, m)
	}
	return fmt.Sprintf("%.1f%% > %.1f%%", load*100, limit*100)
}
