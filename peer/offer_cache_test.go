package peer

import (
	"testing"
	"time"
)

func TestOfferCache(t *testing.T) {
	self, a, b := newTestKey(t), newTestKey(t), newTestKey(t)
	now := time.Now()
	c := newOfferCache(self.id)
	drain := func() bool {
		select {
		case <-c.changed:
			return true
		default:
			return false
		}
	}
	steps := []struct {
		name        string
		who         testKey
		seq         uint64
		issued      time.Time
		wantStored  bool
		wantChanged bool
	}{
		{"first offer of a", a, 5, now, true, true},
		{"newer of a", a, 6, now, true, true},
		{"same seq of a", a, 6, now, false, false},
		{"rollback of a", a, 4, now, false, false},
		{"expired of b", b, 1, now.Add(-time.Hour), false, false},
		{"self", self, 100, now, false, false},
		{"first of b", b, 1, now, true, true},
	}
	for _, s := range steps {
		o := testOffer(s.who.id, s.seq, s.issued)
		if got := c.put(s.who.id, &o, sourceDHT, now); got != s.wantStored {
			t.Errorf("%s: put = %v, want %v", s.name, got, s.wantStored)
		}
		if got := drain(); got != s.wantChanged {
			t.Errorf("%s: changed = %v, want %v", s.name, got, s.wantChanged)
		}
	}
	list := c.list(now)
	if len(list) != 2 {
		t.Fatalf("list has %d offers, want 2: %+v", len(list), list)
	}
	if got, _ := c.get(a.id); got.Seq != 6 {
		t.Errorf("offer of a has seq %d, want 6", got.Seq)
	}
	// Both expire 15 s after now.
	later := now.Add(16 * time.Second)
	if got := len(c.list(later)); got != 0 {
		t.Errorf("list after expiry has %d offers, want 0", got)
	}
	if got := c.sweep(later); got != 2 {
		t.Errorf("sweep dropped %d, want 2", got)
	}
	if !drain() {
		t.Error("sweep did not signal a change")
	}
	// The high-water mark survives expiry: an old offer cannot come back.
	o := testOffer(a.id, 6, later)
	if c.put(a.id, &o, sourcePubsub, later) {
		t.Error("offer with an already seen seq was stored after expiry")
	}
}
