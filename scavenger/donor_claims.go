package scavenger

import (
	"crypto/rand"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/scavenge/scavenge/peer/wire"
)

// A claim reserves slots for one task of one home. It lives from an accepted
// ClaimRequest until its lease runs out unused, or until the task that took
// it has exited. The home renews the lease while the task runs; a home that
// stops renewing has vanished, and its guest is stopped.

// claimTimeout bounds one claim exchange: request in, response out.
const claimTimeout = 30 * time.Second

// claim is one reservation. Fields other than the IDs are guarded by donor.mu.
type claim struct {
	id, remote    string
	jobID, taskID string
	cpus          int
	mem           uint64
	expires       time.Time
	taken         bool   // a task stream took it: its lease is the stream's business until the guest starts
	guest         *guest // set when the task is about to start
	revoked       string // why the owner took the slots back before the task started
	leaseLogged   bool   // the lease expired and the guest is being stopped
}

// serveClaim answers one ClaimRequest with a lease or a reason, then closes.
func (d *donor) serveClaim(remote string, s wire.Stream) {
	defer s.Close()
	log := d.log.With("peer", remote)
	s.SetDeadline(time.Now().Add(claimTimeout))
	c := wire.NewConn(s)
	req, err := wire.Expect[*wire.ClaimRequest](c)
	if err != nil {
		log.Debug("bad claim request", "err", err)
		c.Send(&wire.Error{Message: wire.CleanText(err.Error(), wire.MaxReasonLen)})
		return
	}
	resp := d.decideClaim(remote, req)
	if resp.Accepted {
		log.Info("claim accepted", "claim", resp.ClaimID, "job", req.JobID, "task", req.TaskID, "cpus", max(req.CPUs, 1))
	} else {
		log.Info("claim declined", "job", req.JobID, "task", req.TaskID, "reason", resp.Reason)
	}
	if err := c.Send(resp); err != nil {
		log.Debug("claim response not sent", "err", err)
		// The home never heard the answer; the lease will free the slots.
		return
	}
	s.CloseWrite()
}

// decideClaim accepts req from remote, reserving its slots, or says why not.
func (d *donor) decideClaim(remote string, req *wire.ClaimRequest) *wire.ClaimResponse {
	decline := func(format string, a ...any) *wire.ClaimResponse {
		return &wire.ClaimResponse{Reason: wire.CleanText(fmt.Sprintf(format, a...), wire.MaxReasonLen)}
	}
	if !d.allowed(remote) {
		return decline("not allowed: peer %s is not in accept_from", abbrevPeer(remote))
	}
	if why := claimMismatch(req, d.opts.Labels); why != "" {
		return decline("does not match: %s", why)
	}
	slots := max(req.CPUs, 1)
	d.mu.Lock()
	defer d.mu.Unlock()
	switch p := d.presenceLocked(); {
	case p.State == wire.StatePaused:
		return decline("%s", p.Reason)
	case !p.Donating:
		return decline("not idle: %s", p.Reason)
	}
	usedCPU, usedMem := d.usageLocked()
	if free := d.cpus - usedCPU; slots > free {
		return decline("no room: %d of %d slots free", max(free, 0), d.cpus)
	}
	if free := d.mem - min(usedMem, d.mem); req.MemoryBytes > free {
		return decline("not enough memory: needs %s, %s of %s free", humanBytes(req.MemoryBytes), humanBytes(free), humanBytes(d.mem))
	}
	cl := &claim{
		id:      rand.Text(),
		remote:  remote,
		jobID:   req.JobID,
		taskID:  req.TaskID,
		cpus:    slots,
		mem:     req.MemoryBytes,
		expires: d.now().Add(min(d.lease, unusedClaimTTL)),
	}
	d.claims[cl.id] = cl
	d.changed()
	return &wire.ClaimResponse{Accepted: true, ClaimID: cl.id, LeaseMillis: max(d.lease.Milliseconds(), 1)}
}

// allowed applies accept_from. This machine's own home (allow_local) is
// always allowed: the owner needs no permission to use their own machine.
func (d *donor) allowed(remote string) bool {
	return len(d.opts.AcceptFrom) == 0 || remote == d.e.opts.Mesh.ID() || slices.Contains(d.opts.AcceptFrom, remote)
}

// claimMismatch says why this machine can never run req, or "".
func claimMismatch(req *wire.ClaimRequest, labels []string) string {
	if req.OS != "" && req.OS != runtime.GOOS {
		return fmt.Sprintf("needs os %s, this is %s", req.OS, runtime.GOOS)
	}
	if req.Arch != "" && req.Arch != runtime.GOARCH {
		return fmt.Sprintf("needs arch %s, this is %s", req.Arch, runtime.GOARCH)
	}
	var missing []string
	for _, l := range req.Labels {
		if !slices.Contains(labels, l) {
			missing = append(missing, l)
		}
	}
	switch len(missing) {
	case 0:
		return ""
	case 1:
		return "missing label " + missing[0]
	}
	return "missing labels " + strings.Join(missing, ", ")
}

