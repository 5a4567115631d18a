package cli

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/scavenge/scavenge/checkpoint"
	"github.com/scavenge/scavenge/peer"
	"github.com/scavenge/scavenge/peer/wire"
	"github.com/scavenge/scavenge/policy"
	"github.com/scavenge/scavenge/policy/sensor"
	"github.com/scavenge/scavenge/scavenger"
	"github.com/scavenge/scavenge/scavenger/executor"
)

// An in-process swarm is several complete peers (libp2p host on loopback
// TCP, engine, real executor) in this one process, sharing a fresh private
// swarm key. The demo and the benchmarks are built on it: this is the one
// place besides the daemon that wires peer, policy and scavenger together,
// and it wires them the same way, minus the config file and the local API.

// inprocSampleEvery is how often a member's sensor is read and judged. The
// daemon samples less often; the demo wants the owner's return to show at
// once.
const inprocSampleEvery = 50 * time.Millisecond

// inprocSwarm is the set of in-process peers (members) of one private swarm.
type inprocSwarm struct {
	dir string // holds every member's files; removed by close
	key []byte // the pre-shared swarm key
	log *slog.Logger

	ctx    context.Context // members run under it until close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	errs   []error // Run errors of members, reported by close
	peers  []*inprocPeer
}

// inprocSpec says how to build one member.
type inprocSpec struct {
	Name string
	// Bootstrap addresses; empty for the first peer.
	Bootstrap []string
	// Bare builds only the libp2p node, no engine: discovery measurements
	// set its offer by hand.
	Bare bool
	// Donate runs the donor side with Slots slots (0: all cores).
	Donate bool
	Slots  int
	// Dedicated donors are always idle; the others decide from Sensor
	// through the real policy.
	Dedicated bool
	Sensor    *sensor.Fake
	IdleAfter time.Duration
	// OnReturn is what guests get when the owner comes back; the zero
	// value kills them (grace 1 s).
	OnReturn policy.OnReturn
	// DisablePubsub leaves the DHT as the only way to learn offers.
	DisablePubsub bool
	// Meter counts task-stream bytes this member sends, by peer.
	Meter bool
	// CRIU lets a donor checkpoint guests with criu when the executor
	// can (root, a working criu); signal checkpoints need nothing.
	CRIU *checkpoint.CRIUBackend
	// RootGuests runs guests as root (executor.Options.RootGuests): only
	// for a benchmark's own fixed guests.
	RootGuests bool
}

// inprocPeer is one running member.
type inprocPeer struct {
	name   string
	node   *peer.Node
	eng    *scavenger.Engine // nil for a bare member
	meter  *taskMeter        // nil unless asked for
	sensor *sensor.Fake
}

// newInprocSwarm makes the swarm's directory under the system temp dir and
// a fresh swarm key in it, as `scavenge init` would.
func newInprocSwarm(ctx context.Context, prefix string, log *slog.Logger) (*inprocSwarm, error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return nil, fmt.Errorf("swarm dir: %w", err)
	}
	// 0711: guests run as an unprivileged user and must reach their task
	// directories below; each member's own home inside stays 0700.
	if err := os.Chmod(dir, 0o711); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("swarm dir %s: %w", dir, err)
	}
	keyPath := filepath.Join(dir, "swarm.key")
	if err := peer.GenerateSwarmKey(keyPath); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	key, err := peer.LoadSwarmKey(keyPath)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s := &inprocSwarm{dir: dir, key: key, log: log}
	s.ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	return s, nil
}

// add starts one member and returns when its node is up and its loops run.
func (s *inprocSwarm) add(ctx context.Context, spec inprocSpec) (*inprocPeer, error) {
	log := s.log.With("node", spec.Name)
	id, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("%s: identity: %w", spec.Name, err)
	}
	node, err := peer.New(ctx, peer.Options{
		Identity:      id,
		SwarmKey:      s.key,
		Listen:        []string{"/ip4/127.0.0.1/tcp/0"},
		Bootstrap:     spec.Bootstrap,
		DHTMode:       "server",
		DisablePubsub: spec.DisablePubsub,
		Logger:        log,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", spec.Name, err)
	}
	m := &inprocPeer{name: spec.Name, node: node, sensor: spec.Sensor}
	if !spec.Bare {
		if err := s.startEngine(m, spec, log); err != nil {
			return nil, errors.Join(fmt.Errorf("%s: %w", spec.Name, err), node.Close())
		}
	}
	s.mu.Lock()
	s.peers = append(s.peers, m)
	s.mu.Unlock()
	s.goRun(spec.Name+" peer", node.Run)
	if m.eng != nil {
		s.goRun(spec.Name+" engine", m.eng.Run)
	}
	return m, nil
}

