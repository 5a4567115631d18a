package tray

import (
	"errors"
	"testing"
	"time"

	"github.com/scavenge/scavenge/scavenger"
)

func paused(reason string) scavenger.Status {
	return scavenger.Status{Paused: true, Presence: scavenger.Presence{Reason: "paused by the owner: " + reason}}
}

func TestHold(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	offline := errors.New("no daemon")
	type look struct {
		at   time.Duration // after t0
		st   scavenger.Status
		err  error
		want holdStep
	}
	tests := []struct {
		name       string
		snooze     time.Duration
		looks      []look
		wantActive bool
	}{
		{"timed pause ends", time.Hour, []look{
			{time.Minute, paused("snoozed from the tray until 16:00"), nil, holdNothing},
			{time.Hour, paused("snoozed from the tray until 16:00"), nil, holdResume},
		}, true}, // active until the resume succeeded
		{"someone resumed", time.Hour, []look{
			{time.Minute, scavenger.Status{}, nil, holdNothing},
			{time.Hour, scavenger.Status{}, nil, holdNothing},
		}, false},
		{"someone paused over ours", time.Hour, []look{
			{time.Minute, paused("owner ran scavenge pause"), nil, holdNothing},
			{time.Hour, paused("owner ran scavenge pause"), nil, holdNothing},
		}, false},
		{"daemon restarted", 0, []look{
			{time.Minute, scavenger.Status{}, offline, holdNothing},
			{2 * time.Minute, scavenger.Status{}, nil, holdPause},
			{3 * time.Minute, paused("paused from the tray"), nil, holdNothing},
			{4 * time.Minute, scavenger.Status{}, nil, holdNothing}, // then resumed by hand
		}, false},
		{"timed pause over while the daemon was away", time.Hour, []look{
			{time.Minute, scavenger.Status{}, offline, holdNothing},
			{2 * time.Hour, scavenger.Status{}, nil, holdNothing},
		}, false},
		{"until resumed never ends", 0, []look{
			{100 * time.Hour, paused("paused from the tray"), nil, holdNothing},
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h hold
			h.start(t0, tt.snooze)
			for i, l := range tt.looks {
				if got := h.step(t0.Add(l.at), l.st, l.err); got != l.want {
					t.Errorf("look %d: got step %d, want %d", i, got, l.want)
				}
			}
			if h.active != tt.wantActive {
				t.Errorf("active %v, want %v", h.active, tt.wantActive)
			}
		})
	}
}

func TestHoldNote(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "paused from the tray"},
		{time.Hour, "snoozed from the tray until 16:00"},
		{3 * time.Second, "snoozed from the tray until 15:00:03"},
		{10 * time.Hour, "snoozed from the tray until Tue 01:00"},
	}
	for _, tt := range tests {
		var h hold
		h.start(t0, tt.d)
		if h.note != tt.want {
			t.Errorf("pause for %s: note %q, want %q", tt.d, h.note, tt.want)
		}
	}
}