// usageLocked sums the slots and memory of live claims; revoked ones gave
// theirs back.
func (d *donor) usageLocked() (cpus int, mem uint64) {
	for _, cl := range d.claims {
		if cl.revoked == "" {
			cpus += cl.cpus
			mem += cl.mem
		}
	}
	return cpus, mem
}

// guestLimits are the caps a claim's guest starts with: the cores it
// claimed, and the memory it asked for or else all the memory donated.
func (d *donor) guestLimits(cl *claim) Limits {
	l := Limits{CPUs: float64(cl.cpus), MemoryBytes: cl.mem}
	if l.MemoryBytes == 0 {
		l.MemoryBytes = d.mem
	}
	return l
}

// guestsLocked lists the running guests, oldest first.
func (d *donor) guestsLocked() []Guest {
	var gs []Guest
	for _, cl := range d.claims {
		if cl.guest != nil {
			if g, ok := cl.guest.snapshot(); ok {
				gs = append(gs, g)
			}
		}
	}
	slices.SortFunc(gs, func(a, b Guest) int { return a.Started.Compare(b.Started) })
	return gs
}

// errUnknownClaim answers a TaskSpec whose claim this donor does not hold
// for that peer: never made, expired, or already used.
var errUnknownClaim = errors.New("unknown or expired claim")

// takeClaim binds the claim named by spec to a task stream from remote. A
// revoked claim is returned with its reason: the task is answered with a
// preempted Exit, which the home requeues.
func (d *donor) takeClaim(remote string, spec *wire.TaskSpec) (*claim, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	cl := d.claims[spec.ClaimID]
	switch {
	case cl == nil || cl.remote != remote:
		// Another peer's claim ID is as unknown to this one as a made-up one.
		return nil, fmt.Errorf("claim %s: %w", spec.ClaimID, errUnknownClaim)
	case cl.taken:
		return nil, fmt.Errorf("claim %s is already in use by a task", spec.ClaimID)
	case cl.jobID != spec.JobID || cl.taskID != spec.TaskID:
		return nil, fmt.Errorf("claim %s is for job %s task %s, not job %s task %s",
			spec.ClaimID, cl.jobID, cl.taskID, spec.JobID, spec.TaskID)
	case cl.revoked == "" && d.now().After(cl.expires):
		d.dropClaimLocked(cl)
		return nil, fmt.Errorf("claim %s: %w", spec.ClaimID, errUnknownClaim)
	}
	cl.taken = true
	return cl, nil
}

// renew extends a running task's lease.
func (d *donor) renew(cl *claim) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.claims[cl.id] == cl && !cl.leaseLogged {
		cl.expires = d.now().Add(d.lease)
	}
}

// releaseClaim frees the claim's slots: its task ended or never started.
func (d *donor) releaseClaim(cl *claim) {
	d.mu.Lock()
	d.dropClaimLocked(cl)
	d.mu.Unlock()
}

func (d *donor) dropClaimLocked(cl *claim) {
	if d.claims[cl.id] == cl {
		delete(d.claims, cl.id)
		d.changed()
	}
}

// expire ends claims whose lease ran out: unused ones free their slots, and
// a running guest whose home stopped renewing is stopped. A claim a task
// stream holds before its guest starts is bounded by the stream's deadline.
// unusedClaimTTL is how long a claim holds its slots before its task
// stream arrives: a home opens that stream right after the claim, so a claim
// still unused after this belongs to a home that crashed or gave up.
const unusedClaimTTL = 10 * time.Second

func (d *donor) expire() {
	now := d.now()
	var stops []func()
	d.mu.Lock()
	for _, cl := range d.claims {
		switch {
		case cl.guest != nil:
			if now.After(cl.expires) && !cl.leaseLogged {
				cl.leaseLogged = true
				g, home := cl.guest, cl.remote
				d.log.Warn(fmt.Sprintf("lease expired: home %s stopped renewing", home), "job", cl.jobID, "task", cl.taskID)
				g.setAction("killed: lease expired")
				stops = append(stops, func() { g.homeGone(fmt.Sprintf("lease expired: home %s stopped renewing", abbrevPeer(home))) })
			}
		case cl.taken:
		case now.After(cl.expires):
			d.log.Debug("claim expired unused", "claim", cl.id, "job", cl.jobID, "task", cl.taskID)
			d.dropClaimLocked(cl)
		}
	}
	d.mu.Unlock()
	for _, stop := range stops {
		stop()
	}
}
