package peer_test

import (
	"github.com/scavenge/scavenge/peer"
	"github.com/scavenge/scavenge/scavenger"
)

// *peer.Node is the engine's network. The check lives in a test so that
// peer itself never imports the engine.
var _ scavenger.Mesh = (*peer.Node)(nil)
