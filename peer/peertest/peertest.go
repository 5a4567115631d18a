// Package peertest starts real scavenge peers on loopback TCP for tests and
// benchmarks: a fresh private swarm per call, node 0 as everyone's bootstrap,
// logs written to the test, and everything stopped by t.Cleanup.
package peertest

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/scavenge/scavenge/peer"
	"github.com/scavenge/scavenge/peer/wire"
)

// NewSwarm starts n peers in one new private swarm, listening on
// /ip4/127.0.0.1/tcp/0 with mDNS off. Node 0 starts first and is the
// bootstrap peer of all others. opts may adjust each node's options before it
// starts (i is the node's index). Run is already running on every node.
func NewSwarm(t testing.TB, n int, opts ...func(i int, o *peer.Options)) []*peer.Node {
	t.Helper()
	psk := SwarmKey(t)
	nodes := make([]*peer.Node, 0, n)
	var bootstrap []string
	for i := range n {
		o := Options(t, psk)
		o.Bootstrap = bootstrap
		o.Logger = o.Logger.With("node", i)
		for _, f := range opts {
			f(i, &o)
		}
		node := Start(t, o)
		if i == 0 {
			bootstrap = node.Addrs()
		}
		nodes = append(nodes, node)
	}
	return nodes
}

// SwarmKey returns a fresh random 32-byte swarm key.
func SwarmKey(t testing.TB) []byte {
	t.Helper()
	psk := make([]byte, peer.SwarmKeySize)
	if _, err := rand.Read(psk); err != nil {
		t.Fatal(err)
	}
	return psk
}

// Identity returns a fresh Ed25519 key.
func Identity(t testing.TB) crypto.PrivKey {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Options returns options for one loopback test peer of swarm psk: a fresh
// identity, a random loopback TCP port, mDNS off, logs to t.
func Options(t testing.TB, psk []byte) peer.Options {
	t.Helper()
	return peer.Options{
		Identity: Identity(t),
		SwarmKey: psk,
		Listen:   []string{"/ip4/127.0.0.1/tcp/0"},
		Logger:   Logger(t),
	}
}

// Start builds a node from o, starts Run, and registers its shutdown with
// t.Cleanup; a Run error fails the test.
func Start(t testing.TB, o peer.Options) *peer.Node {
	t.Helper()
	node, err := peer.New(context.Background(), o)
	if err != nil {
		t.Fatalf("peer.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- node.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("node %s: Run: %v", node.ID(), err)
		}
		if err := node.Close(); err != nil {
			t.Errorf("node %s: Close: %v", node.ID(), err)
		}
	})
	return node
}

// IdleOffer is a valid offer of an idle donor with cpus free slots; the node
// fills in the peer, sequence, times and addresses.
func IdleOffer(name string, cpus int) wire.Offer {
	return wire.Offer{
		Name:            name,
		State:           wire.StateIdle,
		Reason:          "test",
		CPUs:            cpus,
		FreeCPUs:        cpus,
		MemoryBytes:     1 << 30,
		FreeMemoryBytes: 1 << 30,
		OS:              runtime.GOOS,
		Arch:            runtime.GOARCH,
		OnReturn:        "kill",
	}
}

// OfferOf returns the offer node holds from peer id, if any.
func OfferOf(node *peer.Node, id string) (wire.Offer, bool) {
	for _, o := range node.Offers() {
		if o.Peer == id {
			return o, true
		}
	}
	return wire.Offer{}, false
}

// WaitFor polls cond until it is true, failing the test with what when
// timeout passes first. It polls often (10 ms) so that a test takes as long
// as the thing it waits for, not a fixed sleep.
func WaitFor(t testing.TB, timeout time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Logger returns a logger that writes to the test's output (debug level with
// -v), and goes quiet once the test and its cleanups are over, because
// libp2p's goroutines may still log a line after that.
func Logger(t testing.TB) *slog.Logger {
	t.Helper()
	w := &testWriter{w: t.Output()}
	t.Cleanup(w.stop) // registered first, so it runs after every later cleanup
	level := slog.LevelInfo
	if testing.Verbose() {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

type testWriter struct {
	mu      sync.Mutex
	w       io.Writer
	stopped bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return len(p), nil
	}
	return w.w.Write(p)
}

func (w *testWriter) stop() {
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
}
