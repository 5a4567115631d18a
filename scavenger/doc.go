// Package scavenger is the engine of a scavenge daemon. Its donor side
// accepts claims from other peers, runs their tasks through an Executor and
// gives the machine back when its owner returns; its home side stores the
// jobs submitted here, picks idle peers from their offers, claims slots and
// drives each task to completion.
//
// It talks to the network only through Mesh (implemented by *peer.Node) and
// to the OS only through Executor, so it never imports peer or config.
package scavenger
