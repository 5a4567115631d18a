package policy

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// The clock of every scenario: Monday 2 March 2026, 09:00, in a fixed zone
// an hour east of UTC, so that windows are read in local time, not UTC.
var (
	cet = time.FixedZone("CET", 3600)
	t0  = time.Date(2026, 3, 2, 9, 0, 0, 0, cet)
)

// noInput marks a step whose sensor reports no input at all.
const noInput = time.Duration(-1 << 63)

// unknownCPU marks a step whose sensor could not measure the CPU load.
const unknownCPU = -1.0

// step is one line of a scenario: what happens at t0+at, and what the
// machine must decide.
type step struct {
	at     time.Duration // when, since t0
	input  time.Duration // last input at t0+input, or noInput
	cpu    float64       // owner CPU load, or unknownCPU
	guests int
	op     string // "" for a sample, "pause" (with note) or "resume"
	note   string

	want    State
	act     Action        // Decision.GuestAction
	reason  string        // a part of Reason; "" is not checked
	greason string        // a part of GuestReason; "" is not checked
	since   time.Duration // Since == t0+since; 0 is not checked
	held    time.Duration // HeldSince == t0+held; 0 means HeldSince is zero
}

// run plays steps on a fresh machine for p and checks every decision.
func run(t *testing.T, p Policy, steps []step) {
	t.Helper()
	m := NewMachine(p)
	for i, s := range steps {
		now := t0.Add(s.at)
		var d Decision
		switch s.op {
		case "pause":
			d = m.Pause(now, s.note)
		case "resume":
			d = m.Resume(now)
		case "":
			smp := Sample{Now: now, Guests: s.guests}
			if s.input != noInput {
				smp.InputKnown, smp.InputIdle, smp.InputSource = true, now.Sub(t0.Add(s.input)), "tty /dev/pts/3"
			}
			if s.cpu != unknownCPU {
				smp.CPUKnown, smp.OwnerCPU = true, s.cpu
			}
			d = m.Step(smp)
		default:
			t.Fatalf("step %d: unknown op %q", i, s.op)
		}
		where := func() string { return "step " + strconv.Itoa(i) + " at +" + s.at.String() + " " + s.op }
		if d.State != s.want || d.GuestAction != s.act {
			t.Errorf("%s: got %s/%s (%q; guests: %q), want %s/%s", where(), d.State, d.GuestAction, d.Reason, d.GuestReason, s.want, s.act)
		}
		if !strings.Contains(d.Reason, s.reason) {
			t.Errorf("%s: reason %q, want it to contain %q", where(), d.Reason, s.reason)
		}
		if !strings.Contains(d.GuestReason, s.greason) {
			t.Errorf("%s: guest reason %q, want it to contain %q", where(), d.GuestReason, s.greason)
		}
		if s.since != 0 && !d.Since.Equal(t0.Add(s.since)) {
			t.Errorf("%s: since +%v, want +%v", where(), d.Since.Sub(t0), s.since)
		}
		if want := t0.Add(s.held); s.held == 0 && !d.HeldSince.IsZero() || s.held != 0 && !d.HeldSince.Equal(want) {
			t.Errorf("%s: held since %v, want +%v (0: none)", where(), d.HeldSince, s.held)
		}
		// Invariants of every decision.
		if d.Donate != d.State.Donates() {
			t.Errorf("%s: Donate %v in state %s", where(), d.Donate, d.State)
		}
		if d.Donate != (d.GuestAction == ActionNone) {
			t.Errorf("%s: Donate %v with guest action %s", where(), d.Donate, d.GuestAction)
		}
		if (d.GuestAction == ActionShare) != (d.Share != Limits{}) && p.OnReturn.Share != (Limits{}) {
			t.Errorf("%s: share limits %+v with guest action %s", where(), d.Share, d.GuestAction)
		}
		if d.Reason == "" {
			t.Errorf("%s: empty reason", where())
		}
	}
}

// office is the default policy: 10 minutes idle, CPU rule with 30s
// hysteresis, kill on return.
func office() Policy { return DefaultPolicy() }

