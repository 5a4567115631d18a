package peer

import (
	"context"
	"time"

	"github.com/scavenge/scavenge/peer/wire"
)

// maxOfferAddrs mirrors the limit wire.Offer.Validate puts on Addrs.
const maxOfferAddrs = 32

// SetOffer replaces this peer's offer. The node fills in Version, Peer, Seq,
// Issued, Expires and Addrs, signs it, and publishes it at once and on every
// heartbeat. An offer that fails wire validation is logged and not published:
// every other peer would drop it.
func (n *Node) SetOffer(o wire.Offer) {
	t := cloneOffer(o)
	n.mu.Lock()
	prev := n.template
	n.template = &t
	err := n.resealLocked(time.Now())
	if err != nil {
		n.template = prev
	}
	n.mu.Unlock()
	if err != nil {
		n.log.Error("offer not published", "err", err)
		return
	}
	wake(n.pubWake)
	wake(n.dhtWake)
}

// resealLocked signs the current template as a new offer: a new sequence
// number, a fresh expiry and the current addresses. The sequence is at least
// the wall clock in nanoseconds, so it keeps growing across restarts and
// peers never mistake a restarted peer's offers for replays.
func (n *Node) resealLocked(now time.Time) error {
	if n.template == nil {
		return nil
	}
	o := cloneOffer(*n.template)
	if o.Version == 0 {
		o.Version = wire.OfferVersion
	}
	o.Peer = n.self.String()
	n.seq = max(n.seq+1, uint64(now.UnixNano()))
	o.Seq = n.seq
	o.Issued = now.UTC().Truncate(time.Millisecond)
	o.Expires = o.Issued.Add(n.o.OfferTTL)
	o.Addrs = n.Addrs()
	if len(o.Addrs) > maxOfferAddrs {
		o.Addrs = o.Addrs[:maxOfferAddrs]
	}
	if err := o.Validate(); err != nil {
		return err
	}
	env, err := sealOffer(o, n.key)
	if err != nil {
		return err
	}
	n.sealed = env
	return nil
}

// current returns the newest signed envelope, nil before the first SetOffer.
func (n *Node) current() []byte {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.sealed
}

// runHeartbeat re-signs the offer every OfferEvery (so it never expires while
// we are up) and publishes it on gossipsub: on a change at once, and on every
// tick, because gossipsub drops what is published before a newly joined
// peer's first heartbeat and a peer that joins later has to hear it too.
func (n *Node) runHeartbeat(ctx context.Context) error {
	tick := time.NewTicker(n.o.OfferEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-n.pubWake:
		case now := <-tick.C:
			n.mu.Lock()
			err := n.resealLocked(now)
			n.mu.Unlock()
			if err != nil {
				n.log.Error("offer not re-signed", "err", err)
				continue
			}
		}
		env := n.current()
		if env == nil || n.topic == nil {
			continue
		}
		if err := n.topic.publish(ctx, env); err != nil && ctx.Err() == nil {
			n.log.Warn("offer not published", "err", err)
		}
	}
}

// runSweep drops expired offers so that OffersChanged fires when a peer goes
// silent, not only when one speaks.
func (n *Node) runSweep(ctx context.Context) error {
	tick := time.NewTicker(sweepEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-tick.C:
			if k := n.cache.sweep(now); k > 0 {
				n.log.Debug("offers expired", "count", k)
			}
		}
	}
}

// sweepEvery bounds how late an expired offer is noticed by OffersChanged;
// Offers itself never returns an expired offer.
const sweepEvery = 500 * time.Millisecond

// wake sends on a buffered(1) channel without blocking.
func wake(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
