package peer

import (
	"fmt"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/pnet"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
)

// defaultListen is used when Options.Listen is empty.
var (
	defaultListenPrivate = []string{"/ip4/0.0.0.0/tcp/0", "/ip6/::/tcp/0"}
	defaultListenPublic  = []string{"/ip4/0.0.0.0/tcp/0", "/ip6/::/tcp/0", "/ip4/0.0.0.0/udp/0/quic-v1", "/ip6/::/udp/0/quic-v1"}
)

// newHost builds the libp2p host. TCP is always on; QUIC only in a public
// swarm, because a pre-shared key protects the TCP stream before the security
// handshake and QUIC has no such layer (libp2p refuses the combination).
// libp2p's defaults supply Noise and TLS, yamux, the resource manager with
// auto-scaled limits and the connection manager.
func newHost(o Options) (host.Host, error) {
	listen := o.Listen
	if len(listen) == 0 {
		listen = defaultListenPublic
		if o.SwarmKey != nil {
			listen = defaultListenPrivate
		}
	}
	for _, s := range listen {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, fmt.Errorf("listen address %q: %w", s, err)
		}
		if o.SwarmKey != nil && usesUDP(a) {
			return nil, fmt.Errorf("listen address %s: QUIC and other UDP transports cannot be used with a swarm key (pnet works over TCP only)", s)
		}
	}
	opts := []libp2p.Option{
		libp2p.Identity(o.Identity),
		libp2p.ListenAddrStrings(listen...),
		libp2p.UserAgent("scavenge"),
		libp2p.Transport(tcp.NewTCPTransport),
	}
	if o.SwarmKey != nil {
		opts = append(opts, libp2p.PrivateNetwork(pnet.PSK(o.SwarmKey)))
	} else {
		opts = append(opts, libp2p.Transport(quic.NewTransport))
	}
	opts = append(opts, o.HostOptions...)
	h, err := libp2p.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("libp2p host: %w", err)
	}
	return h, nil
}

func usesUDP(a ma.Multiaddr) bool {
	_, err := a.ValueForProtocol(ma.P_UDP)
	return err == nil
}
