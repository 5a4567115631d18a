package policy

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Policy is one machine's rules for lending itself: when the owner counts
// as away, when donating is allowed at all, and what guests get when the
// owner comes back.
type Policy struct {
	// Dedicated marks a processor-pool machine: nobody sits at it, so input
	// and CPU load are ignored and it counts as away. Donation windows and
	// the owner's pause still apply: an administrator must be able to stop
	// a pool machine too.
	Dedicated bool
	// IdleAfter is how long without keyboard or mouse input before the
	// owner counts as away and new guests are accepted. It is taken as
	// given; DefaultIdleAfter is the usual value.
	IdleAfter time.Duration
	// OwnerCPUMax is the owner's CPU load, as a fraction of all cores
	// (guests excluded by the sensor), above which the owner counts as
	// present even without input: a build left running. Zero or less turns
	// this rule off.
	OwnerCPUMax float64
	// OwnerCPUFor is the hysteresis of the CPU rule: the load must stay
	// above OwnerCPUMax this long before the owner counts as present, and
	// below it as long before that clears. Zero reacts to every sample.
	OwnerCPUFor time.Duration
	// Windows are when donating is allowed at all, in the time zone of
	// Sample.Now; empty means always.
	Windows []Window
	// OnReturn is what guests get while the owner is back, while paused
	// and outside the windows.
	OnReturn OnReturn
}

// OnReturn is what happens to guests running here when the owner returns.
type OnReturn struct {
	// Action is what guests get: ActionShare, ActionSuspend, ActionKill or
	// ActionMigrate. ActionNone (the zero value) counts as ActionKill, the
	// one that leaves nothing of the guest behind.
	Action Action
	// Grace is how long a guest asked to stop (SIGTERM) has before it is
	// killed (SIGKILL).
	Grace time.Duration
	// Share caps each guest in share mode, on top of the lowest scheduling
	// priority; zero fields mean no cap of that kind.
	Share Limits
	// ResumeAfter is how long the owner must have been away (no input, CPU
	// quiet) before shared or suspended guests get full speed again. It
	// replaces IdleAfter while guests are held back, so it may be shorter
	// (continue soon after a short absence, as HTCondor's CONTINUE) or
	// longer (do not thaw for every coffee break). Zero means IdleAfter.
	ResumeAfter time.Duration
	// MaxSuspend is the longest a guest stays suspended; then it gets
	// Fallback. Zero means no limit.
	MaxSuspend time.Duration
	// Fallback is ActionShare or ActionKill: what a guest suspended for
	// MaxSuspend gets, and what the donor does instead of ActionMigrate
	// when a guest cannot be checkpointed. ActionNone counts as ActionKill.
	Fallback Action
}

// Limits caps one guest.
type Limits struct {
	CPUs        float64 // CPU time in cores (0.1 = a tenth of one core); 0: no cap
	MemoryBytes uint64  // resident memory; 0: no cap
}

// The usual values, which DefaultPolicy uses and the config file's defaults
// match.
const (
	DefaultIdleAfter   = 10 * time.Minute
	DefaultOwnerCPUMax = 0.25
	DefaultOwnerCPUFor = 30 * time.Second
	DefaultGrace       = 10 * time.Second
	DefaultShareCPU    = 0.1
	DefaultResumeAfter = 5 * time.Minute
	DefaultMaxSuspend  = 30 * time.Minute
)

// DefaultPolicy returns the policy of an office PC: donate after 10 minutes
// without input and with the owner's CPU quiet, at any time, and stop guests
// when the owner returns.
func DefaultPolicy() Policy {
	return Policy{
		IdleAfter:   DefaultIdleAfter,
		OwnerCPUMax: DefaultOwnerCPUMax,
		OwnerCPUFor: DefaultOwnerCPUFor,
		OnReturn: OnReturn{
			Action:      ActionKill,
			Grace:       DefaultGrace,
			Share:       Limits{CPUs: DefaultShareCPU},
			ResumeAfter: DefaultResumeAfter,
			MaxSuspend:  DefaultMaxSuspend,
			Fallback:    ActionKill,
		},
	}
}

// Validate reports values the Machine cannot honour, each error naming the
// field. The config package checks the file's keys with its own messages;
// this guards policies built in code.
func (p Policy) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("policy: %s: %s", field, fmt.Sprintf(format, args...)))
	}
	if p.IdleAfter < 0 {
		bad("IdleAfter", "%v is negative", p.IdleAfter)
	}
	if math.IsNaN(p.OwnerCPUMax) || p.OwnerCPUMax > 1 {
		bad("OwnerCPUMax", "%v is not a fraction of all cores (0 to 1)", p.OwnerCPUMax)
	}
	if p.OwnerCPUFor < 0 {
		bad("OwnerCPUFor", "%v is negative", p.OwnerCPUFor)
	}
	for i, w := range p.Windows {
		if err := w.validate(); err != nil {
			bad(fmt.Sprintf("Windows[%d]", i), "%v", err)
		}
	}
	r := p.OnReturn
	if !r.Action.valid() {
		bad("OnReturn.Action", "%q is not an action", string(r.Action))
	}
	if r.Fallback != ActionNone && r.Fallback != ActionShare && r.Fallback != ActionKill {
		bad("OnReturn.Fallback", "%q: the fallback must be share or kill", string(r.Fallback))
	}
	if r.Grace < 0 || r.ResumeAfter < 0 || r.MaxSuspend < 0 {
		bad("OnReturn", "Grace, ResumeAfter and MaxSuspend must not be negative")
	}
	if c := r.Share.CPUs; c < 0 || math.IsNaN(c) || math.IsInf(c, 0) {
		bad("OnReturn.Share.CPUs", "%v is not a number of cores", c)
	}
	return errors.Join(errs...)
}

// normalized fills the zero values that stand for another value, so the
// Machine's rules need not repeat them.
func (p Policy) normalized() Policy {
	if p.OnReturn.Action == ActionNone {
		p.OnReturn.Action = ActionKill
	}
	if p.OnReturn.Fallback != ActionShare {
		p.OnReturn.Fallback = ActionKill
	}
	if p.OnReturn.ResumeAfter <= 0 {
		p.OnReturn.ResumeAfter = p.IdleAfter
	}
	p.OwnerCPUFor = max(p.OwnerCPUFor, 0)
	return p
}
