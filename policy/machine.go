package policy

import (
	"slices"
	"sync"
	"time"
)

// Sample is one reading of the sensors and of the guests, with the moment
// it was taken: the Machine's only clock.
type Sample struct {
	// Now is when the sample was taken. Its time zone is the one donation
	// windows are read in; the daemon passes time.Now(), whose monotonic
	// reading keeps durations right across wall-clock steps.
	Now time.Time
	// InputIdle is the time since the last keyboard or mouse input.
	InputIdle time.Duration
	// InputKnown is false when no input source could be read this time:
	// the machine has no keyboard, mouse or login session to watch, or the
	// sensor failed. After input has once been seen, the last input seen
	// still counts, so a failing sensor cannot make the owner look away.
	InputKnown bool
	// InputSource names where InputIdle came from ("tty /dev/pts/3").
	InputSource string
	// OwnerCPU is the CPU load of everything except guests, as a fraction
	// of all cores (0..1).
	OwnerCPU float64
	// CPUKnown is false when the CPU load could not be measured; such a
	// sample leaves the CPU rule as it was.
	CPUKnown bool
	// Guests is how many guests run here now.
	Guests int
}

// Decision is what the machine must do now, and why.
type Decision struct {
	State State
	// Reason says why in a short sentence, for `scavenge status` and
	// offers: "keyboard used 4s ago (tty /dev/pts/3)".
	Reason string
	// Since is when the machine entered State.
	Since time.Time
	// Donate says whether new guests are welcome (State.Donates()).
	Donate bool
	// GuestAction is what guests running here must get now. It is
	// ActionNone while donating; otherwise the OnReturn action, with a
	// suspension turning into the Fallback after OnReturn.MaxSuspend.
	// In a non-donating state with no guests it still names the action, for
	// a guest that arrives anyway.
	GuestAction Action
	// GuestReason says what is done to guests and what comes next, in
	// words: "suspended for 3m; continue after 5m without the owner, killed
	// after 30m". It is "" when guests run normally.
	GuestReason string
	// HeldSince is when guests here were first held back (shared,
	// suspended, stopped) in the current spell of not donating; zero when
	// no guest is held back. MaxSuspend counts from it.
	HeldSince time.Time
	// Fallback is what a guest gets when GuestAction is ActionMigrate but
	// it cannot be checkpointed: ActionShare or ActionKill.
	Fallback Action
	// Grace is how long a guest asked to stop has before it is killed.
	Grace time.Duration
	// Share caps each guest when GuestAction is ActionShare; zero otherwise.
	Share Limits
}

// Machine follows the owner's presence from sample to sample. It is safe
// for concurrent use: the daemon steps it from its sensor loop while the
// owner's pause and resume arrive from the local API.
type Machine struct {
	mu sync.Mutex
	p  Policy

	last    Sample // the latest sample; Pause and Resume decide on it
	stepped bool   // a sample has been taken

	inputSeen   bool      // input has been reported at least once
	lastInput   time.Time // the most recent input reported
	inputSource string
	cpu         cpuWatch

	away      bool          // the owner counts as away
	awaySince time.Time     // when that began: input after it means the owner is back
	awayAfter time.Duration // the quiet period that made the owner count as away

	paused    bool
	pauseNote string

	held time.Time // when guests were first held back in this spell; zero: none

	state State
	since time.Time
}

// NewMachine returns a machine for p that has seen nothing yet: it counts
// the owner as present until a sample shows otherwise. Zero values in
// OnReturn mean what its fields say (no action is a kill, no ResumeAfter is
// IdleAfter); p should pass Validate.
func NewMachine(p Policy) *Machine {
	p = p.normalized()
	p.Windows = slices.Clone(p.Windows)
	return &Machine{p: p}
}

// Step takes one sample and returns the decision for that moment. Samples
// should come in time order, every second or so: hysteresis counts the
// time between them.
func (m *Machine) Step(s Sample) Decision {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.observe(s)
	return m.decide(s.Now)
}

// Pause is the owner's override (`scavenge pause`): from now until Resume,
// the machine does not donate and its guests get the OnReturn action at
// once, whatever the sensors say. note is the owner's reason ("lunch"), or
// "". It returns the decision for now, on the latest sample.
func (m *Machine) Pause(now time.Time, note string) Decision {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.paused, m.pauseNote = true, note
	return m.decide(now)
}

