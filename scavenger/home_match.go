package scavenger

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/scavenge/scavenge/peer/wire"
)

// Matchmaking: which peers may take a task, in which order to claim them,
// and, when none can, one sentence saying why for every peer. The functions
// here are pure so the rules are tested as tables.

// candidate is a peer worth claiming for a task.
type candidate struct {
	peer  string
	name  string
	seq   uint64 // of the offer it was chosen from
	local bool   // this machine, reached through the in-process pipe
}

// slotView adjusts a peer's advertised free slots by what this home knows
// happened since that offer was issued: claims it won (fewer free) and its
// tasks that ended there (more free). Offers lag by a publish round, and
// without this the home would claim a full peer again, or wait for an offer
// to learn that its own task just freed a slot.
type slotView struct {
	seq    uint64 // the offer sequence these deltas apply to
	cpus   int
	memory int64
	// refused is why the last claim at this seq failed, e.g. "declined (not
	// idle: ...)" or "unreachable (...)": the peer is skipped until it
	// publishes a new offer or a task of ours there ends.
	refused string
}

// slotUse is what this home's claims and tasks take on one peer, known
// exactly here, however late the peer's offers say so.
type slotUse struct {
	cpus   int
	memory uint64
}

// matchInput is everything matching looks at.
type matchInput struct {
	now       time.Time
	req       Requirements
	self      string       // this peer's ID: never a remote candidate
	offers    []wire.Offer // other peers' offers
	views     map[string]slotView
	ours      map[string]slotUse
	local     *wire.Offer // this machine as an offer; nil unless allow_local
	localNote string      // why this machine refused the last claim, if it did
	rank      Rank
	avoid     map[string]bool // peers that kept failing this job's tasks
}

// needCPUs is the slots a task needs: at least one.
func needCPUs(r Requirements) int { return max(r.CPUs, 1) }

// freeSlots returns a peer's free slots and memory as this home sees them:
// its offer, adjusted by what this home did since (v), and never more than
// what our own claims and tasks there leave. An offer can be older than our
// latest claims there (it was issued before the claims reached the peer,
// and arrived after) and then says those slots are free: claiming them would
// only be declined, and the peer skipped until its next offer.
func freeSlots(o *wire.Offer, v slotView, ok bool, ours slotUse) (cpus int, memory uint64) {
	cpus, mem := o.FreeCPUs, int64(o.FreeMemoryBytes)
	if ok && v.seq == o.Seq {
		cpus += v.cpus
		mem += v.memory
	}
	cpus = min(cpus, o.CPUs-ours.cpus)
	mem = min(mem, int64(o.MemoryBytes)-int64(min(ours.memory, o.MemoryBytes)))
	return min(max(cpus, 0), o.CPUs), uint64(min(max(mem, 0), int64(o.MemoryBytes)))
}

// unfit says why offer o cannot take a task needing r now, or "" if it can.
// The sentence starts after the peer's name: "busy (0 of 2 slots free)".
func unfit(o *wire.Offer, freeCPUs int, freeMem uint64, r Requirements) string {
	described := func(what string) string {
		if o.Reason != "" {
			return fmt.Sprintf("%s (%s)", what, o.Reason)
		}
		return what
	}
	switch o.State {
	case wire.StatePaused:
		return described("paused")
	case wire.StateOwner:
		return described("not donating") // the owner is using it, or donating is off
	case wire.StateIdle, wire.StateBusy:
	default:
		return described(fmt.Sprintf("in unknown state %q", o.State))
	}
	if r.OS != "" && !strings.EqualFold(r.OS, o.OS) || r.Arch != "" && !strings.EqualFold(r.Arch, o.Arch) {
		want := strings.Trim(r.OS+"/"+r.Arch, "/")
		return fmt.Sprintf("does not match (%s/%s, needs %s)", o.OS, o.Arch, want)
	}
	var missing []string
	for _, l := range r.Labels {
		if !o.HasLabel(l) {
			missing = append(missing, l)
		}
	}
	if len(missing) > 0 {
		return fmt.Sprintf("does not match (missing label %s)", strings.Join(missing, ", "))
	}
	if r.Checkpoint != "" && !slices.Contains(o.Checkpoint, r.Checkpoint) {
		return fmt.Sprintf("does not match (cannot checkpoint with %s)", r.Checkpoint)
	}
	if need := needCPUs(r); freeCPUs < need {
		if need == 1 {
			return fmt.Sprintf("busy (%d of %d slots free)", freeCPUs, o.CPUs)
		}
		return fmt.Sprintf("busy (%d of %d slots free, needs %d)", freeCPUs, o.CPUs, need)
	}
	if freeMem < r.MemoryBytes {
		return fmt.Sprintf("short of memory (%s free, needs %s)", humanBytes(freeMem), humanBytes(r.MemoryBytes))
	}
	return ""
}

