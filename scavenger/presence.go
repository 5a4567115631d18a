package scavenger

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/scavenge/scavenge/peer/wire"
	"github.com/scavenge/scavenge/policy"
	"github.com/scavenge/scavenge/policy/sensor"
)

// The owner's side of the donor: a loop that reads the sensors, steps the
// policy's state machine and hands each decision to the donor, which
// applies it to its guests. The owner's pause and resume go through the
// same machine, so a sample can never undo a pause and a pause applies
// the same action as the owner's return.

// defaultSampleEvery is how often the sensors are read when the options do
// not say. An owner's return is noticed sooner when the sensor reports
// input as it happens (sensor.Notifier).
const defaultSampleEvery = time.Second

// presence runs the policy machine for an Engine.
type presence struct {
	e      *Engine
	log    *slog.Logger
	m      *policy.Machine
	sensor sensor.Sensor
	every  time.Duration
	now    func() time.Time

	mu       sync.Mutex // orders decisions: a pause is never overtaken by an older sample
	last     policy.Decision
	lastErr  string         // the sensor's last error, logged once
	migrate  bool           // a checkpoint backend can move guests
	reported bool           // the first decision was logged
	stats    *statsRecorder // counters and history for the dashboard (stats.go)
}

func newPresence(e *Engine) *presence {
	s := e.opts.Sensor
	if s == nil {
		s = noSensor{}
	}
	every := e.opts.SampleEvery
	if every <= 0 {
		every = defaultSampleEvery
	}
	return &presence{
		e: e, log: e.log.With("component", "presence"), m: policy.NewMachine(e.opts.Policy),
		sensor: s, every: every, now: time.Now, stats: newStatsRecorder(),
		migrate: slices.ContainsFunc(e.opts.Donor.Checkpoint, func(b string) bool { return b != "none" }),
	}
}

// noSensor is the sensor of an engine given none: nothing to watch, which
// the policy reads as an owner who is away (a server in a rack).
type noSensor struct{}

func (noSensor) Read(ctx context.Context) (sensor.Reading, error) { return sensor.Reading{}, ctx.Err() }

// run samples at once and then every p.every, and at once whenever the
// sensor reports input, until ctx ends.
func (p *presence) run(ctx context.Context) error {
	var activity <-chan struct{}
	if n, ok := p.sensor.(sensor.Notifier); ok {
		activity = n.Activity() // input as it happens: react at once
	}
	t := time.NewTicker(p.every)
	defer t.Stop()
	for {
		p.sample(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-activity:
		}
	}
}

// sample reads the sensors, steps the machine and applies its decision.
func (p *presence) sample(ctx context.Context) {
	r, err := p.sensor.Read(ctx)
	if ctx.Err() != nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	// A broken sensor is reported when it breaks and when it heals, not
	// every sample.
	switch {
	case err != nil && err.Error() != p.lastErr:
		p.log.Warn("sensor", "err", err)
		p.lastErr = err.Error()
	case err == nil && p.lastErr != "":
		p.log.Info("sensor works again")
		p.lastErr = ""
	}
	d := p.m.Step(policy.Sample{
		Now:         p.now(),
		InputIdle:   r.InputIdle,
		InputKnown:  r.InputKnown,
		InputSource: r.InputSource,
		OwnerCPU:    r.OwnerCPU,
		CPUKnown:    r.CPUKnown,
		Guests:      p.e.donor.guestCount(),
	})
	p.applyLocked(d)
}

// pause and resume are the owner's override; they take effect at once.
func (p *presence) pause(reason string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.applyLocked(p.m.Pause(p.now(), reason))
}

func (p *presence) resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.applyLocked(p.m.Resume(p.now()))
}

// applyLocked hands d to the donor and logs changes of state.
func (p *presence) applyLocked(d policy.Decision) {
	if !p.reported || d.State != p.last.State || d.GuestAction != p.last.GuestAction {
		p.log.Info("presence", "state", d.State, "donating", d.Donate, "reason", d.Reason,
			"guests", d.GuestAction.String(), "guest_reason", d.GuestReason)
		p.reported = true
	}
	p.last = d
	p.stats.decided(d)
	p.e.donor.setPresence(p.toPresence(d))
}

// toPresence turns the policy's decision into what the donor and offers
// need. Migration needs a checkpoint backend; without one a guest gets the
// policy's fallback, and the reason says so.
func (p *presence) toPresence(d policy.Decision) Presence {
	pr := Presence{Donating: d.Donate, Reason: d.Reason, Detail: string(d.State), Action: GuestAction(d.GuestAction),
		Share: Limits{CPUs: d.Share.CPUs, MemoryBytes: d.Share.MemoryBytes}, GuestNote: d.GuestReason}
	switch d.State {
	case policy.StateIdle, policy.StateDonating:
		pr.State = wire.StateIdle
	case policy.StatePaused:
		pr.State = wire.StatePaused
	default:
		pr.State = wire.StateOwner
	}
	if pr.Action == GuestMigrate {
		pr.Fallback = GuestKill
		if d.Fallback == policy.ActionShare {
			pr.Fallback = GuestShare
			pr.Share = Limits{CPUs: p.e.opts.Policy.OnReturn.Share.CPUs, MemoryBytes: p.e.opts.Policy.OnReturn.Share.MemoryBytes}
		}
	}
	if pr.Action == GuestMigrate && !p.migrate {
		pr.Action = GuestAction(d.Fallback)
		pr.GuestNote = "no checkpoint backend to migrate with: " + d.Fallback.String() + " instead"
		if pr.Action == GuestShare {
			pr.Share = Limits{CPUs: p.e.opts.Policy.OnReturn.Share.CPUs, MemoryBytes: p.e.opts.Policy.OnReturn.Share.MemoryBytes}
		}
	}
	return pr
}

// decision is the latest decision, for status.
func (p *presence) decision() policy.Decision {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last
}
