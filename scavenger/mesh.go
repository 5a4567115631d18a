package scavenger

import (
	"context"

	"github.com/scavenge/scavenge/peer/wire"
)

// Mesh is the engine's view of the swarm. *peer.Node implements it.
type Mesh interface {
	// ID is this peer's libp2p ID.
	ID() string
	// Addrs are this peer's full multiaddrs, each ending in /p2p/<id>.
	Addrs() []string
	// SetOffer replaces this peer's offer. The mesh fills in Peer, Seq,
	// Issued, Expires and Addrs, signs it, and publishes it now and on every
	// heartbeat (gossipsub and the DHT).
	SetOffer(o wire.Offer)
	// Offers returns the newest valid, unexpired offer of every other peer.
	Offers() []wire.Offer
	// OffersChanged receives a value (never blocking the sender) whenever
	// Offers may have changed. It has one reader: the home side's scheduler.
	OffersChanged() <-chan struct{}
	// NewStream opens a stream to a peer speaking protocol.
	NewStream(ctx context.Context, peer, protocol string) (wire.Stream, error)
	// Handle serves protocol; h runs in its own goroutine per stream and owns s.
	Handle(protocol string, h func(remote string, s wire.Stream))
}
