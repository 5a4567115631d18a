package peer

import (
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// newTestDiscovery is a discovery whose node has only what scheduling uses:
// options and the offer cache.
func newTestDiscovery(t *testing.T, ttl time.Duration) (*discovery, testKey) {
	t.Helper()
	self := newTestKey(t)
	n := &Node{o: Options{OfferTTL: ttl}, self: self.id, cache: newOfferCache(self.id)}
	return newDiscovery(n), self
}

// TestDiscoveryLearn: a peer is learned once, and learning a new one wakes
// the fetch loop.
func TestDiscoveryLearn(t *testing.T) {
	d, self := newTestDiscovery(t, 15*time.Second)
	a := newTestKey(t)
	steps := []struct {
		name     string
		learn    testKey
		wantNew  bool
		wantWake bool
	}{
		{"a new peer", a, true, true},
		{"the same peer again", a, false, false},
		{"ourselves", self, false, false},
	}
	for _, s := range steps {
		got := d.learn(s.learn.id)
		woke := false
		select {
		case <-d.wake:
			woke = true
		default:
		}
		if got != s.wantNew || woke != s.wantWake {
			t.Errorf("%s: learn = %v, woke %v; want %v, %v", s.name, got, woke, s.wantNew, s.wantWake)
		}
	}
}

// TestDiscoverySchedule: a new peer is due at once; once its offer is in the
// cache it is left alone until a third of the offer's life is left, so a
// settled swarm costs one fetch per peer per offer lifetime; failures back
// off, gently for a peer that only has no offer yet.
func TestDiscoverySchedule(t *testing.T) {
	const ttl = 15 * time.Second
	d, _ := newTestDiscovery(t, ttl)
	a := newTestKey(t)
	now := time.Now()
	d.learn(a.id)

	if due, _ := d.due(now); !slices.Equal(due, []peer.ID{a.id}) {
		t.Fatalf("new peer: due = %v, want [a]", due)
	}
	if due, _ := d.due(now); len(due) != 0 {
		t.Fatalf("while its fetch runs: due = %v, want none", due)
	}

	// The fetch brought an offer issued now: it lives ttl.
	o := testOffer(a.id, 1, now)
	if !d.n.cache.put(a.id, &o, sourceDirect, now) {
		t.Fatal("offer not cached")
	}
	d.done(a.id, fetchOK, now)
	refresh := o.Expires.Add(-ttl / 3)
	checks := []struct{ at, wantNext time.Time }{
		{now, now.Add(fetchRetryMin)}, // then it looks at the cache
		{now.Add(fetchRetryMin), refresh},
		{refresh.Add(-time.Millisecond), refresh},
	}
	for _, c := range checks {
		due, next := d.due(c.at)
		if len(due) != 0 {
			t.Errorf("%s after a fetch: due = %v, want none", c.at.Sub(now), due)
		}
		if !next.Equal(c.wantNext) {
			t.Errorf("%s after a fetch: next due at %s, want %s", c.at.Sub(now), next.Sub(now), c.wantNext.Sub(now))
		}
	}
	if due, _ := d.due(refresh); len(due) != 1 {
		t.Errorf("with a third of the offer's life left: due = %v, want [a]", due)
	}

	// Gossip refreshed the offer meanwhile: no fetch needed.
	d.done(a.id, fetchOK, refresh)
	fresh := testOffer(a.id, 2, refresh)
	d.n.cache.put(a.id, &fresh, sourcePubsub, refresh)
	if due, _ := d.due(refresh.Add(2 * time.Second)); len(due) != 0 {
		t.Errorf("after gossip brought a newer offer: due = %v, want none", due)
	}
}

// TestDiscoveryBackoff: the wait after each failed fetch in a row.
func TestDiscoveryBackoff(t *testing.T) {
	const ttl = 15 * time.Second
	tests := []struct {
		name   string
		result fetchResult
		want   []time.Duration
	}{
		{"unreachable", fetchFailed, []time.Duration{
			time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second,
			32 * time.Second, 64 * time.Second, 2 * time.Minute, 2 * time.Minute}},
		{"no offer yet", fetchNoOffer, []time.Duration{
			time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, _ := newTestDiscovery(t, ttl)
			a := newTestKey(t)
			d.learn(a.id)
			now := time.Now()
			var got []time.Duration
			for range tt.want {
				due, _ := d.due(now)
				if len(due) != 1 {
					t.Fatalf("after %v: due = %v, want [a]", got, due)
				}
				d.done(a.id, tt.result, now)
				next := d.known[a.id].next
				got = append(got, next.Sub(now))
				now = next
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("waits = %v, want %v", got, tt.want)
			}
			// One success resets the backoff.
			d.due(now)
			d.done(a.id, fetchOK, now)
			d.due(now.Add(fetchRetryMin))
			d.done(a.id, tt.result, now.Add(fetchRetryMin))
			if got := d.known[a.id].backoff; got != fetchRetryMin {
				t.Errorf("backoff after a success and a failure = %v, want %v", got, fetchRetryMin)
			}
		})
	}
}