const (
	sec = time.Second
	mn  = time.Minute
	hr  = time.Hour
)

func TestMachineOwnerLeavesAndReturns(t *testing.T) {
	run(t, office(), []step{
		{at: 0, input: 0, cpu: 0.05, want: StateOwnerActive, act: ActionKill, reason: "keyboard used 0s ago (tty /dev/pts/3)", since: 0},
		{at: 9*mn + 59*sec, input: 0, cpu: 0.05, want: StateOwnerActive, act: ActionKill, reason: "keyboard used 9m ago"},
		{at: 10 * mn, input: 0, cpu: 0.05, want: StateIdle, reason: "no input for 10m (idle after 10m)", since: 10 * mn},
		{at: 11 * mn, input: 0, cpu: 0.05, guests: 1, want: StateDonating, reason: "no input for 11m", since: 11 * mn},
		// A sensor whose reading jitters back and forth by less than the
		// idle time is not the owner: only input after donating began is.
		{at: 12 * mn, input: 2 * sec, cpu: 0.05, guests: 1, want: StateDonating, since: 11 * mn},
		// The first sample with input newer than the start of donating
		// gives the machine back, although that input is not "recent" by
		// any threshold but zero.
		{at: 20 * mn, input: 20*mn - 500*time.Millisecond, cpu: 0.05, guests: 2, want: StateOwnerBack, act: ActionKill,
			reason: "keyboard used 0s ago", greason: "stopped (SIGTERM, then SIGKILL after 10s)", since: 20 * mn, held: 20 * mn},
		{at: 20*mn + 5*sec, input: 20 * mn, cpu: 0.05, guests: 1, want: StateOwnerBack, act: ActionKill, held: 20 * mn},
		{at: 20*mn + 10*sec, input: 20 * mn, cpu: 0.05, want: StateOwnerActive, act: ActionKill, since: 20*mn + 10*sec},
		// With no guests left, going back to donating waits the full idle time.
		{at: 29*mn + 59*sec, input: 20 * mn, cpu: 0.05, want: StateOwnerActive, act: ActionKill, reason: "keyboard used 9m ago"},
		{at: 30 * mn, input: 20 * mn, cpu: 0.05, want: StateIdle, since: 30 * mn},
		// One touch while idle: not donating again for another 10 minutes.
		{at: 35 * mn, input: 34*mn + 30*sec, cpu: 0.05, want: StateOwnerActive, act: ActionKill, reason: "keyboard used 30s ago"},
		{at: 44*mn + 29*sec, input: 34*mn + 30*sec, cpu: 0.05, want: StateOwnerActive, act: ActionKill},
		{at: 44*mn + 30*sec, input: 34*mn + 30*sec, cpu: 0.05, want: StateIdle},
	})
}

func TestMachineCPUHysteresis(t *testing.T) {
	run(t, office(), []step{
		{at: 0, input: -hr, cpu: 0.10, want: StateIdle, reason: "no input for 1h (idle after 10m)"},
		{at: 10 * sec, input: -hr, cpu: 0.63, want: StateIdle},
		{at: 39 * sec, input: -hr, cpu: 0.63, want: StateIdle},
		{at: 40 * sec, input: -hr, cpu: 0.63, want: StateOwnerActive, act: ActionKill, reason: "owner CPU 63% > 25% for 30s", since: 40 * sec},
		// Below the ceiling, the owner still counts until it has been quiet
		// as long.
		{at: 50 * sec, input: -hr, cpu: 0.03, want: StateOwnerActive, act: ActionKill, reason: "owner CPU above 25% until 0s ago (now 3%)"},
		{at: 60 * sec, input: -hr, cpu: 0.90, want: StateOwnerActive, act: ActionKill, reason: "owner CPU 90% > 25% for 0s"},
		{at: 70 * sec, input: -hr, cpu: 0.10, want: StateOwnerActive, act: ActionKill},
		{at: 99 * sec, input: -hr, cpu: 0.10, want: StateOwnerActive, act: ActionKill, reason: "until 29s ago (now 10%)"},
		{at: 100 * sec, input: -hr, cpu: 0.10, want: StateIdle, since: 100 * sec},
		// A spike does not stop donating.
		{at: 110 * sec, input: -hr, cpu: 0.99, guests: 1, want: StateDonating},
		{at: 111 * sec, input: -hr, cpu: 0.10, guests: 1, want: StateDonating},
		// Samples without a CPU reading neither start nor break a run.
		{at: 120 * sec, input: -hr, cpu: 0.90, guests: 1, want: StateDonating},
		{at: 130 * sec, input: -hr, cpu: unknownCPU, guests: 1, want: StateDonating},
		{at: 149 * sec, input: -hr, cpu: 0.90, guests: 1, want: StateDonating},
		{at: 150 * sec, input: -hr, cpu: 0.90, guests: 1, want: StateOwnerBack, act: ActionKill, reason: "owner CPU 90% > 25% for 30s", held: 150 * sec},
		// Input is the better reason when there is both.
		{at: 155 * sec, input: 154 * sec, cpu: 0.90, guests: 1, want: StateOwnerBack, act: ActionKill, reason: "keyboard used 1s ago", held: 150 * sec},
	})
}

