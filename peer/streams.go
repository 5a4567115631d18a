package peer

import (
	"context"
	"errors"
	"fmt"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/scavenge/scavenge/peer/wire"
)

// ErrLimitedConn is returned for a stream that would run over a limited
// (relayed) connection: relays cut connections after minutes or a few
// hundred KiB, so tasks and files never go over one.
var ErrLimitedConn = errors.New("only a limited (relayed) connection to the peer")

// NewStream opens a stream to peer speaking proto. When we are not connected
// yet, the addresses from the peer's offer are used to dial it. Streams over
// limited connections are refused: the context never allows them.
func (n *Node) NewStream(ctx context.Context, p, proto string) (wire.Stream, error) {
	id, err := peer.Decode(p)
	if err != nil {
		return nil, fmt.Errorf("peer %q: %w", p, err)
	}
	if !n.dialer.connected(id) {
		if o, ok := n.cache.get(id); ok {
			if infos, err := parseP2pAddrs(o.Addrs); err == nil {
				n.h.Peerstore().AddAddrs(id, addrsOf(infos, id), peerstore.TempAddrTTL)
			}
		}
	}
	s, err := n.h.NewStream(ctx, id, protocol.ID(proto))
	if err != nil {
		return nil, fmt.Errorf("open %s stream to %s: %w", proto, id, err)
	}
	if s.Conn().Stat().Limited {
		_ = s.Reset()
		return nil, fmt.Errorf("open %s stream to %s: %w", proto, id, ErrLimitedConn)
	}
	return s, nil
}

// Handle serves proto: h runs in its own goroutine per stream and owns it.
// Streams arriving over limited connections are reset before h sees them.
func (n *Node) Handle(proto string, h func(remote string, s wire.Stream)) {
	n.h.SetStreamHandler(protocol.ID(proto), func(s network.Stream) {
		if s.Conn().Stat().Limited {
			n.log.Warn("stream over a limited connection refused", "protocol", proto, "peer", s.Conn().RemotePeer())
			_ = s.Reset()
			return
		}
		h(s.Conn().RemotePeer().String(), s)
	})
}
