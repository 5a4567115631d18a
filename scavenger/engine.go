package scavenger

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/scavenge/scavenge/policy"
	"github.com/scavenge/scavenge/policy/sensor"
	"golang.org/x/sync/errgroup"
)

// Options configure an Engine. The CLI builds them from the config file.
type Options struct {
	Mesh     Mesh
	Executor Executor
	Logger   *slog.Logger
	Name     string // this machine's name, shown to peers
	// DBPath is the home's embedded job database (bbolt).
	DBPath string
	// HomeDir is hidden from guests.
	HomeDir string
	Donor   DonorOptions
	Home    HomeOptions
	// Policy decides from Sensor's readings when this machine donates and
	// what its guests get when the owner returns; SampleEvery is how often
	// the sensor is read (default 1s). A nil Sensor has nothing to watch,
	// which counts as an owner who is away.
	Policy      policy.Policy
	Sensor      sensor.Sensor
	SampleEvery time.Duration
}

// DonorOptions configure the donor side.
type DonorOptions struct {
	Enabled     bool
	CPUs        int    // slots; 0 means runtime.NumCPU()
	MemoryBytes uint64 // donated memory
	Labels      []string
	AcceptFrom  []string // peer IDs; empty means any peer of the swarm
	WorkDir     string   // parent of the task directories
	Lease       time.Duration
	MaxInput    int64    // bytes of inputs per task
	MaxOutput   int64    // bytes of output files per task
	Checkpoint  []string // backends to advertise
	// CheckpointEvery checkpoints guests whose job asked for a backend
	// but no interval; 0 = only when they leave.
	CheckpointEvery time.Duration
}

// HomeOptions configure the home side.
type HomeOptions struct {
	AllowLocal  bool
	WaitTimeout time.Duration
	Retries     int
}

// ErrNotFound is returned for an unknown job ID.
var ErrNotFound = errors.New("no such job")

// Engine is one daemon's donor and home sides.
type Engine struct {
	opts     Options
	log      *slog.Logger
	donor    *donor
	home     *home
	presence *presence
}

// New opens the job database and registers the protocol handlers.
func New(opts Options) (*Engine, error) {
	if opts.Mesh == nil || opts.Executor == nil {
		return nil, errors.New("scavenger: Mesh and Executor are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	e := &Engine{opts: opts, log: opts.Logger}
	var err error
	if e.home, err = newHome(e); err != nil {
		return nil, err
	}
	e.donor = newDonor(e)
	e.presence = newPresence(e)
	return e, nil
}

// Run serves until ctx is cancelled, then stops guests and closes the database.
func (e *Engine) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return e.donor.run(ctx) })
	g.Go(func() error { return e.presence.run(ctx) })
	g.Go(func() error { return e.home.run(ctx) })
	return g.Wait()
}

// ID is this peer's ID.
func (e *Engine) ID() string { return e.opts.Mesh.ID() }

// Status reports presence, slots and guests.
func (e *Engine) Status() Status {
	s := e.donor.status()
	s.ID, s.Name, s.Addrs = e.opts.Mesh.ID(), e.opts.Name, e.opts.Mesh.Addrs()
	s.Checkpoint = slices.Clone(e.opts.Donor.Checkpoint)
	return s
}

// Pause is the owner's override: stop donating now, applying the on-return
// action to guests, until Resume.
func (e *Engine) Pause(reason string) { e.presence.pause(reason) }

// Resume lifts Pause.
func (e *Engine) Resume() { e.presence.resume() }

// Peers lists the other peers' fresh offers, newest information first.
func (e *Engine) Peers() []PeerInfo { return e.home.peers() }

// Submit stores a job and queues it; it returns the job's ID at once.
func (e *Engine) Submit(ctx context.Context, req SubmitRequest) (string, error) {
	return e.home.submit(ctx, req)
}

// Watch streams a job's events from its start (replayed) and then live; the
// channel closes after EventFinished or when ctx ends.
func (e *Engine) Watch(ctx context.Context, jobID string) (<-chan Event, error) {
	return e.home.watch(ctx, jobID)
}

// Jobs lists the jobs in the database, newest first.
func (e *Engine) Jobs() ([]Job, error) { return e.home.jobs() }

// Job returns one job.
func (e *Engine) Job(id string) (Job, error) { return e.home.job(id) }

// Cancel stops a job's running tasks and marks it cancelled.
func (e *Engine) Cancel(jobID, reason string) error { return e.home.cancel(jobID, reason) }