func TestMachineCPUFirstSampleCountsAtOnce(t *testing.T) {
	run(t, office(), []step{
		// A daemon started beside a running build does not lend the machine
		// for 30s first.
		{at: 0, input: -hr, cpu: 0.80, want: StateOwnerActive, act: ActionKill, reason: "owner CPU 80% > 25% for 0s"},
		{at: sec, input: -hr, cpu: 0.10, want: StateOwnerActive, act: ActionKill},
		{at: 30*sec + 999*time.Millisecond, input: -hr, cpu: 0.10, want: StateOwnerActive, act: ActionKill},
		{at: 31 * sec, input: -hr, cpu: 0.10, want: StateIdle},
	})
}

func TestMachineCPURuleWithoutHysteresis(t *testing.T) {
	p := office()
	p.OwnerCPUFor = 0
	run(t, p, []step{
		{at: 0, input: -hr, cpu: 0.10, want: StateIdle},
		{at: sec, input: -hr, cpu: 0.2512, want: StateOwnerActive, act: ActionKill, reason: "owner CPU 25.1% > 25.0%"},
		{at: 2 * sec, input: -hr, cpu: 0.25, want: StateIdle},
	})
	p.OwnerCPUMax = 0 // rule off
	run(t, p, []step{
		{at: 0, input: -hr, cpu: 1, want: StateIdle},
	})
}

func TestMachineSuspendAndResume(t *testing.T) {
	p := office()
	p.OnReturn.Action = ActionSuspend
	run(t, p, []step{
		{at: 0, input: -hr, cpu: 0, guests: 1, want: StateDonating},
		{at: mn, input: mn, cpu: 0, guests: 1, want: StateOwnerBack, act: ActionSuspend, held: mn,
			greason: "suspended; full speed again after 5m without the owner; killed after 30m suspended"},
		{at: 5*mn + 59*sec, input: mn, cpu: 0, guests: 1, want: StateOwnerBack, act: ActionSuspend, held: mn},
		// ResumeAfter, not IdleAfter, ends a suspension.
		{at: 6 * mn, input: mn, cpu: 0, guests: 1, want: StateDonating,
			reason: "no input for 5m (held-back guests continue after 5m)", since: 6 * mn},
		// Back again: a new spell of suspension, counted from now.
		{at: 7 * mn, input: 7 * mn, cpu: 0, guests: 1, want: StateOwnerBack, act: ActionSuspend, held: 7 * mn},
		// The guest ends while suspended (its home cancelled it): the owner
		// is alone, and donating waits the full idle time again.
		{at: 8 * mn, input: 7 * mn, cpu: 0, want: StateOwnerActive, act: ActionSuspend},
		{at: 12 * mn, input: 7 * mn, cpu: 0, want: StateOwnerActive, act: ActionSuspend},
		{at: 17 * mn, input: 7 * mn, cpu: 0, want: StateIdle, reason: "(idle after 10m)"},
	})
}

