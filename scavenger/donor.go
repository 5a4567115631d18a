package scavenger

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/scavenge/scavenge/peer/wire"
	"github.com/scavenge/scavenge/policy"
	"github.com/shirou/gopsutil/v4/mem"
)

// The donor side hosts other peers' tasks on this machine's spare slots. It
// owns the slot accounting (claims), the offer that advertises it, and the
// owner's authority: when the owner comes back or pauses, guests go.

// Defaults for options the CLI left at zero.
const (
	defaultLease     = 30 * time.Second
	defaultGrace     = 5 * time.Second
	defaultMaxInput  = 4 << 30
	defaultMaxOutput = 4 << 30
	defaultMemory    = 1 << 30 // when the total RAM cannot be read
	// reasonRepublish is how long a change of only the offer's Reason text
	// ("idle for 12 s" -> "13 s") waits before it is republished: the words
	// change every sample, the state rarely.
	reasonRepublish = 10 * time.Second
	// shutdownMargin is how long past the grace period shutdown waits for
	// tasks to report their exit before giving up on them.
	shutdownMargin = 5 * time.Second
)

// reasonDisabled is the presence of a donor whose config turns donating off.
const reasonDisabled = "donating is disabled in config"

// donor is the donor side of an Engine.
type donor struct {
	e         *Engine
	log       *slog.Logger
	opts      DonorOptions
	cpus      int
	mem       uint64
	lease     time.Duration
	grace     time.Duration
	maxInput  int64
	maxOutput int64
	now       func() time.Time // replaceable so tests can move time

	wsMu    sync.Mutex
	workDir string
	cache   *inputCache // nil until the first task opens the work dir

	dirty chan struct{} // the offer may have changed (capacity 1)

	mu       sync.Mutex
	presence Presence // the policy's latest decision
	closing  bool     // run's context ended: no new claims, guests stopping
	claims   map[string]*claim
	active   int           // task streams being served
	drained  chan struct{} // closed when active drops to 0 while closing
}

// newDonor builds the donor side from e's options and registers the claim
// and task protocol handlers on the mesh.
func newDonor(e *Engine) *donor {
	o := e.opts.Donor
	d := &donor{
		e:         e,
		log:       e.log.With("component", "donor"),
		opts:      o,
		cpus:      o.CPUs,
		mem:       o.MemoryBytes,
		lease:     o.Lease,
		grace:     e.opts.Policy.OnReturn.Grace,
		maxInput:  o.MaxInput,
		maxOutput: o.MaxOutput,
		now:       time.Now,
		workDir:   o.WorkDir,
		dirty:     make(chan struct{}, 1),
		claims:    map[string]*claim{},
	}
	if d.cpus <= 0 {
		d.cpus = runtime.NumCPU()
	}
	if d.mem == 0 {
		d.mem = defaultMemory
		if vm, err := mem.VirtualMemory(); err != nil {
			d.log.Warn("cannot read total memory: donating the default", "memory", humanBytes(d.mem), "err", err)
		} else {
			d.mem = vm.Total / 2
		}
	}
	if d.lease <= 0 {
		d.lease = defaultLease
	}
	if d.grace <= 0 {
		d.grace = defaultGrace
	}
	if d.maxInput <= 0 {
		d.maxInput = defaultMaxInput
	}
	if d.maxOutput <= 0 {
		d.maxOutput = defaultMaxOutput
	}
	d.presence = Presence{State: wire.StateOwner, Reason: "waiting for the first presence sample"}
	e.opts.Mesh.Handle(wire.ClaimProtocol, d.serveClaim)
	e.opts.Mesh.Handle(wire.TaskProtocol, d.serveTask)
	d.changed()
	return d
}

