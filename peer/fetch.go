package peer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/routing"
)

// This file is discovery's second half: reading the offers of the peers it
// knows, when (once at first, then once per offer lifetime unless gossip
// does it) and from where (the peer itself, else the DHT).

// Fetch limits. Failures back off: a peer that left stays a provider for
// 48 h, and each failed fetch may cost a DHT lookup.
const (
	fetchParallel = 16 // offer fetches at once
	fetchRetryMin = time.Second
	fetchRetryMax = 2 * time.Minute
)

// fetchState is the fetch schedule of one known peer.
type fetchState struct {
	next     time.Time     // do not fetch before
	backoff  time.Duration // after failures
	inflight bool
}

// fetchResult is how a fetch of a peer's offer ended.
type fetchResult int

const (
	fetchOK      fetchResult = iota // an offer is in the cache
	fetchNoOffer                    // the peer answered that it has none yet
	fetchFailed                     // neither the peer nor the DHT gave a valid offer
)

// refreshLeft is how much of an offer's life is left when it is fetched
// again: enough for a retry or two before it expires.
func (d *discovery) refreshLeft() time.Duration { return d.n.o.OfferTTL / 3 }

// runFetch fetches the offers that are due: at once for a new peer, and
// shortly before a cached offer expires unless gossip refreshes it first.
// Between due times it sleeps; learn and done wake it when the schedule
// changes.
func (d *discovery) runFetch(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		now := time.Now()
		due, next := d.due(now)
		for _, p := range due {
			select {
			case d.sem <- struct{}{}:
			case <-ctx.Done():
				d.done(p, fetchFailed, now)
				continue
			}
			wg.Go(func() {
				defer func() { <-d.sem }()
				d.done(p, d.fetch(ctx, p), time.Now())
			})
		}
		timer.Stop()
		if !next.IsZero() {
			timer.Reset(time.Until(next))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-d.wake:
		case <-timer.C:
		}
	}
}

// due marks and returns the peers whose offer should be fetched now, and
// says when the next one will be (zero: none is scheduled).
func (d *discovery) due(now time.Time) (out []peer.ID, next time.Time) {
	left := d.refreshLeft()
	later := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for p, st := range d.known {
		if st.inflight {
			continue
		}
		if now.Before(st.next) {
			later(st.next)
			continue
		}
		if exp, ok := d.n.cache.expires(p); ok && exp.Sub(now) > left {
			// Fresh enough: gossip or an earlier fetch brought it.
			st.next = exp.Add(-left)
			later(st.next)
			continue
		}
		st.inflight = true
		out = append(out, p)
	}
	return out, next
}

// done records the outcome of a fetch of p and when to look again.
func (d *discovery) done(p peer.ID, r fetchResult, now time.Time) {
	defer wake(d.wake)
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.known[p]
	st.inflight = false
	switch r {
	case fetchOK:
		// due pushes this on to shortly before the offer expires.
		st.backoff = 0
		st.next = now.Add(fetchRetryMin)
		return
	case fetchNoOffer:
		// Alive, just not offering yet: look again within a third of an
		// offer's life, as an owner re-puts its offer.
		st.backoff = min(max(st.backoff*2, fetchRetryMin), d.refreshLeft())
	default:
		st.backoff = min(max(st.backoff*2, fetchRetryMin), fetchRetryMax)
	}
	st.next = now.Add(st.backoff)
}

// fetch gets p's offer from p itself or, when p cannot be asked (it is
// unreachable, or too old to serve offerProtocol), from the DHT, and puts it
// in the cache. A peer that answers with a bad offer is not looked up: it
// is a failure like any other.
func (d *discovery) fetch(ctx context.Context, p peer.ID) fetchResult {
	env, err := d.n.fetchDirect(ctx, p)
	switch {
	case err == nil:
		if d.accept(p, env, sourceDirect) {
			return fetchOK
		}
		return fetchFailed
	case errors.Is(err, errNoOffer):
		return fetchNoOffer
	case errors.Is(err, ErrForged):
		d.n.log.Debug("fetched offer refused", "peer", shortID(p), "via", sourceDirect, "err", err)
		return fetchFailed
	case ctx.Err() != nil:
		return fetchFailed
	}
	d.n.log.Debug("offer not fetched from its peer; asking the DHT", "peer", shortID(p), "err", err)
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	val, err := d.n.dht.GetValue(ctx, OfferKey(p))
	if err != nil {
		if !errors.Is(err, routing.ErrNotFound) && ctx.Err() == nil {
			d.n.log.Debug("offer lookup failed", "peer", shortID(p), "err", err)
		}
		return fetchFailed
	}
	if d.accept(p, val, sourceDHT) {
		return fetchOK
	}
	return fetchFailed
}

// accept verifies an envelope said to be p's offer and hands it to the node.
func (d *discovery) accept(p peer.ID, env []byte, source string) bool {
	o, signer, err := OpenOffer(env, time.Now())
	if err == nil && signer != p {
		err = fmt.Errorf("%w: asked %s for its offer, got one of %s", ErrForged, p, signer)
	}
	if err != nil {
		// From the DHT: validated there, so an offer that expired in
		// between. From the peer: a peer that misbehaves.
		d.n.log.Debug("fetched offer refused", "peer", shortID(p), "via", source, "err", err)
		return false
	}
	d.n.acceptOffer(p, o, source)
	return true
}
