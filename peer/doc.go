// Package peer is scavenge's network layer: a libp2p host in a private swarm
// (pre-shared key), a Kademlia DHT under the /scavenge protocol prefix,
// gossipsub for live offers, and mDNS for the LAN.
//
// A Node publishes this peer's signed Offer on a gossipsub topic whenever it
// changes and as a heartbeat, and stores it in the DHT under the peer's own
// key. It learns other peers' offers from gossip, and finds peers through DHT
// provider records (the per-swarm rendezvous) and its connections, asking each
// new one for its offer directly (or reading it from the DHT when the peer
// cannot be asked) and again before it expires when gossip is silent. Every
// offer is a libp2p signed envelope; offers with a bad signature, a forged
// peer ID, an expired time or an older sequence number are dropped wherever
// they come from.
//
// *Node implements the engine's scavenger.Mesh interface; this package does
// not import scavenger, so the engine can be tested without a network.
package peer