func TestMachineResumeAfterLongerThanIdleAfter(t *testing.T) {
	p := office()
	p.OnReturn.Action = ActionSuspend
	p.OnReturn.ResumeAfter = 20 * mn
	run(t, p, []step{
		{at: 0, input: -hr, cpu: 0, guests: 1, want: StateDonating},
		{at: mn, input: mn, cpu: 0, guests: 1, want: StateOwnerBack, act: ActionSuspend, held: mn},
		{at: 15 * mn, input: mn, cpu: 0, guests: 1, want: StateOwnerBack, act: ActionSuspend, held: mn},
		{at: 21 * mn, input: mn, cpu: 0, guests: 1, want: StateDonating},
	})
}

func TestMachineSuspendLimitThenFallback(t *testing.T) {
	kill := office()
	kill.OnReturn.Action = ActionSuspend
	run(t, kill, []step{
		{at: 0, input: -hr, cpu: 0, guests: 1, want: StateDonating},
		{at: mn, input: mn, cpu: 0, guests: 1, want: StateOwnerBack, act: ActionSuspend, held: mn},
		{at: 30*mn + 59*sec, input: 30 * mn, cpu: 0, guests: 1, want: StateOwnerBack, act: ActionSuspend, held: mn},
		{at: 31 * mn, input: 31 * mn, cpu: 0, guests: 1, want: StateOwnerBack, act: ActionKill, held: mn,
			greason: "suspended for 30m, the limit: stopped (SIGTERM, then SIGKILL after 10s)"},
		{at: 31*mn + 3*sec, input: 31 * mn, cpu: 0, want: StateOwnerActive, act: ActionSuspend},
	})

	share := kill
	share.OnReturn.Fallback = ActionShare
	share.OnReturn.Share = Limits{CPUs: 0.1, MemoryBytes: 512 << 20}
	run(t, share, []step{
		{at: 0, input: -hr, cpu: 0, guests: 1, want: StateDonating},
		{at: mn, input: mn, cpu: 0, guests: 1, want: StateOwnerBack, act: ActionSuspend, held: mn,
			greason: "shared after 30m suspended"},
		{at: 31 * mn, input: 31 * mn, cpu: 0, guests: 1, want: StateOwnerBack, act: ActionShare, held: mn,
			greason: "suspended for 30m, the limit: shared: lowest priority, at most 0.1 CPU and 512MiB each"},
		{at: 36 * mn, input: 31 * mn, cpu: 0, guests: 1, want: StateDonating},
	})

	forever := kill
	forever.OnReturn.MaxSuspend = 0
	run(t, forever, []step{
		{at: 0, input: -hr, cpu: 0, guests: 1, want: StateDonating},
		{at: mn, input: mn, cpu: 0, guests: 1, want: StateOwnerBack, act: ActionSuspend, held: mn},
		{at: 48 * hr, input: 48 * hr, cpu: 0, guests: 1, want: StateOwnerBack, act: ActionSuspend, held: mn},
	})
}

func TestMachineShare(t *testing.T) {
	p := office()
	p.OnReturn.Action = ActionShare
	p.OnReturn.Share = Limits{CPUs: 0.1}
	m := NewMachine(p)
	m.Step(Sample{Now: t0, InputKnown: true, InputIdle: hr, Guests: 1})
	d := m.Step(Sample{Now: t0.Add(mn), InputKnown: true, Guests: 1})
	want := Decision{
		State: StateOwnerBack, Reason: "keyboard used 0s ago", Since: t0.Add(mn),
		GuestAction: ActionShare, GuestReason: "shared: lowest priority, at most 0.1 CPU each; full speed again after 5m without the owner",
		HeldSince: t0.Add(mn), Fallback: ActionKill, Grace: 10 * time.Second, Share: Limits{CPUs: 0.1},
	}
	if d != want {
		t.Errorf("owner back in share mode:\n got %+v\nwant %+v", d, want)
	}
	d = m.Step(Sample{Now: t0.Add(6 * mn), InputKnown: true, InputIdle: 5 * mn, Guests: 1})
	if d.State != StateDonating || d.GuestAction != ActionNone || d.Share != (Limits{}) {
		t.Errorf("after 5m away: got %+v, want donating at full speed", d)
	}
}

