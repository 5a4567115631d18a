package policy

import (
	"fmt"
	"math"
	"time"
)

// State is the machine's availability as the policy sees it. The values are
// the ones offers carry on the wire, so the daemon can pass them through.
type State string

// States. The fuller presence machine (owner back, grace windows,
// hysteresis) adds more later; callers must treat unknown states as "not
// donating".
const (
	StateOwner  State = "owner"  // the owner is using the machine
	StateIdle   State = "idle"   // the owner is away: donate
	StatePaused State = "paused" // the owner said `scavenge pause`
)

// Config is the part of the machine's policy that Decide needs.
type Config struct {
	// Dedicated marks a processor-pool machine: nobody sits at it, so it
	// always donates.
	Dedicated bool
	// IdleAfter is how long without input before the owner counts as away.
	IdleAfter time.Duration
	// OwnerCPUMax is the owner's CPU load, as a fraction of all cores, above
	// which the owner counts as active even without input (a build left
	// running). Zero or less turns this rule off.
	OwnerCPUMax float64
	// Paused is the owner's override; it wins over every other rule, even
	// Dedicated, because an administrator must be able to stop a pool
	// machine too.
	Paused bool
}

// Sample is one reading of the sensors.
type Sample struct {
	// Now is when the sample was taken; Decide uses it to say when an
	// owner who stops typing will count as away (Decision.IdleAt).
	Now time.Time
	// InputIdle is the time since the last keyboard or mouse input.
	InputIdle time.Duration
	// InputKnown is false when the machine has no input device or login
	// session to watch at all.
	InputKnown bool
	// InputSource names where InputIdle came from ("tty /dev/pts/3").
	InputSource string
	// OwnerCPU is the CPU load of everything except guests, as a fraction
	// of all cores (0..1).
	OwnerCPU float64
	// CPUKnown is false when the CPU load could not be measured yet.
	CPUKnown bool
}

// Decision is the verdict on one Sample.
type Decision struct {
	Donate bool
	State  State
	// Reason says why in a short sentence, for `scavenge status` and offers.
	Reason string
	// IdleAt is set when recent input is the reason: the moment that
	// reason lapses if no more input arrives (another rule, such as the
	// owner's CPU load, may still hold then).
	IdleAt time.Time
}

// Decide applies the rules in order: the owner's pause, a dedicated
// machine, recent input, the owner's CPU load, then "away". A machine with
// nothing to watch (no keyboard, mouse or login session) counts as away, as
// a server in a rack is.
func Decide(s Sample, c Config) Decision {
	if c.Paused {
		return Decision{State: StatePaused, Reason: "paused by the owner"}
	}
	if c.Dedicated {
		return Decision{Donate: true, State: StateIdle, Reason: "dedicated machine"}
	}
	idle := max(s.InputIdle, 0) // a clock step can put input in the future
	if s.InputKnown && idle < c.IdleAfter {
		return Decision{
			State:  StateOwner,
			Reason: "keyboard used " + HumanDuration(idle) + " ago" + source(s.InputSource),
			IdleAt: s.Now.Add(c.IdleAfter - idle),
		}
	}
	if s.CPUKnown && c.OwnerCPUMax > 0 && s.OwnerCPU > c.OwnerCPUMax {
		return Decision{
			State:  StateOwner,
			Reason: "owner CPU " + percentOver(s.OwnerCPU, c.OwnerCPUMax),
		}
	}
	if !s.InputKnown {
		return Decision{Donate: true, State: StateIdle, Reason: "no keyboard, mouse or login session found"}
	}
	return Decision{
		Donate: true,
		State:  StateIdle,
		Reason: "no input for " + HumanDuration(idle) + " (idle after " + HumanDuration(c.IdleAfter) + ")",
	}
}

func source(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

// percentOver prints "load > limit" as whole percentages, with one decimal
// each when whole numbers would read "25% > 25%".
func percentOver(load, limit float64) string {
	l, m := math.Round(load*100), math.Round(limit*100)
	if l > m {
		return fmt.Sprintf("%.0f%% > %.0f%%", l, m)
	}
	return fmt.Sprintf("%.1f%% > %.1f%%", load*100, limit*100)
}
