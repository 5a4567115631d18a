package sensor

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestFake(t *testing.T) {
	var f Fake
	ctx := context.Background()
	if got, err := f.Read(ctx); err != nil || got != (Reading{}) {
		t.Errorf("zero Fake: Read = %+v, %v; want an empty reading", got, err)
	}
	want := Reading{InputIdle: time.Minute, InputKnown: true, InputSource: "fake", OwnerCPU: 0.5, CPUKnown: true}
	f.Set(want)
	if got, err := f.Read(ctx); err != nil || got != want {
		t.Errorf("after Set: Read = %+v, %v; want %+v", got, err, want)
	}
	boom := errors.New("boom")
	f.SetError(boom)
	if got, err := f.Read(ctx); !errors.Is(err, boom) || got != want {
		t.Errorf("after SetError: Read = %+v, %v; want %+v, %v", got, err, want, boom)
	}
	f.SetError(nil)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := f.Read(cancelled); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Read: err = %v, want %v", err, context.Canceled)
	}
}

// TestFakeConcurrent is for the race detector: the daemon's sampling loop
// reads while a test sets.
func TestFakeConcurrent(t *testing.T) {
	var f Fake
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 100 {
				f.Set(Reading{InputIdle: time.Duration(i*1000 + j), InputKnown: true})
			}
		})
		wg.Go(func() {
			for range 100 {
				if r, _ := f.Read(context.Background()); r.InputIdle != 0 && !r.InputKnown {
					t.Errorf("torn reading %+v", r)
				}
			}
		})
	}
	wg.Wait()
}

// TestFakeNotifies: Set tells a waiting loop to sample at once, and sets
// made while nobody listens leave one notification, not a backlog.
func TestFakeNotifies(t *testing.T) {
	var f Fake
	var n Notifier = &f
	select {
	case <-n.Activity():
		t.Fatal("notified before any Set")
	default:
	}
	f.Set(Reading{InputKnown: true, InputSource: "fake"})
	f.Set(Reading{InputKnown: true, InputSource: "fake again"})
	select {
	case <-n.Activity():
	case <-time.After(10 * time.Second):
		t.Fatal("Set did not notify")
	}
	select {
	case <-n.Activity():
		t.Fatal("two Sets left two notifications")
	default:
	}
	if r, _ := f.Read(context.Background()); r.InputSource != "fake again" {
		t.Errorf("Read after the notification = %+v, want the last Set", r)
	}
}
