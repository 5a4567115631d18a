package scavenger

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scavenge/scavenge/peer/wire"
	"github.com/scavenge/scavenge/policy"
	"github.com/scavenge/scavenge/policy/sensor"
)

// syncBuffer is a log sink safe for the loop's goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestPresenceLoop drives the engine's presence loop with a sensor: the
// owner's absence makes the donor idle, input reported as it happens stops
// donating without waiting for the next tick, a pause holds whatever the
// sensor says, and resume lets the sensor decide again.
func TestPresenceLoop(t *testing.T) {
	owner := &sensor.Fake{} // Set notifies, as evdev and logind do
	owner.Set(sensor.Reading{InputIdle: 20 * time.Minute, InputKnown: true, InputSource: "test keyboard"})
	var logs syncBuffer
	f := newDonorFixture(t, DonorOptions{Enabled: true}, func(o *Options) {
		o.Policy = policy.Policy{IdleAfter: 10 * time.Minute, OnReturn: policy.OnReturn{Action: policy.ActionSuspend}}
		o.Sensor = owner
		o.SampleEvery = time.Hour // only the first sample and the sensor's notices
	})
	f.e.log = slog.New(slog.NewTextHandler(&logs, nil))
	f.e.presence = newPresence(f.e)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.e.presence.run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("presence loop: %v", err)
		}
	}()
	presence := func() Presence { return f.d.status().Presence }
	waitPresence := func(what string, cond func(Presence) bool) {
		t.Helper()
		donorEventually(t, what, func() bool { return cond(presence()) })
	}

	waitPresence("idle after the first sample", func(p Presence) bool {
		return p.State == wire.StateIdle && p.Detail == string(policy.StateIdle) && strings.HasPrefix(p.Reason, "no input for 20m")
	})
	owner.Set(sensor.Reading{InputIdle: 0, InputKnown: true, InputSource: "test keyboard"})
	waitPresence("owner back at the sensor's notice", func(p Presence) bool {
		return p.State == wire.StateOwner && !p.Donating && p.Action == GuestSuspend
	})

	f.e.Pause("demo on the projector")
	if p := presence(); p.State != wire.StatePaused || p.Reason != "paused by the owner: demo on the projector" {
		t.Errorf("after pause: %+v", p)
	}
	owner.Set(sensor.Reading{InputIdle: 20 * time.Minute, InputKnown: true})
	f.e.presence.sample(context.Background()) // a sample cannot undo the pause
	if p := presence(); p.State != wire.StatePaused {
		t.Errorf("a sample undid the pause: %+v", p)
	}
	f.e.Resume()
	if p := presence(); p.State == wire.StatePaused {
		t.Errorf("still paused after resume: %+v", p)
	}
	if !strings.Contains(logs.String(), "state=paused") {
		t.Errorf("the pause was not logged:\n%s", logs.String())
	}
}

// TestPresenceSensorErrors: a failing sensor is logged when it breaks and
// when it heals, not at every sample.
func TestPresenceSensorErrors(t *testing.T) {
	owner := &sensor.Fake{}
	var logs syncBuffer
	f := newDonorFixture(t, DonorOptions{Enabled: true}, func(o *Options) { o.Sensor = owner })
	f.e.log = slog.New(slog.NewTextHandler(&logs, nil))
	f.e.presence = newPresence(f.e)
	owner.SetError(errors.New("utmp unreadable"))
	for range 3 {
		f.e.presence.sample(context.Background())
	}
	owner.SetError(nil)
	f.e.presence.sample(context.Background())
	if n := strings.Count(logs.String(), "utmp unreadable"); n != 1 {
		t.Errorf("the sensor error was logged %d times, want once:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "sensor works again") {
		t.Errorf("the sensor's recovery was not logged:\n%s", logs.String())
	}
}

// TestPresenceMigrateFallsBack: without a checkpoint backend, migrate gives
// guests the policy's fallback, and says so.
func TestPresenceMigrateFallsBack(t *testing.T) {
	f := newDonorFixture(t, DonorOptions{Enabled: true}, func(o *Options) {
		o.Policy.OnReturn = policy.OnReturn{Action: policy.ActionMigrate, Fallback: policy.ActionShare, Share: policy.Limits{CPUs: 0.2}}
	})
	f.e.Pause("")
	p := f.d.status().Presence
	if p.Action != GuestShare || p.Share.CPUs != 0.2 || !strings.Contains(p.GuestNote, "no checkpoint backend to migrate with: share instead") {
		t.Errorf("presence = %+v, want share (0.2 cores) with a note on the missing backend", p)
	}
}