func TestMachineMigrate(t *testing.T) {
	p := office()
	p.OnReturn.Action = ActionMigrate
	run(t, p, []step{
		{at: 0, input: -hr, cpu: 0, guests: 1, want: StateDonating},
		{at: mn, input: mn, cpu: 0, guests: 1, want: StateOwnerBack, act: ActionMigrate, held: mn,
			greason: "checkpointed and moved to another peer (killed if that is not possible)"},
	})
	d := NewMachine(p).Pause(t0, "")
	if d.Fallback != ActionKill {
		t.Errorf("Fallback = %s, want kill", d.Fallback)
	}
}

func TestMachinePause(t *testing.T) {
	run(t, office(), []step{
		{at: 0, input: -hr, cpu: 0, guests: 1, want: StateDonating},
		{at: 5 * mn, op: "pause", note: "lunch", want: StatePaused, act: ActionKill,
			reason: "paused by the owner: lunch", since: 5 * mn, held: 5 * mn},
		{at: 6 * mn, input: -hr, cpu: 0, guests: 1, want: StatePaused, act: ActionKill, since: 5 * mn, held: 5 * mn},
		{at: 6*mn + 10*sec, input: -hr, cpu: 0, want: StatePaused, act: ActionKill, since: 5 * mn},
		// Nobody touched the machine: resuming donates at once.
		{at: 7 * mn, op: "resume", want: StateIdle, since: 7 * mn},
		{at: 8 * mn, op: "pause", want: StatePaused, act: ActionKill, reason: "paused by the owner"},
		// The owner typed while paused: after resume the usual rules apply.
		{at: 9 * mn, input: 9 * mn, cpu: 0, want: StatePaused, act: ActionKill},
		{at: 10 * mn, op: "resume", want: StateOwnerActive, act: ActionKill, reason: "keyboard used 1m ago"},
		{at: 19 * mn, input: 9 * mn, cpu: 0, want: StateIdle},
	})
}

func TestMachinePauseBeforeAnySample(t *testing.T) {
	m := NewMachine(office())
	if d := m.Pause(t0, ""); d.State != StatePaused || d.Donate {
		t.Errorf("Pause on a fresh machine: %+v", d)
	}
	if d := m.Resume(t0); d.State != StateOwnerActive || d.Reason != "no sensor reading yet" {
		t.Errorf("Resume on a fresh machine: %+v, want owner active until a sample comes", d)
	}
}

func TestMachineDedicated(t *testing.T) {
	p := office()
	p.Dedicated = true
	p.Windows = []Window{{Days: everyDay, From: 20 * hr, To: 6 * hr}}
	run(t, p, []step{
		// 09:00: outside the window, whoever types.
		{at: 0, input: 0, cpu: 0.9, want: StateOutsideHours, act: ActionKill, reason: "outside donation hours (20:00-06:00)"},
		{at: 11 * hr, input: 11 * hr, cpu: 0.9, want: StateIdle, reason: "dedicated machine", since: 11 * hr},
		{at: 11*hr + sec, input: 11*hr + sec, cpu: 0.9, guests: 3, want: StateDonating},
		{at: 11*hr + 2*sec, op: "pause", want: StatePaused, act: ActionKill, held: 11*hr + 2*sec},
		{at: 11*hr + 3*sec, op: "resume", want: StateDonating},
	})
}

func TestMachineNoInputDevices(t *testing.T) {
	run(t, office(), []step{
		{at: 0, input: noInput, cpu: 0.1, want: StateIdle, reason: "no keyboard, mouse or login session found"},
		{at: sec, input: noInput, cpu: 0.9, want: StateIdle},
		{at: 31 * sec, input: noInput, cpu: 0.9, want: StateOwnerActive, act: ActionKill, reason: "owner CPU 90% > 25% for 30s"},
	})
}

