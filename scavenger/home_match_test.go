package scavenger

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scavenge/scavenge/peer/wire"
)

var matchNow = time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)

// offer builds a fresh linux/amd64 offer with cpus slots, free of them free
// and 4 GiB of memory, all free; opts adjust it.
func offer(name string, state wire.State, cpus, free int, opts ...func(*wire.Offer)) wire.Offer {
	o := wire.Offer{Version: wire.OfferVersion, Peer: "id-" + name, Name: name, Seq: 1, State: state,
		CPUs: cpus, FreeCPUs: free, MemoryBytes: 4 << 30, FreeMemoryBytes: 4 << 30, OS: "linux", Arch: "amd64",
		Issued: matchNow.Add(-time.Second), Expires: matchNow.Add(time.Minute)}
	for _, f := range opts {
		f(&o)
	}
	return o
}

func reason(r string) func(*wire.Offer)  { return func(o *wire.Offer) { o.Reason = r } }
func dedicated(o *wire.Offer)            { o.Dedicated = true }
func freeMem(n uint64) func(*wire.Offer) { return func(o *wire.Offer) { o.FreeMemoryBytes = n } }
func issued(d time.Duration) func(*wire.Offer) {
	return func(o *wire.Offer) { o.Issued = matchNow.Add(-d) }
}
func labels(l ...string) func(*wire.Offer) { return func(o *wire.Offer) { o.Labels = l } }
func platform(os, arch string) func(*wire.Offer) {
	return func(o *wire.Offer) { o.OS, o.Arch = os, arch }
}

