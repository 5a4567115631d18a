package peer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// offerProtocol asks a peer for its current signed offer: the asker opens a
// stream and closes its side, the peer writes its envelope (nothing when it
// has no offer yet) and closes. Only peers of this package speak it, so it
// lives here rather than with the engine's protocols in peer/wire.
//
// It exists because reading an offer from the DHT is a whole lookup (a
// score of requests, each verifying the record) while the owner answers in
// one round trip with an offer signed within the last heartbeat. At 50
// peers polling each other through DHT lookups the swarm spent more CPU
// than two cores have; see discovery.
const offerProtocol protocol.ID = "/scavenge/offer/1.0.0"

// offerFetchTimeout bounds one direct fetch, dial included. A peer on the
// LAN answers in milliseconds; one that does not is looked up in the DHT.
const offerFetchTimeout = 5 * time.Second

// errNoOffer is a peer's answer that it has no offer yet.
var errNoOffer = errors.New("peer has no offer yet")

// serveOffer answers one offerProtocol stream with our current envelope.
// The envelope is signed already, so an answer costs no signature.
func (n *Node) serveOffer(s network.Stream) {
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(offerFetchTimeout))
	if env := n.current(); env != nil {
		if _, err := s.Write(env); err != nil {
			n.log.Debug("offer not served", "peer", shortID(s.Conn().RemotePeer()), "err", err)
			_ = s.Reset()
		}
	}
}

// fetchDirect asks p itself for its offer and returns the envelope it sent,
// not yet verified (discovery's accept does that). The error wraps
// errNoOffer when p answered that it has none, and ErrForged when the answer
// is larger than any envelope.
func (n *Node) fetchDirect(ctx context.Context, p peer.ID) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, offerFetchTimeout)
	defer cancel()
	s, err := n.h.NewStream(ctx, p, offerProtocol)
	if err != nil {
		return nil, fmt.Errorf("open offer stream to %s: %w", p, err)
	}
	defer s.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = s.SetDeadline(dl)
	}
	_ = s.CloseWrite() // the request is the stream itself
	env, err := io.ReadAll(io.LimitReader(s, maxEnvelopeSize+1))
	if err != nil {
		_ = s.Reset()
		return nil, fmt.Errorf("read offer of %s: %w", p, err)
	}
	switch {
	case len(env) == 0:
		return nil, fmt.Errorf("offer of %s: %w", p, errNoOffer)
	case len(env) > maxEnvelopeSize:
		_ = s.Reset()
		return nil, fmt.Errorf("offer of %s: %w: more than %d bytes", p, ErrForged, maxEnvelopeSize)
	}
	return env, nil
}