// run publishes the offer whenever it changes and enforces leases until ctx
// ends; then it stops every guest and waits (bounded) for them to report.
func (d *donor) run(ctx context.Context) error {
	tick := time.NewTicker(max(d.lease/4, 10*time.Millisecond))
	defer tick.Stop()
	// held is armed while a slot-count change waits out offerCoalesce.
	held := time.NewTimer(time.Hour)
	held.Stop()
	defer held.Stop()
	holding := false
	var last wire.Offer
	var lastAt time.Time
	published := false
	publish := func() {
		o := d.offer()
		if published {
			if offerEqual(o, last) {
				return
			}
			// Only the words changed: the next tick past reasonRepublish
			// publishes them.
			if offerEqual(o, withReason(last, o.Reason)) && time.Since(lastAt) < reasonRepublish {
				return
			}
			// Free slots change with every tiny task; publishing each costs a
			// signature and a gossip round, so they go out at most every
			// offerCoalesce, and so does idle <-> busy, which is the same
			// thing. The owner's return or a pause goes out at once.
			if donates(o.State) == donates(last.State) {
				if wait := offerCoalesce - time.Since(lastAt); wait > 0 {
					if !holding {
						held.Reset(wait)
						holding = true
					}
					return
				}
			}
		}
		d.e.opts.Mesh.SetOffer(o)
		last, lastAt, published = o, time.Now(), true
	}
	publish()
	for {
		select {
		case <-ctx.Done():
			d.shutdown()
			return nil
		case <-d.dirty:
			publish()
		case <-held.C:
			holding = false
			publish()
		case <-tick.C:
			d.expire()
			publish()
		}
	}
}

// changed asks run to republish the offer; it never blocks.
func (d *donor) changed() {
	select {
	case d.dirty <- struct{}{}:
	default:
	}
}

// offerCoalesce is the least time between two offers that differ only in
// free slots or memory: short against a claim's round trip, long enough to
// fold the slot changes of hundreds of tiny tasks into a few offers.
const offerCoalesce = 100 * time.Millisecond

// onReturnWord is the policy's on-return action as offers carry it.
func onReturnWord(a policy.Action) string {
	if a == policy.ActionNone {
		return string(policy.ActionKill)
	}
	return string(a)
}

// donates says whether an offer in state s may take guests.
func donates(s wire.State) bool { return s == wire.StateIdle || s == wire.StateBusy }

func withReason(o wire.Offer, r string) wire.Offer { o.Reason = r; return o }

func offerEqual(a, b wire.Offer) bool {
	return a.Name == b.Name && a.State == b.State && a.Reason == b.Reason && a.Dedicated == b.Dedicated &&
		a.CPUs == b.CPUs && a.FreeCPUs == b.FreeCPUs && a.MemoryBytes == b.MemoryBytes &&
		a.FreeMemoryBytes == b.FreeMemoryBytes && a.OS == b.OS && a.Arch == b.Arch &&
		slices.Equal(a.Labels, b.Labels) && a.OnReturn == b.OnReturn &&
		slices.Equal(a.Checkpoint, b.Checkpoint) && a.Guests == b.Guests
}

// offer is what the swarm should know about this donor now.
func (d *donor) offer() wire.Offer {
	d.mu.Lock()
	defer d.mu.Unlock()
	usedCPU, usedMem := d.usageLocked()
	p := d.presenceLocked()
	return wire.Offer{
		Version:         wire.OfferVersion,
		Name:            d.e.opts.Name,
		State:           p.State,
		Reason:          wire.CleanText(p.Reason, 512),
		Dedicated:       d.e.opts.Policy.Dedicated,
		CPUs:            d.cpus,
		FreeCPUs:        max(d.cpus-usedCPU, 0),
		MemoryBytes:     d.mem,
		FreeMemoryBytes: d.mem - min(usedMem, d.mem),
		OS:              runtime.GOOS,
		Arch:            runtime.GOARCH,
		Labels:          slices.Clone(d.opts.Labels),
		OnReturn:        onReturnWord(d.e.opts.Policy.OnReturn.Action),
		Checkpoint:      slices.Clone(d.opts.Checkpoint),
		Guests:          len(d.guestsLocked()),
	}
}