func TestMatch(t *testing.T) {
	local := offer("me", wire.StateIdle, 2, 2)
	local.Peer = "id-me"
	pausedLocal := offer("me", wire.StatePaused, 2, 2, reason("lunch"))
	pausedLocal.Peer = "id-me"
	for _, tc := range []struct {
		name  string
		in    matchInput
		want  []string // candidate names, best first
		wantW string   // the waiting sentence
	}{{
		name:  "the waiting sentence explains every peer",
		in:    matchInput{offers: []wire.Offer{offer("c", wire.StateBusy, 2, 0), offer("a", wire.StatePaused, 2, 2, reason("owner away for lunch"))}},
		wantW: "0 of 2 peers idle: a paused (owner away for lunch), c busy (0 of 2 slots free)",
	}, {
		name:  "no peers",
		wantW: "no other peer found yet",
	}, {
		name: "dedicated first, then free slots, memory, freshness",
		in: matchInput{offers: []wire.Offer{
			offer("a", wire.StateIdle, 4, 4, issued(3*time.Second)),
			offer("b", wire.StateIdle, 1, 1, dedicated),
			offer("c", wire.StateIdle, 8, 4, issued(5*time.Second), func(o *wire.Offer) { o.MemoryBytes, o.FreeMemoryBytes = 8<<30, 8<<30 }),
			offer("d", wire.StateIdle, 4, 4, issued(time.Second)),
			offer("e", wire.StateIdle, 8, 6),
		}},
		want:  []string{"b", "e", "c", "d", "a"},
		wantW: "5 of 5 peers idle",
	}, {
		name: "requirements",
		in: matchInput{req: Requirements{CPUs: 2, MemoryBytes: 2 << 30, OS: "linux", Labels: []string{"gpu", "ssd"}}, offers: []wire.Offer{
			offer("win", wire.StateIdle, 4, 4, platform("windows", "amd64"), labels("gpu", "ssd")),
			offer("nolabel", wire.StateIdle, 4, 4, labels("ssd")),
			offer("small", wire.StateIdle, 4, 1, labels("gpu", "ssd")),
			offer("lowmem", wire.StateIdle, 4, 4, labels("gpu", "ssd"), freeMem(1<<30)),
			offer("ok", wire.StateIdle, 2, 2, labels("gpu", "ssd")),
			offer("owned", wire.StateOwner, 4, 4, reason("keyboard used 3 s ago")),
		}},
		want: []string{"ok"},
		wantW: "5 of 6 peers idle: lowmem short of memory (1.0 GiB free, needs 2.0 GiB), " +
			"nolabel does not match (missing label gpu), owned not donating (keyboard used 3 s ago), " +
			"small busy (1 of 4 slots free, needs 2), win does not match (windows/amd64, needs linux)",
	}, {
		name: "arch mismatch, self, stale and unnamed offers",
		in: matchInput{self: "id-me", req: Requirements{Arch: "arm64"}, offers: []wire.Offer{
			offer("me", wire.StateIdle, 2, 2),
			offer("old", wire.StateIdle, 2, 2, func(o *wire.Offer) { o.Expires = matchNow.Add(-time.Second) }),
			offer("x86", wire.StateIdle, 2, 2),
			offer("", wire.StateIdle, 2, 2, platform("linux", "arm64"), func(o *wire.Offer) { o.Peer = "12D3KooWabcdefghijk" }),
		}},
		want:  []string{"…defghijk"},
		wantW: "2 of 2 peers idle: x86 does not match (linux/amd64, needs arm64)",
	}, {
		name: "our own claims since the offer count; older deltas do not",
		in: matchInput{offers: []wire.Offer{offer("a", wire.StateIdle, 2, 1), offer("b", wire.StateIdle, 2, 1, func(o *wire.Offer) { o.Seq = 7 })},
			views: map[string]slotView{"id-a": {seq: 1, cpus: -1}, "id-b": {seq: 6, cpus: -1}}},
		want:  []string{"b"},
		wantW: "2 of 2 peers idle: a busy (0 of 2 slots free)",
	}, {
		name: "a slot our task freed counts before the peer says so",
		in: matchInput{offers: []wire.Offer{offer("a", wire.StateBusy, 2, 0, reason("all 2 slots in use"))},
			views: map[string]slotView{"id-a": {seq: 1, cpus: 1}}},
		want:  []string{"a"},
		wantW: "0 of 1 peers idle",
	}, {
		name: "an offer older than our claims there does not free their slots",
		in: matchInput{req: Requirements{MemoryBytes: 2 << 30}, offers: []wire.Offer{
			offer("a", wire.StateIdle, 2, 2), offer("b", wire.StateIdle, 2, 2), offer("c", wire.StateIdle, 2, 1)},
			ours: map[string]slotUse{"id-a": {cpus: 2}, "id-b": {cpus: 1, memory: 3 << 30}, "id-c": {cpus: 1}}},
		want:  []string{"c"},
		wantW: "3 of 3 peers idle: a busy (0 of 2 slots free), b short of memory (1.0 GiB free, needs 2.0 GiB)",
	}, {
		name: "a refusal holds until the next offer",
		in: matchInput{offers: []wire.Offer{offer("a", wire.StateIdle, 2, 2), offer("b", wire.StateIdle, 2, 2, func(o *wire.Offer) { o.Seq = 3 })},
			views: map[string]slotView{"id-a": {seq: 1, refused: "declined (not allowed: peer …x is not in accept_from)"}, "id-b": {seq: 2, refused: "unreachable (dial)"}}},
		want:  []string{"b"},
		wantW: "2 of 2 peers idle: a declined (not allowed: peer …x is not in accept_from)",
	}, {
		name:  "this machine comes after every remote peer",
		in:    matchInput{local: &local, offers: []wire.Offer{offer("a", wire.StateIdle, 1, 1)}},
		want:  []string{"a", "me"},
		wantW: "1 of 1 peers idle",
	}, {
		name:  "this machine explained",
		in:    matchInput{local: &pausedLocal, offers: []wire.Offer{offer("a", wire.StatePaused, 1, 1)}},
		wantW: "0 of 1 peers idle: a paused, this machine paused (lunch)",
	}, {
		name:  "this machine alone, refused",
		in:    matchInput{local: &local, localNote: "declined (no room: 0 of 2 slots free)"},
		wantW: "no other peer found yet; this machine declined (no room: 0 of 2 slots free)",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.now = matchNow
			cands, why := match(tc.in)
			var got []string
			for _, c := range cands {
				got = append(got, c.name)
				if c.local != (tc.in.local != nil && c.peer == tc.in.local.Peer) {
					t.Errorf("candidate %s local = %v", c.name, c.local)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("candidates = %q, want %q", got, tc.want)
			}
			if why != tc.wantW {
				t.Errorf("why =\n  %q\nwant\n  %q", why, tc.wantW)
			}
		})
	}
}

