package peer

import (
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/scavenge/scavenge/peer/wire"
)

// Where an offer came from, for logs.
const (
	sourcePubsub = "pubsub"
	sourceDirect = "direct" // asked the peer itself (offerProtocol)
	sourceDHT    = "dht"
)

// offerCache holds the newest valid offer of every other peer, merged from
// gossip and the DHT. It only stores offers that were already verified
// (OpenOffer); it enforces what verification cannot know on its own: a
// sequence number must exceed every one seen before from that peer, so a
// replayed or rolled-back offer never replaces a newer one.
type offerCache struct {
	self    peer.ID
	changed chan struct{} // buffered(1): "Offers may have changed"

	mu      sync.Mutex
	entries map[peer.ID]offerEntry
	highest map[peer.ID]uint64 // sequence high-water mark, kept after expiry
}

type offerEntry struct {
	offer    wire.Offer
	source   string
	received time.Time
}

func newOfferCache(self peer.ID) *offerCache {
	return &offerCache{
		self:    self,
		changed: make(chan struct{}, 1),
		entries: make(map[peer.ID]offerEntry),
		highest: make(map[peer.ID]uint64),
	}
}

// put stores o (already verified as signed by p) if it is fresh and newer than
// anything seen from p, and reports whether it did.
func (c *offerCache) put(p peer.ID, o *wire.Offer, source string, now time.Time) bool {
	if p == c.self || !o.Fresh(now) {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if hi, ok := c.highest[p]; ok && o.Seq <= hi {
		return false
	}
	c.highest[p] = o.Seq
	c.entries[p] = offerEntry{offer: cloneOffer(*o), source: source, received: now}
	c.notify()
	return true
}

// seq returns the highest sequence number seen from p.
func (c *offerCache) seq(p peer.ID) (uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.highest[p]
	return s, ok
}

// get returns p's current offer, fresh or not.
func (c *offerCache) get(p peer.ID) (wire.Offer, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[p]
	return e.offer, ok
}

// expires returns when p's cached offer expires, fresh or not; discovery
// asks this of every known peer, so it copies nothing.
func (c *offerCache) expires(p peer.ID) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[p]
	return e.offer.Expires, ok
}

// list returns the fresh offers, ordered by peer ID so callers see a stable order.
func (c *offerCache) list(now time.Time) []wire.Offer {
	c.mu.Lock()
	out := make([]wire.Offer, 0, len(c.entries))
	for _, e := range c.entries {
		if e.offer.Fresh(now) {
			out = append(out, cloneOffer(e.offer))
		}
	}
	c.mu.Unlock()
	slices.SortFunc(out, func(a, b wire.Offer) int { return strings.Compare(a.Peer, b.Peer) })
	return out
}

// sweep drops expired offers and reports how many it dropped.
func (c *offerCache) sweep(now time.Time) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for p, e := range c.entries {
		if !e.offer.Fresh(now) {
			delete(c.entries, p)
			n++
		}
	}
	if n > 0 {
		c.notify()
	}
	return n
}

// notify wakes the reader of changed without ever blocking: one pending
// wake-up is as good as many.
func (c *offerCache) notify() {
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

func cloneOffer(o wire.Offer) wire.Offer {
	o.Labels = slices.Clone(o.Labels)
	o.Checkpoint = slices.Clone(o.Checkpoint)
	o.Addrs = slices.Clone(o.Addrs)
	return o
}