// Resume lifts the owner's pause: from now the usual rules apply again. On
// a desk PC the input that typed `scavenge resume` counts like any other,
// so donating restarts only once the owner has been away for IdleAfter.
// It returns the decision for now, on the latest sample.
func (m *Machine) Resume(now time.Time) Decision {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.paused, m.pauseNote = false, ""
	return m.decide(now)
}

// observe updates what is known about the owner from one sample.
func (m *Machine) observe(s Sample) {
	m.last, m.stepped = s, true
	if m.p.Dedicated {
		if !m.away {
			m.away, m.awaySince, m.awayAfter = true, s.Now, 0
		}
		return
	}
	if s.InputKnown {
		// A clock step can put input in the future: it counts as now.
		m.inputSeen, m.lastInput, m.inputSource = true, s.Now.Add(-max(s.InputIdle, 0)), s.InputSource
	}
	if s.CPUKnown && m.p.OwnerCPUMax > 0 {
		m.cpu.observe(s.Now, s.OwnerCPU, m.p.OwnerCPUMax, m.p.OwnerCPUFor)
	}
	if m.away {
		// The owner is back on the first sample that shows input newer than
		// the moment they counted as away: giving the machine back waits
		// for nothing.
		if m.inputSeen && m.lastInput.After(m.awaySince) || m.cpu.busy {
			m.away = false
		}
		return
	}
	quiet := m.quiet()
	if (!m.inputSeen || s.Now.Sub(m.lastInput) >= quiet) && !m.cpu.busy {
		m.away, m.awaySince, m.awayAfter = true, s.Now, quiet
	}
}

// quiet is how long without input the owner must be gone to count as away:
// ResumeAfter while guests are held back, else IdleAfter.
func (m *Machine) quiet() time.Duration {
	if !m.held.IsZero() {
		return m.p.OnReturn.ResumeAfter
	}
	return m.p.IdleAfter
}

// decide turns what is known into the decision at now. The owner's pause
// comes first, then the donation windows, then the owner's presence.
func (m *Machine) decide(now time.Time) Decision {
	guests := m.last.Guests
	var st State
	var why string
	switch {
	case m.paused:
		st, why = StatePaused, m.pauseReason()
	case !inWindows(m.p.Windows, now):
		st, why = StateOutsideHours, "outside donation hours ("+windowList(m.p.Windows)+")"
	case !m.away:
		st, why = StateOwnerActive, m.presentReason(now)
		if guests > 0 {
			st = StateOwnerBack
		}
	default:
		st, why = StateIdle, m.awayReason(now)
		if guests > 0 {
			st = StateDonating
		}
	}
	if st != m.state || m.since.IsZero() {
		m.state, m.since = st, now
	}
	r := m.p.OnReturn
	d := Decision{State: st, Reason: why, Since: m.since, Donate: st.Donates(), Fallback: r.Fallback, Grace: r.Grace}

	// A spell of holding guests back starts with the first guest held and
	// ends when donating resumes or no guest is left.
	switch {
	case d.Donate || guests <= 0:
		m.held = time.Time{}
	case m.held.IsZero():
		m.held = now
	}
	if !d.Donate {
		d.GuestAction, d.GuestReason = m.guestAction(now)
		d.HeldSince = m.held
		if d.GuestAction == ActionShare {
			d.Share = r.Share
		}
	}
	return d
}

// guestAction is what guests get while the machine does not donate: the
// OnReturn action, a suspension turning into the fallback after MaxSuspend.
func (m *Machine) guestAction(now time.Time) (Action, string) {
	r := m.p.OnReturn
	a := r.Action
	if a == ActionSuspend && !m.held.IsZero() && r.MaxSuspend > 0 && now.Sub(m.held) >= r.MaxSuspend {
		return r.Fallback, "suspended for " + HumanDuration(r.MaxSuspend) + ", the limit: " + m.actionWords(r.Fallback)
	}
	if m.held.IsZero() {
		return a, "" // no guest is here to be treated
	}
	return a, m.actionWords(a)
}