func TestSlotAccounting(t *testing.T) {
	h := &home{views: map[string]slotView{}, ours: map[string]slotUse{}, seqs: map[string]uint64{}}
	one := Requirements{CPUs: 1, MemoryBytes: 100}
	a := candidate{peer: "a", name: "a", seq: 5}
	free := func() (int, int64, string) {
		v := h.views["a"]
		return v.cpus, v.memory, v.refused
	}
	type step struct {
		name    string
		do      func()
		cpus    int
		mem     int64
		refused string
		seq     uint64
		ours    slotUse // ours at a after the step, whatever the offers say
	}
	for _, s := range []step{
		{"reserve at seq 5", func() { h.reserveLocked(a, one) }, -1, -100, "", 5, slotUse{1, 100}},
		{"second reservation", func() { h.reserveLocked(a, one) }, -2, -200, "", 5, slotUse{2, 200}},
		{"one refused: undone, peer skipped", func() { h.releaseLocked(a, one, "declined (x)") }, -1, -100, "declined (x)", 5, slotUse{1, 100}},
		{"newer offer seen, task ends: frees against it", func() { h.seqs["a"] = 6; h.releaseLocked(a, one, "") }, 1, 100, "", 6, slotUse{}},
		{"reserve at seq 6", func() { h.reserveLocked(candidate{peer: "a", seq: 6}, one) }, 0, 0, "", 6, slotUse{1, 100}},
		{"refused against an offer newer than the claim: nothing to undo", func() {
			h.seqs["a"] = 7
			h.releaseLocked(candidate{peer: "a", seq: 6}, one, "declined (y)")
		}, 0, 0, "declined (y)", 7, slotUse{}},
		{"reserve on a newer offer drops old deltas", func() { h.reserveLocked(candidate{peer: "a", seq: 8}, one) }, -1, -100, "", 8, slotUse{1, 100}},
		{"a claim not made after all", func() { h.unreserveLocked(candidate{peer: "a", seq: 8}, one) }, 0, 0, "", 8, slotUse{}},
		{"nothing to undo against an older offer", func() {
			h.reserveLocked(candidate{peer: "a", seq: 8}, one)
			h.unreserveLocked(candidate{peer: "a", seq: 7}, one)
		}, -1, -100, "", 8, slotUse{}},
	} {
		s.do()
		cpus, mem, refused := free()
		if cpus != s.cpus || mem != s.mem || refused != s.refused || h.views["a"].seq != s.seq || h.ours["a"] != s.ours {
			t.Errorf("%s: view %+v, ours %+v; want cpus %d mem %d refused %q seq %d, ours %+v",
				s.name, h.views["a"], h.ours["a"], s.cpus, s.mem, s.refused, s.seq, s.ours)
		}
	}
	// This machine's claims in flight are counted until answered; a
	// refusal is remembered as a note.
	me := candidate{peer: "me", local: true}
	h.reserveLocked(me, one)
	if h.localClaims.cpus != 1 || h.localClaims.memory != 100 {
		t.Errorf("local claims in flight = %+v, want 1 slot and 100 bytes", h.localClaims)
	}
	h.unreserveLocked(me, one)
	h.releaseLocked(me, one, "declined (z)")
	if h.localNote != "declined (z)" || len(h.views) != 1 || len(h.ours) != 0 || h.localClaims.cpus != 0 || h.localClaims.memory != 0 {
		t.Errorf("local refusal: note %q, views %v, in flight %+v", h.localNote, h.views, h.localClaims)
	}
}

// A preempted task goes back to its own place in the queue, ahead of the
// tasks submitted after it, instead of to the end.
func TestRequeueKeepsQueuePlace(t *testing.T) {
	h := &home{e: &Engine{}}
	for _, id := range []string{"0", "1", "2", "3"} {
		h.enqueueLocked(taskKey{"j", id}, SubmitRequest{}, time.Now())
	}
	// Task 1 leaves for a donor, then is preempted and comes back.
	taken := h.queue[1]
	h.queue = slices.Delete(h.queue, 1, 2)
	h.requeueLocked(taken.key, taken.req, time.Now(), taken.order, "")
	h.enqueueLocked(taskKey{"j", "4"}, SubmitRequest{}, time.Now())
	var got []string
	for _, p := range h.queue {
		got = append(got, p.key.task)
	}
	if want := []string{"0", "1", "2", "3", "4"}; !slices.Equal(got, want) {
		t.Errorf("queue = %v, want %v", got, want)
	}
}

// A job's rank orders the peers that fit, and peers that kept failing the
// job's tasks are left out, saying why.
func TestMatchRankAndAvoid(t *testing.T) {
	offers := []wire.Offer{
		offer("pool", wire.StateIdle, 2, 1, dedicated, freeMem(1<<30)),
		offer("big", wire.StateIdle, 4, 4, freeMem(3<<30)),
		offer("roomy", wire.StateIdle, 2, 2, freeMem(4<<30)),
	}
	order := func(rank Rank, avoid map[string]bool) ([]string, string) {
		cands, why := match(matchInput{now: matchNow, self: "id-home", offers: offers, rank: rank, avoid: avoid})
		var names []string
		for _, c := range cands {
			names = append(names, c.name)
		}
		return names, why
	}
	for _, tt := range []struct {
		rank Rank
		want []string
	}{
		{RankDefault, []string{"pool", "big", "roomy"}},
		{RankCPUs, []string{"big", "roomy", "pool"}},
		{RankMemory, []string{"roomy", "big", "pool"}},
	} {
		if got, _ := order(tt.rank, nil); !slices.Equal(got, tt.want) {
			t.Errorf("rank %q: %v, want %v", tt.rank, got, tt.want)
		}
	}
	got, why := order(RankDefault, map[string]bool{"id-pool": true})
	if !slices.Equal(got, []string{"big", "roomy"}) || !strings.Contains(why, "pool left out (tasks of this job failed there") {
		t.Errorf("avoiding pool: %v (%q)", got, why)
	}
}
