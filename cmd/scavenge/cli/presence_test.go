package cli

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/scavenge/scavenge/peer/wire"
	"github.com/scavenge/scavenge/policy"
	"github.com/scavenge/scavenge/policy/sensor"
	"github.com/scavenge/scavenge/scavenger"
)

// presenceRecorder is the engine as the presence loop sees it.
type presenceRecorder struct {
	mu  sync.Mutex
	got []scavenger.Presence
}

func (r *presenceRecorder) SetPresence(p scavenger.Presence) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, p)
}

func (r *presenceRecorder) last() (scavenger.Presence, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.got) == 0 {
		return scavenger.Presence{}, 0
	}
	return r.got[len(r.got)-1], len(r.got)
}

func TestPresenceLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs bytes.Buffer
		fake := &sensor.Fake{}
		rec := &presenceRecorder{}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() {
			done <- runPresence(ctx, presenceLoop{
				engine: rec,
				sensor: fake,
				policy: policy.Config{IdleAfter: 10 * time.Minute, OwnerCPUMax: 0.25},
				every:  time.Second,
				log:    slog.New(slog.NewTextHandler(&logs, nil)),
			})
		}()
		steps := []struct {
			name    string
			reading sensor.Reading
			err     error
			want    scavenger.Presence
		}{
			{"nothing to watch", sensor.Reading{}, nil,
				scavenger.Presence{Donating: true, State: wire.StateIdle, Reason: "no keyboard, mouse or login session found"}},
			{"owner typing", sensor.Reading{InputKnown: true, InputIdle: 12 * time.Second, InputSource: "tty /dev/pts/3"}, nil,
				scavenger.Presence{State: wire.StateOwner, Reason: "keyboard used 12s ago (tty /dev/pts/3)"}},
			{"owner away", sensor.Reading{InputKnown: true, InputIdle: time.Hour, CPUKnown: true, OwnerCPU: 0.05}, nil,
				scavenger.Presence{Donating: true, State: wire.StateIdle, Reason: "no input for 1h (idle after 10m)"}},
			{"sensor broken", sensor.Reading{CPUKnown: true, OwnerCPU: 0.9}, errors.New("input: utmp unreadable"),
				scavenger.Presence{State: wire.StateOwner, Reason: "owner CPU 90% > 25%"}},
		}
		for _, s := range steps {
			fake.Set(s.reading)
			fake.SetError(s.err)
			_, before := rec.last()
			time.Sleep(time.Second) // one sample period in the bubble's fake time
			synctest.Wait()
			got, n := rec.last()
			if n <= before {
				t.Fatalf("%s: no new sample", s.name)
			}
			if got != s.want {
				t.Errorf("%s: got %+v, want %+v", s.name, got, s.want)
			}
		}
		// The broken sensor keeps failing; it is reported once, not per sample.
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if n := strings.Count(logs.String(), "utmp unreadable"); n != 1 {
			t.Errorf("the sensor error was logged %d times, want 1:\n%s", n, logs.String())
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("runPresence: got %v, want nil", err)
		}
	})
}
