package sensor

import (
	"context"
	"sync"
)

// Fake is a Sensor whose readings a test sets. The zero value reads as a
// machine with nothing known. It is safe for concurrent use.
type Fake struct {
	mu       sync.Mutex
	r        Reading
	err      error
	activity chan struct{} // made on first use, so the zero value works
}

var (
	_ Sensor   = (*Fake)(nil)
	_ Notifier = (*Fake)(nil)
)

// Set makes every following Read return r, and notifies Activity as a
// real sensor does on input: a loop waiting for its next tick samples at
// once and sees r.
func (f *Fake) Set(r Reading) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.r = r
	poke(f.channel())
}

// SetError makes every following Read fail with err (nil to stop failing),
// returning the set Reading alongside, as a real sensor does for the parts it
// could read.
func (f *Fake) SetError(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

// Read returns the last Reading set, or ctx's error once ctx is done.
func (f *Fake) Read(ctx context.Context) (Reading, error) {
	if err := ctx.Err(); err != nil {
		return Reading{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.r, f.err
}

// Activity implements Notifier: it receives after each Set.
func (f *Fake) Activity() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.channel()
}

// channel returns the activity channel, making it first; f.mu is held.
func (f *Fake) channel() chan struct{} {
	if f.activity == nil {
		f.activity = newActivity()
	}
	return f.activity
}