// offerName is how a sentence names a peer: its machine name, else the tail
// of its ID (libp2p IDs share their first characters).
func offerName(o *wire.Offer) string {
	if o.Name != "" {
		return o.Name
	}
	return abbrevPeer(o.Peer)
}

// rankOffers orders offers best first. By default (and RankDedicated):
// dedicated machines, then most free slots, then most free memory;
// RankMemory and RankCPUs put most free memory or slots first. The freshest
// offer, then the peer ID, break ties so the order is stable.
func rankOffers(offers []wire.Offer, rank Rank, free func(o *wire.Offer) (int, uint64)) {
	slices.SortStableFunc(offers, func(a, b wire.Offer) int {
		dedicated := 0
		if a.Dedicated != b.Dedicated {
			dedicated = 1
			if a.Dedicated {
				dedicated = -1
			}
		}
		ac, am := free(&a)
		bc, bm := free(&b)
		byCPUs, byMemory := cmp.Compare(bc, ac), cmp.Compare(bm, am)
		tie := cmp.Or(b.Issued.Compare(a.Issued), strings.Compare(a.Peer, b.Peer))
		switch rank {
		case RankMemory:
			return cmp.Or(byMemory, dedicated, byCPUs, tie)
		case RankCPUs:
			return cmp.Or(byCPUs, dedicated, byMemory, tie)
		}
		return cmp.Or(dedicated, byCPUs, byMemory, tie)
	})
}

// match returns the peers to claim for a task, best first (this machine, when
// allowed, after every remote peer), and a sentence explaining every peer
// for when none accepts: "0 of 2 peers idle: a paused (owner away), c busy
// (0 of 2 slots free)".
func match(in matchInput) (cands []candidate, why string) {
	offers := make([]wire.Offer, 0, len(in.offers))
	for _, o := range in.offers {
		if o.Peer != in.self && o.Peer != "" && o.Fresh(in.now) {
			offers = append(offers, o)
		}
	}
	free := func(o *wire.Offer) (int, uint64) {
		v, ok := in.views[o.Peer]
		return freeSlots(o, v, ok, in.ours[o.Peer])
	}
	rankOffers(offers, in.rank, free)

	idle := 0
	type note struct{ name, id, text string }
	var notes []note
	for i := range offers {
		o := &offers[i]
		if o.State == wire.StateIdle {
			idle++
		}
		c, m := free(o)
		text := unfit(o, c, m, in.req)
		if text == "" && in.avoid[o.Peer] {
			text = "left out (tasks of this job failed there, or it ran the other replica)"
		}
		if v, ok := in.views[o.Peer]; text == "" && ok && v.seq == o.Seq && v.refused != "" {
			// It said no since this offer was made: wait for a new one.
			text = v.refused
		}
		if text != "" {
			notes = append(notes, note{offerName(o), o.Peer, text})
			continue
		}
		cands = append(cands, candidate{peer: o.Peer, name: offerName(o), seq: o.Seq})
	}
	slices.SortFunc(notes, func(a, b note) int { return cmp.Or(strings.Compare(a.name, b.name), strings.Compare(a.id, b.id)) })

	var parts []string
	for _, n := range notes {
		parts = append(parts, n.name+" "+n.text)
	}
	if in.local != nil {
		c, m := in.local.FreeCPUs, in.local.FreeMemoryBytes
		text := unfit(in.local, c, m, in.req)
		if text == "" {
			text = in.localNote
		}
		if text == "" {
			cands = append(cands, candidate{peer: in.local.Peer, name: offerName(in.local), local: true})
		} else {
			parts = append(parts, "this machine "+text)
		}
	}
	switch {
	case len(offers) == 0 && in.local == nil:
		why = "no other peer found yet"
	case len(offers) == 0:
		why = "no other peer found yet; " + strings.Join(parts, ", ")
	default:
		why = fmt.Sprintf("%d of %d peers idle", idle, len(offers))
		if len(parts) > 0 {
			why += ": " + strings.Join(parts, ", ")
		}
	}
	return cands, why
}
