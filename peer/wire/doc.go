// Package wire is the vocabulary peers speak: protocol IDs, the signed Offer
// record, the claim and task messages, and the length-prefixed framing that
// carries them with a size cap on every frame.
//
// It imports nothing of the project so that both the network layer (peer) and
// the engine (scavenger) can share it without depending on each other.
package wire