// presenceLocked is the donor's effective presence: the policy's decision
// overridden by config and shutdown, and busy when every slot is taken.
func (d *donor) presenceLocked() Presence {
	used, _ := d.usageLocked()
	switch {
	case !d.opts.Enabled:
		return Presence{State: wire.StateOwner, Reason: reasonDisabled}
	case d.closing:
		return Presence{State: wire.StateOwner, Reason: "donor is shutting down"}
	case !d.presence.Donating:
		return d.presence
	case used >= d.cpus:
		p := d.presence
		p.State, p.Reason = wire.StateBusy, fmt.Sprintf("all %d slots in use", d.cpus)
		return p
	}
	return d.presence
}

// status reports presence, slots and guests; Engine fills in the identity.
func (d *donor) status() Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	used, _ := d.usageLocked()
	return Status{
		Presence: d.presenceLocked(),
		Paused:   d.presence.State == wire.StatePaused,
		CPUs:     d.cpus,
		Free:     max(d.cpus-used, 0),
		Guests:   d.guestsLocked(),
	}
}

// setPresence takes the policy's latest decision: unstarted claims are
// revoked when it stops donating, and every guest gets its Action.
func (d *donor) setPresence(p Presence) {
	d.mu.Lock()
	d.presence = p
	stops := d.applyLocked(p)
	d.mu.Unlock()
	for _, stop := range stops {
		stop()
	}
	d.changed()
}

// guestCount is how many guests run here, for the policy.
func (d *donor) guestCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, cl := range d.claims {
		if cl.guest != nil {
			n++
		}
	}
	return n
}

// applyLocked carries out p on every live claim: unstarted claims are
// revoked when p does not donate, so their slots are free again; running
// guests are shared, suspended or resumed at once (in the background) or
// stopped by the returned functions, to call without the lock.
func (d *donor) applyLocked(p Presence) []func() {
	cause := p.Reason
	if p.State == wire.StateOwner && p.Detail != string(policy.StateOutsideHours) {
		cause = "owner returned: " + cause
	}
	if p.GuestNote != "" {
		cause += " (" + p.GuestNote + ")"
	}
	var stops []func()
	for _, cl := range d.claims {
		if cl.revoked != "" {
			continue
		}
		if cl.guest == nil {
			if !p.Donating {
				cl.revoked = cause
				d.log.Info("claim revoked", "claim", cl.id, "job", cl.jobID, "task", cl.taskID, "reason", cause)
			}
			continue
		}
		g := cl.guest
		if g.stopping() {
			continue // every presence sample while it stops would stop it again
		}
		switch p.Action {
		case GuestMigrate:
			switch {
			case g.ck == nil:
				stops = append(stops, d.fallback(cl, g, p, cause+" (its job asked for no checkpoints)"))
			case g.ck.failure() != "":
				stops = append(stops, d.fallback(cl, g, p, cause+" ("+g.ck.failure()+")"))
			default:
				stops = append(stops, func() {
					go g.migrate(cause, func(why string) { d.fallback(cl, g, p, why)() })
				})
			}
		case GuestKill:
			stops = append(stops, d.killGuest(cl, g, cause))
		default:
			if p.Donating && g.ck != nil {
				g.ck.clearFailure() // the owner's next return tries again
			}
			g.treat(p.Action, p.Share, cause)
		}
	}
	return stops
}

// fallback gives g, which cannot be migrated (why), the policy's
// fallback: shared at once, or the returned function stops it.
func (d *donor) fallback(cl *claim, g *guest, p Presence, why string) func() {
	if p.Fallback == GuestShare {
		g.treat(GuestShare, p.Share, why)
		return func() {}
	}
	return d.killGuest(cl, g, why)
}