// TestMachineSensorGap checks that a sensor failing after it has seen input
// does not make the owner look away: the last input seen still counts.
func TestMachineSensorGap(t *testing.T) {
	run(t, office(), []step{
		{at: 0, input: 0, cpu: 0, want: StateOwnerActive, act: ActionKill},
		{at: sec, input: noInput, cpu: unknownCPU, want: StateOwnerActive, act: ActionKill, reason: "keyboard used 1s ago"},
		{at: 9 * mn, input: noInput, cpu: unknownCPU, want: StateOwnerActive, act: ActionKill},
		{at: 10 * mn, input: noInput, cpu: unknownCPU, want: StateIdle, reason: "no input for 10m"},
	})
}

func TestMachineClockStep(t *testing.T) {
	run(t, office(), []step{
		// Input "in the future" after a clock step counts as now.
		{at: 0, input: 5 * sec, cpu: 0, want: StateOwnerActive, act: ActionKill, reason: "keyboard used 0s ago"},
	})
}

var (
	everyDay = [7]bool{true, true, true, true, true, true, true}
	monFri   = [7]bool{time.Monday: true, time.Tuesday: true, time.Wednesday: true, time.Thursday: true, time.Friday: true}
	satSun   = [7]bool{time.Saturday: true, time.Sunday: true}
)

// nightsAndWeekends is "mon-fri 18:00-08:00" and "sat-sun".
var nightsAndWeekends = []Window{{Days: monFri, From: 18 * hr, To: 8 * hr}, {Days: satSun, From: 0, To: 24 * hr}}

func TestMachineWindows(t *testing.T) {
	p := office()
	p.Windows = nightsAndWeekends
	const day = 24 * hr // t0 is Monday 09:00
	run(t, p, []step{
		{at: 0, input: -hr, cpu: 0, want: StateOutsideHours, act: ActionKill, reason: "outside donation hours (mon-fri 18:00-08:00, sat-sun)"},
		{at: 8*hr + 59*mn + 59*sec, input: -hr, cpu: 0, want: StateOutsideHours, act: ActionKill},
		{at: 9 * hr, input: -hr, cpu: 0, want: StateIdle, since: 9 * hr}, // Monday 18:00
		{at: 10 * hr, input: -hr, cpu: 0, guests: 1, want: StateDonating},
		{at: 15 * hr, input: -hr, cpu: 0, guests: 1, want: StateDonating},                                       // Tuesday 00:00
		{at: day - hr - sec, input: -hr, cpu: 0, guests: 1, want: StateDonating},                                // Tuesday 07:59:59
		{at: day - hr, input: -hr, cpu: 0, guests: 1, want: StateOutsideHours, act: ActionKill, held: day - hr}, // 08:00
		{at: day - hr + 10*sec, input: -hr, cpu: 0, want: StateOutsideHours, act: ActionKill},
		// Friday 18:00 to Monday 08:00 without a gap.
		{at: 4*day + 9*hr, input: -hr, cpu: 0, want: StateIdle, since: 4*day + 9*hr},
		{at: 4*day + 15*hr, input: -hr, cpu: 0, want: StateIdle, since: 4*day + 9*hr},     // Saturday 00:00
		{at: 5*day + 23*hr, input: -hr, cpu: 0, want: StateIdle, since: 4*day + 9*hr},     // Sunday 08:00
		{at: 6*day + 15*hr, input: -hr, cpu: 0, want: StateIdle, since: 4*day + 9*hr},     // Monday 00:00
		{at: 6*day + 23*hr, input: -hr, cpu: 0, want: StateOutsideHours, act: ActionKill}, // Monday 08:00
	})
}

// TestMachineWindowSuspend: guests suspended when the hours end continue
// when they start again, if the owner is away then.
func TestMachineWindowSuspend(t *testing.T) {
	p := office()
	p.Windows = []Window{{Days: everyDay, From: 18 * hr, To: 8 * hr}}
	p.OnReturn.Action = ActionSuspend
	p.OnReturn.MaxSuspend = 0
	run(t, p, []step{
		{at: -2 * hr, input: -3 * hr, cpu: 0, guests: 1, want: StateDonating}, // 07:00
		{at: -hr, input: -3 * hr, cpu: 0, guests: 1, want: StateOutsideHours, act: ActionSuspend, held: -hr},
		{at: 0, input: 0, cpu: 0, guests: 1, want: StateOutsideHours, act: ActionSuspend, held: -hr}, // the owner arrives
		{at: 8 * hr, input: 8 * hr, cpu: 0, guests: 1, want: StateOutsideHours, act: ActionSuspend, held: -hr},
		// 18:00, the owner left 17:00 (more than ResumeAfter ago).
		{at: 9 * hr, input: 8 * hr, cpu: 0, guests: 1, want: StateDonating},
	})
}

