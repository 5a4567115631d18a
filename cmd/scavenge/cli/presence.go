package cli

import (
	"context"
	"log/slog"
	"time"

	"github.com/scavenge/scavenge/peer/wire"
	"github.com/scavenge/scavenge/policy"
	"github.com/scavenge/scavenge/policy/sensor"
	"github.com/scavenge/scavenge/scavenger"
)

// presenceLoop feeds the policy's verdict on the sensors to the engine.
type presenceLoop struct {
	engine interface{ SetPresence(scavenger.Presence) }
	sensor sensor.Sensor
	policy policy.Config
	every  time.Duration
	log    *slog.Logger
	now    func() time.Time // nil: time.Now
}

// runPresence samples now and then every l.every until ctx ends. The
// owner's pause is not part of it: the engine keeps that itself, so a
// sample can never undo `scavenge pause`.
func runPresence(ctx context.Context, l presenceLoop) error {
	if l.now == nil {
		l.now = time.Now
	}
	log := l.log.With("component", "presence")
	t := time.NewTicker(l.every)
	defer t.Stop()
	var last policy.Decision
	var lastErr string
	for first := true; ; first = false {
		r, err := l.sensor.Read(ctx)
		// A broken sensor is reported when it breaks and when it heals,
		// not once a second.
		switch {
		case err != nil && err.Error() != lastErr:
			log.Warn("sensor", "err", err)
			lastErr = err.Error()
		case err == nil && lastErr != "":
			log.Info("sensor works again")
			lastErr = ""
		}
		d := policy.Decide(policy.Sample{
			Now:         l.now(),
			InputIdle:   r.InputIdle,
			InputKnown:  r.InputKnown,
			InputSource: r.InputSource,
			OwnerCPU:    r.OwnerCPU,
			CPUKnown:    r.CPUKnown,
		}, l.policy)
		l.engine.SetPresence(scavenger.Presence{Donating: d.Donate, State: wire.State(d.State), Reason: d.Reason})
		if first || d.State != last.State || d.Donate != last.Donate {
			log.Info("presence", "state", d.State, "donating", d.Donate, "reason", d.Reason)
		}
		last = d
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
