package sensor

import (
	"context"
	"sync"
)

// Fake is a Sensor whose readings a test sets. The zero value reads as a
// machine with nothing known. It is safe for concurrent use.
type Fake struct {
	mu  sync.Mutex
	r   Reading
	err error
}

var _ Sensor = (*Fake)(nil)

// Set makes every following Read return r.
func (f *Fake) Set(r Reading) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.r = r
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