// killGuest returns the function that stops cl's guest for the owner.
func (d *donor) killGuest(cl *claim, g *guest, cause string) func() {
	action := "killed: " + cause
	g.setAction(action)
	d.log.Info("stopping guest", "job", cl.jobID, "task", cl.taskID, "home", cl.remote, "action", action)
	return func() { g.stop(cause, true) }
}

// shutdown stops every guest because the daemon is stopping, then waits for
// their task streams to report the exit, at most grace plus a margin.
func (d *donor) shutdown() {
	d.mu.Lock()
	d.closing = true
	var guests []*guest
	for _, cl := range d.claims {
		if cl.guest != nil {
			guests = append(guests, cl.guest)
		} else if cl.revoked == "" {
			cl.revoked = "donor is shutting down"
		}
	}
	var drained chan struct{}
	if d.active > 0 {
		d.drained = make(chan struct{})
		drained = d.drained
	}
	d.mu.Unlock()
	// Tell the swarm at once, not when the last offer expires, so no home
	// sends a claim that is bound to be refused.
	d.e.opts.Mesh.SetOffer(d.offer())
	for _, g := range guests {
		g.setAction("killed: donor is shutting down")
		g.stop("donor is shutting down", true)
	}
	if drained == nil {
		return
	}
	t := time.NewTimer(d.grace + shutdownMargin)
	defer t.Stop()
	select {
	case <-drained:
	case <-t.C:
		d.log.Warn("shutdown: task streams still busy, leaving them")
	}
}

// taskBegin and taskEnd count the task streams being served so shutdown can
// wait for them.
func (d *donor) taskBegin() {
	d.mu.Lock()
	d.active++
	d.mu.Unlock()
}

func (d *donor) taskEnd() {
	d.mu.Lock()
	d.active--
	if d.active == 0 && d.drained != nil {
		close(d.drained)
		d.drained = nil
	}
	d.mu.Unlock()
}

// workDirMode lets guests running as another user reach their own task
// directory but not list their neighbours'.
const workDirMode = 0o711

// staleTaskDir matches task directories (<job>-<task>-<claim ID>) a crashed
// daemon left behind; claim IDs are 26 characters of crypto/rand.Text.
var staleTaskDir = regexp.MustCompile(`^[A-Za-z0-9._-]+-[A-Z2-7]{26}$`)

// workspace creates the work directory and opens the input cache on first
// use; a failure is retried by the next task.
func (d *donor) workspace() (string, *inputCache, error) {
	d.wsMu.Lock()
	defer d.wsMu.Unlock()
	if d.cache != nil {
		return d.workDir, d.cache, nil
	}
	if d.workDir == "" {
		d.workDir = filepath.Join(os.TempDir(), "scavenge-work")
		d.log.Warn("no work_dir configured: using a temporary one", "dir", d.workDir)
	}
	if err := os.MkdirAll(d.workDir, workDirMode); err != nil {
		return "", nil, fmt.Errorf("work dir: %w", err)
	}
	if err := checkWorkDir(d.workDir); err != nil {
		return "", nil, err
	}
	des, err := os.ReadDir(d.workDir)
	if err != nil {
		return "", nil, fmt.Errorf("work dir: %w", err)
	}
	for _, de := range des {
		if de.IsDir() && staleTaskDir.MatchString(de.Name()) {
			d.log.Info("removing a task directory left by an earlier run", "dir", de.Name())
			removeTaskDir(filepath.Join(d.workDir, de.Name()), d.log)
		}
	}
	cache, err := openInputCache(filepath.Join(d.workDir, "cache"), max(minCacheBytes, 2*d.maxInput), d.log)
	if err != nil {
		return "", nil, err
	}
	d.cache = cache
	return d.workDir, d.cache, nil
}

// humanBytes formats a byte count for reasons people read.
func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// abbrevPeer shortens a peer ID for messages: libp2p IDs share their first
// characters ("12D3KooW"), so the tail is what tells peers apart.
func abbrevPeer(id string) string {
	if len(id) <= 12 {
		return id
	}
	return "…" + id[len(id)-8:]
}
