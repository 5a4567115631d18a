package policy

import (
	"testing"
	"time"
)

func TestDecide(t *testing.T) {
	// An explicit clock: every sample is taken at now, and "last input"
	// times are stated as moments, so the rows read like a timeline.
	now := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	since := func(last time.Time) time.Duration { return now.Sub(last) }
	office := Config{IdleAfter: 10 * time.Minute, OwnerCPUMax: 0.25}
	pts := "tty /dev/pts/3"

	tests := []struct {
		name string
		s    Sample
		c    Config
		want Decision
	}{
		{
			name: "dedicated donates even while typed at",
			s:    Sample{Now: now, InputIdle: since(now.Add(-time.Second)), InputKnown: true, OwnerCPU: 0.9, CPUKnown: true},
			c:    Config{Dedicated: true, IdleAfter: 10 * time.Minute, OwnerCPUMax: 0.25},
			want: Decision{Donate: true, State: StateIdle, Reason: "dedicated machine"},
		},
		{
			name: "pause wins over dedicated",
			s:    Sample{Now: now},
			c:    Config{Dedicated: true, Paused: true},
			want: Decision{State: StatePaused, Reason: "paused by the owner"},
		},
		{
			name: "pause wins over away",
			s:    Sample{Now: now, InputIdle: time.Hour, InputKnown: true},
			c:    Config{IdleAfter: time.Minute, Paused: true},
			want: Decision{State: StatePaused, Reason: "paused by the owner"},
		},
		{
			name: "recent keyboard",
			s:    Sample{Now: now, InputIdle: since(now.Add(-12*time.Second - 400*time.Millisecond)), InputKnown: true, InputSource: pts, CPUKnown: true},
			c:    office,
			want: Decision{State: StateOwner, Reason: "keyboard used 12s ago (tty /dev/pts/3)",
				IdleAt: now.Add(10*time.Minute - 12*time.Second - 400*time.Millisecond)},
		},
		{
			name: "recent input without a named source",
			s:    Sample{Now: now, InputIdle: 3 * time.Minute, InputKnown: true},
			c:    office,
			want: Decision{State: StateOwner, Reason: "keyboard used 3m ago", IdleAt: now.Add(7 * time.Minute)},
		},
		{
			name: "just under the threshold rounds down, never up to it",
			s:    Sample{Now: now, InputIdle: 10*time.Minute - time.Second, InputKnown: true, InputSource: pts},
			c:    office,
			want: Decision{State: StateOwner, Reason: "keyboard used 9m ago (tty /dev/pts/3)", IdleAt: now.Add(time.Second)},
		},
		{
			name: "exactly at the threshold is away",
			s:    Sample{Now: now, InputIdle: 10 * time.Minute, InputKnown: true, InputSource: pts},
			c:    office,
			want: Decision{Donate: true, State: StateIdle, Reason: "no input for 10m (idle after 10m)"},
		},
		{
			name: "input in the future after a clock step counts as now",
			s:    Sample{Now: now, InputIdle: -5 * time.Second, InputKnown: true},
			c:    office,
			want: Decision{State: StateOwner, Reason: "keyboard used 0s ago", IdleAt: now.Add(10 * time.Minute)},
		},
		{
			name: "owner CPU over the limit",
			s:    Sample{Now: now, InputIdle: since(now.Add(-time.Hour)), InputKnown: true, OwnerCPU: 0.63, CPUKnown: true},
			c:    office,
			want: Decision{State: StateOwner, Reason: "owner CPU 63% > 25%"},
		},
		{
			name: "owner CPU just over the limit shows a decimal",
			s:    Sample{Now: now, InputIdle: time.Hour, InputKnown: true, OwnerCPU: 0.2512, CPUKnown: true},
			c:    office,
			want: Decision{State: StateOwner, Reason: "owner CPU 25.1% > 25.0%"},
		},
		{
			name: "owner CPU at the limit is fine",
			s:    Sample{Now: now, InputIdle: 14*time.Minute + 50*time.Second, InputKnown: true, OwnerCPU: 0.25, CPUKnown: true},
			c:    office,
			want: Decision{Donate: true, State: StateIdle, Reason: "no input for 14m (idle after 10m)"},
		},
		{
			name: "owner CPU unknown is ignored",
			s:    Sample{Now: now, InputIdle: 14 * time.Minute, InputKnown: true, OwnerCPU: 0.9},
			c:    office,
			want: Decision{Donate: true, State: StateIdle, Reason: "no input for 14m (idle after 10m)"},
		},
		{
			name: "no CPU limit configured",
			s:    Sample{Now: now, InputIdle: 2 * time.Hour, InputKnown: true, OwnerCPU: 1, CPUKnown: true},
			c:    Config{IdleAfter: 10 * time.Minute},
			want: Decision{Donate: true, State: StateIdle, Reason: "no input for 2h (idle after 10m)"},
		},
		{
			name: "nothing to watch counts as away since boot",
			s:    Sample{Now: now, OwnerCPU: 0.1, CPUKnown: true},
			c:    office,
			want: Decision{Donate: true, State: StateIdle, Reason: "no keyboard, mouse or login session found"},
		},
		{
			name: "nothing to watch but a busy owner",
			s:    Sample{Now: now, OwnerCPU: 0.5, CPUKnown: true},
			c:    office,
			want: Decision{State: StateOwner, Reason: "owner CPU 50% > 25%"},
		},
		{
			name: "stale InputIdle is ignored when input is unknown",
			s:    Sample{Now: now, InputIdle: time.Second, InputSource: pts},
			c:    office,
			want: Decision{Donate: true, State: StateIdle, Reason: "no keyboard, mouse or login session found"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Decide(tt.s, tt.c)
			if got != tt.want {
				t.Errorf("Decide(%+v, %+v)\n got %+v\nwant %+v", tt.s, tt.c, got, tt.want)
			}
		})
	}
}

// TestDecideIdleAtIsWhenItFlips checks IdleAt against Decide itself: a
// sample taken at IdleAt with no new input must be the first one that donates.
func TestDecideIdleAtIsWhenItFlips(t *testing.T) {
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	lastInput := start.Add(-95 * time.Second)
	c := Config{IdleAfter: 5 * time.Minute}
	at := func(now time.Time) Decision {
		return Decide(Sample{Now: now, InputIdle: now.Sub(lastInput), InputKnown: true}, c)
	}
	d := at(start)
	if d.Donate || d.IdleAt.IsZero() {
		t.Fatalf("at start: got %+v, want owner active with IdleAt set", d)
	}
	if got := at(d.IdleAt.Add(-time.Nanosecond)); got.Donate {
		t.Errorf("just before IdleAt %v: got %+v, want not donating", d.IdleAt, got)
	}
	if got := at(d.IdleAt); !got.Donate {
		t.Errorf("at IdleAt %v: got %+v, want donating", d.IdleAt, got)
	}
}

func TestHumanDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "0s"},
		{0, "0s"},
		{999 * time.Millisecond, "0s"},
		{12*time.Second + 900*time.Millisecond, "12s"},
		{59 * time.Second, "59s"},
		{time.Minute, "1m"},
		{14*time.Minute + 59*time.Second, "14m"},
		{time.Hour, "1h"},
		{2*time.Hour + 5*time.Minute + 30*time.Second, "2h5m"},
		{24 * time.Hour, "1d"},
		{3*24*time.Hour + 4*time.Hour + 59*time.Minute, "3d4h"},
	}
	for _, tt := range tests {
		if got := HumanDuration(tt.d); got != tt.want {
			t.Errorf("HumanDuration(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}