func TestDecisionSinceKeepsWhileStateHolds(t *testing.T) {
	m := NewMachine(office())
	first := m.Step(Sample{Now: t0, InputKnown: true, InputIdle: hr})
	for i := 1; i <= 5; i++ {
		d := m.Step(Sample{Now: t0.Add(time.Duration(i) * sec), InputKnown: true, InputIdle: hr + time.Duration(i)*sec})
		if !d.Since.Equal(first.Since) {
			t.Fatalf("sample %d: Since moved from %v to %v within one state", i, first.Since, d.Since)
		}
	}
}

func TestStateDonates(t *testing.T) {
	for _, s := range []State{StateOwnerActive, StateIdle, StateDonating, StateOwnerBack, StatePaused, StateOutsideHours, "martian"} {
		want := s == StateIdle || s == StateDonating
		if s.Donates() != want {
			t.Errorf("%s.Donates() = %v, want %v", s, s.Donates(), want)
		}
		if s.String() != string(s) {
			t.Errorf("String() = %q, want %q", s.String(), string(s))
		}
	}
}

func TestParseAction(t *testing.T) {
	for _, s := range []string{"share", "suspend", "kill", "migrate"} {
		a, err := ParseAction(s)
		if err != nil || a.String() != s {
			t.Errorf("ParseAction(%q) = %v, %v", s, a, err)
		}
	}
	for _, s := range []string{"", "none", "Kill", "pause"} {
		if _, err := ParseAction(s); err == nil {
			t.Errorf("ParseAction(%q) succeeded", s)
		}
	}
	if ActionNone.String() != "none" {
		t.Errorf("ActionNone.String() = %q", ActionNone.String())
	}
}

func TestPolicyValidate(t *testing.T) {
	if err := DefaultPolicy().Validate(); err != nil {
		t.Fatalf("DefaultPolicy().Validate() = %v", err)
	}
	tests := []struct {
		name   string
		mutate func(p *Policy)
		want   string
	}{
		{"negative idle", func(p *Policy) { p.IdleAfter = -1 }, "IdleAfter"},
		{"cpu over 1", func(p *Policy) { p.OwnerCPUMax = 1.5 }, "OwnerCPUMax"},
		{"bad action", func(p *Policy) { p.OnReturn.Action = "nuke" }, "OnReturn.Action"},
		{"suspend fallback", func(p *Policy) { p.OnReturn.Fallback = ActionSuspend }, "OnReturn.Fallback"},
		{"empty window", func(p *Policy) { p.Windows = []Window{{From: 0, To: hr}} }, "Windows[0]: no days"},
		{"window with no hours", func(p *Policy) { p.Windows = []Window{{Days: monFri, From: hr, To: hr}} }, "Windows[0]: no hours"},
		{"share cpu", func(p *Policy) { p.OnReturn.Share.CPUs = -1 }, "Share.CPUs"},
	}
	for _, tt := range tests {
		p := DefaultPolicy()
		tt.mutate(&p)
		if err := p.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Validate() = %v, want an error about %s", tt.name, err, tt.want)
		}
	}
}

// BenchmarkStep prints what one decision costs; the daemon takes one a
// second, so anything under a few microseconds is noise.
func BenchmarkStep(b *testing.B) {
	p := office()
	p.Windows = nightsAndWeekends
	m := NewMachine(p)
	now := t0
	for i := 0; b.Loop(); i++ {
		now = now.Add(sec)
		m.Step(Sample{Now: now, InputKnown: true, InputIdle: time.Duration(i%900) * sec, CPUKnown: true, OwnerCPU: 0.1, Guests: i % 2})
	}
}