// startEngine builds m's engine with the real executor, its files in the
// swarm dir: a private home (job database) and a separate work dir, so the
// home can be hidden from guests while their task dirs stay reachable.
func (s *inprocSwarm) startEngine(m *inprocPeer, spec inprocSpec, log *slog.Logger) error {
	home := filepath.Join(s.dir, spec.Name)
	if err := os.MkdirAll(home, 0o700); err != nil {
		return fmt.Errorf("home dir: %w", err)
	}
	var mesh scavenger.Mesh = m.node
	if spec.Meter {
		m.meter = newTaskMeter(m.node)
		mesh = m.meter
	}
	guestUser := ""
	if os.Geteuid() == 0 {
		guestUser = "nobody"
	}
	exec, err := executor.New(executor.Options{GuestUser: guestUser, Logger: log, CRIU: spec.CRIU, RootGuests: spec.RootGuests})
	if err != nil {
		return fmt.Errorf("executor: %w", err)
	}
	backends, err := checkpointBackends(exec, spec.CRIU)
	if err != nil {
		return fmt.Errorf("%s cannot checkpoint with criu: %w", spec.Name, err)
	}
	onReturn := spec.OnReturn
	if onReturn.Action == policy.ActionNone {
		onReturn = policy.OnReturn{Action: policy.ActionKill}
	}
	onReturn.Grace = cmp.Or(onReturn.Grace, time.Second)
	var sens sensor.Sensor
	if spec.Sensor != nil {
		sens = spec.Sensor
	}
	eng, err := scavenger.New(scavenger.Options{
		Policy:      policy.Policy{Dedicated: spec.Dedicated, IdleAfter: spec.IdleAfter, OnReturn: onReturn},
		Sensor:      sens,
		SampleEvery: inprocSampleEvery,
		Mesh:        mesh,
		Executor:    exec,
		Logger:      log,
		Name:        spec.Name,
		DBPath:      filepath.Join(home, "jobs.db"),
		HomeDir:     home,
		Donor: scavenger.DonorOptions{
			Enabled:    spec.Donate,
			CPUs:       spec.Slots,
			WorkDir:    filepath.Join(s.dir, spec.Name+"-work"),
			Lease:      10 * time.Second,
			MaxInput:   1 << 30, // the demo ships this whole executable
			Checkpoint: backends,
		},
		Home: scavenger.HomeOptions{WaitTimeout: time.Minute, Retries: 5},
	})
	if err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	m.eng = eng
	return nil
}

// goRun runs f under the swarm's context, keeping its error for close.
func (s *inprocSwarm) goRun(what string, f func(context.Context) error) {
	s.wg.Go(func() {
		if err := f(s.ctx); err != nil && !errors.Is(err, context.Canceled) {
			s.mu.Lock()
			s.errs = append(s.errs, fmt.Errorf("%s: %w", what, err))
			s.mu.Unlock()
		}
	})
}

// close stops every member (engines stop their guests), closes the nodes
// and removes the swarm's directory.
func (s *inprocSwarm) close() error {
	s.cancel()
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	errs := s.errs
	for _, m := range s.peers {
		if err := m.node.Close(); err != nil {
			errs = append(errs, fmt.Errorf("%s: close: %w", m.name, err))
		}
	}
	if err := os.RemoveAll(s.dir); err != nil {
		errs = append(errs, fmt.Errorf("remove %s: %w", s.dir, err))
	}
	return errors.Join(errs...)
}

// waitIdle waits until from sees every peer in want (by ID) with an idle
// offer, and returns how long that took. When ctx ends first the error is a
// *notIdleError saying who is missing.
func waitIdle(ctx context.Context, from *inprocPeer, want []*inprocPeer) (time.Duration, error) {
	start := time.Now()
	changed := from.node.OffersChanged()
	if from.eng != nil {
		changed = nil // the engine's scheduler is the channel's one reader
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		missing := notIdle(from.node.Offers(), want)
		if len(missing) == 0 {
			return time.Since(start), nil
		}
		if ctx.Err() != nil {
			return 0, &notIdleError{from: from.name, missing: missing, want: len(want), cause: context.Cause(ctx)}
		}
		select {
		case <-ctx.Done():
		case <-changed:
		case <-tick.C:
		}
	}
}

// notIdleError says which peers one peer did not see idle in time.
type notIdleError struct {
	from    string
	missing []string
	want    int
	cause   error
}

func (e *notIdleError) Error() string {
	return fmt.Sprintf("%s does not see %d of %d peers idle (first: %s): %v",
		e.from, len(e.missing), e.want, e.missing[0], e.cause)
}

func (e *notIdleError) Unwrap() error { return e.cause }

// seen is how many of the wanted peers were seen idle.
func (e *notIdleError) seen() int { return e.want - len(e.missing) }

// notIdle names the members of want that have no idle offer among offers.
func notIdle(offers []wire.Offer, want []*inprocPeer) []string {
	idle := make(map[string]bool, len(offers))
	for _, o := range offers {
		if o.State == wire.StateIdle {
			idle[o.Peer] = true
		}
	}
	var missing []string
	for _, m := range want {
		if !idle[m.node.ID()] {
			missing = append(missing, m.name)
		}
	}
	return missing
}
