package scavenger

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/scavenge/scavenge/peer/wire"
	"github.com/scavenge/scavenge/policy"
	"github.com/scavenge/scavenge/policy/sensor"
)

func TestDonorClaimDecisions(t *testing.T) {
	otherOS := "plan9"
	if runtime.GOOS == otherOS {
		otherOS = "linux"
	}
	otherArch := "riscv64"
	if runtime.GOARCH == otherArch {
		otherArch = "amd64"
	}
	tests := []struct {
		name  string
		opts  DonorOptions
		setup func(f *donorFixture)
		req   wire.ClaimRequest
		want  string // "" means accepted
		desk  bool   // a desk PC (not dedicated): no presence until a sample
	}{
		{name: "idle dedicated accepts", opts: enabled(DonorOptions{}), req: wire.ClaimRequest{CPUs: 1}},
		{name: "zero cpus means one", opts: enabled(DonorOptions{CPUs: 1}), req: wire.ClaimRequest{}},
		{name: "listed in accept_from", opts: enabled(DonorOptions{AcceptFrom: []string{"x", homeTestID}}), req: wire.ClaimRequest{CPUs: 1}},
		{
			name: "not allowed", opts: enabled(DonorOptions{AcceptFrom: []string{"someone-else"}}),
			req: wire.ClaimRequest{CPUs: 1}, want: "not allowed: peer home-peer is not in accept_from",
		},
		{
			name: "paused", opts: enabled(DonorOptions{}), setup: func(f *donorFixture) { f.e.Pause("lunch meeting") },
			req: wire.ClaimRequest{CPUs: 1}, want: "paused by the owner: lunch meeting",
		},
		{
			name: "resumed accepts", opts: enabled(DonorOptions{}),
			setup: func(f *donorFixture) { f.e.Pause("lunch meeting"); f.e.Resume() }, req: wire.ClaimRequest{CPUs: 1},
		},
		{
			name: "not idle before the first sample", opts: DonorOptions{Enabled: true}, desk: true,
			req: wire.ClaimRequest{CPUs: 1}, want: "not idle: waiting for the first presence sample",
		},
		{
			name: "not idle: owner active", opts: DonorOptions{Enabled: true},
			setup: func(f *donorFixture) {
				f.d.setPresence(Presence{State: wire.StateOwner, Reason: "keyboard used 3 s ago", Action: GuestKill})
			},
			req: wire.ClaimRequest{CPUs: 1}, want: "not idle: keyboard used 3 s ago",
		},
		{
			name: "idle after a donating sample", opts: DonorOptions{Enabled: true},
			setup: func(f *donorFixture) {
				f.d.setPresence(Presence{Donating: true, State: wire.StateIdle, Reason: "keyboard idle 20 min"})
			},
			req: wire.ClaimRequest{CPUs: 1},
		},
		{
			name: "disabled", opts: DonorOptions{},
			req: wire.ClaimRequest{CPUs: 1}, want: "not idle: donating is disabled in config",
		},
		{
			name: "no room for more cpus than donated", opts: enabled(DonorOptions{CPUs: 2}),
			req: wire.ClaimRequest{CPUs: 3}, want: "no room: 2 of 2 slots free",
		},
		{
			name: "no room left", opts: enabled(DonorOptions{CPUs: 2}),
			setup: func(f *donorFixture) { f.mustClaim("j1", "0", 2) },
			req:   wire.ClaimRequest{CPUs: 1}, want: "no room: 0 of 2 slots free",
		},
		{
			name: "room left", opts: enabled(DonorOptions{CPUs: 3}),
			setup: func(f *donorFixture) { f.mustClaim("j1", "0", 2) }, req: wire.ClaimRequest{CPUs: 1},
		},
		{
			name: "not enough memory", opts: enabled(DonorOptions{MemoryBytes: 1 << 30}),
			req: wire.ClaimRequest{CPUs: 1, MemoryBytes: 2 << 30}, want: "not enough memory: needs 2.0 GiB, 1.0 GiB of 1.0 GiB free",
		},
		{
			name: "memory taken by a claim", opts: enabled(DonorOptions{MemoryBytes: 1 << 30}),
			setup: func(f *donorFixture) {
				f.claim(wire.ClaimRequest{JobID: "j1", TaskID: "0", CPUs: 1, MemoryBytes: 768 << 20})
			},
			req: wire.ClaimRequest{CPUs: 1, MemoryBytes: 512 << 20}, want: "not enough memory: needs 512.0 MiB, 256.0 MiB of 1.0 GiB free",
		},
		{
			name: "wrong os", opts: enabled(DonorOptions{}),
			req: wire.ClaimRequest{CPUs: 1, OS: otherOS}, want: fmt.Sprintf("does not match: needs os %s, this is %s", otherOS, runtime.GOOS),
		},
		{
			name: "wrong arch", opts: enabled(DonorOptions{}),
			req: wire.ClaimRequest{CPUs: 1, Arch: otherArch}, want: fmt.Sprintf("does not match: needs arch %s, this is %s", otherArch, runtime.GOARCH),
		},
		{
			name: "right os and arch", opts: enabled(DonorOptions{}),
			req: wire.ClaimRequest{CPUs: 1, OS: runtime.GOOS, Arch: runtime.GOARCH},
		},
		{
			name: "missing label", opts: enabled(DonorOptions{Labels: []string{"fast"}}),
			req: wire.ClaimRequest{CPUs: 1, Labels: []string{"fast", "gpu"}}, want: "does not match: missing label gpu",
		},
		{
			name: "missing labels", opts: enabled(DonorOptions{}),
			req: wire.ClaimRequest{CPUs: 1, Labels: []string{"gpu", "cuda"}}, want: "does not match: missing labels gpu, cuda",
		},
		{
			name: "labels present", opts: enabled(DonorOptions{Labels: []string{"gpu", "fast"}}),
			req: wire.ClaimRequest{CPUs: 1, Labels: []string{"fast", "gpu"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newDonorFixture(t, tt.opts, func(o *Options) { o.Policy.Dedicated = !tt.desk })
			if tt.setup != nil {
				tt.setup(f)
			}
			tt.req.JobID, tt.req.TaskID = "job1", "0"
			resp := f.claim(tt.req)
			got := resp.Reason
			if resp.Accepted {
				got = ""
				if resp.ClaimID == "" || resp.LeaseMillis != defaultLease.Milliseconds() {
					t.Errorf("accepted with claim %q lease %d ms, want an ID and %d ms", resp.ClaimID, resp.LeaseMillis, defaultLease.Milliseconds())
				}
			} else if got == "" {
				t.Errorf("declined without a reason")
			}
			if got != tt.want {
				t.Errorf("claim: got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestDonorClaimLocalHome: this machine's own home (allow_local) is never
// refused by accept_from.
func TestDonorClaimLocalHome(t *testing.T) {
	f := newDonorFixture(t, enabled(DonorOptions{AcceptFrom: []string{"someone-else"}}))
	a, b := pipeStreams()
	go f.d.serveClaim(donorTestID, b)
	defer a.Close()
	c := wire.NewConn(a)
	if err := c.Send(&wire.ClaimRequest{JobID: "j", TaskID: "0", CPUs: 1}); err != nil {
		t.Fatal(err)
	}
	resp, err := wire.Expect[*wire.ClaimResponse](c)
	if err != nil {
		t.Fatal(err)
	}
	if !resp.Accepted {
		t.Errorf("local claim declined: %s", resp.Reason)
	}
}

// TestDonorClaimSlots: accepted claims take slots (max(1, cpus)), and an
// unused claim gives them back when its lease runs out.
func TestDonorClaimSlots(t *testing.T) {
	f := newDonorFixture(t, enabled(DonorOptions{CPUs: 3, Lease: 200 * time.Millisecond}))
	f.mustClaim("j1", "0", 0)
	f.mustClaim("j1", "1", 2)
	if got := f.d.status().Free; got != 0 {
		t.Fatalf("free after claiming 1+2 of 3: got %d, want 0", got)
	}
	if got := f.d.status().Presence.State; got != wire.StateBusy {
		t.Errorf("state with every slot claimed: got %s, want busy", got)
	}
	donorEventually(t, "unused claims to expire", func() bool { return f.d.status().Free == 3 })
	if got := f.d.status().Presence.State; got != wire.StateIdle {
		t.Errorf("state after expiry: got %s, want idle", got)
	}
}

// TestDonorClaimBadRequest: a malformed request gets an Error, not a claim.
func TestDonorClaimBadRequest(t *testing.T) {
	f := newDonorFixture(t, enabled(DonorOptions{}))
	s, err := f.home.NewStream(context.Background(), donorTestID, wire.ClaimProtocol)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := wire.NewConn(s)
	if err := c.Send(&wire.ClaimRequest{JobID: "bad id with spaces", TaskID: "0", CPUs: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := wire.Expect[*wire.ClaimResponse](c); err == nil {
		t.Fatal("a claim with a bad job ID was answered with a response, want an error")
	}
	if got := f.d.status().Free; got != 2 {
		t.Errorf("free slots after a bad request: got %d, want 2", got)
	}
}

// TestDonorOffer: the published offer follows presence (through the policy
// machine, from a fake sensor), claims and pause.
func TestDonorOffer(t *testing.T) {
	owner := &sensor.Fake{}
	owner.Set(sensor.Reading{InputIdle: 20 * time.Minute, InputKnown: true, InputSource: "test keyboard"})
	f := newDonorFixture(t, DonorOptions{Enabled: true, CPUs: 2, MemoryBytes: 4 << 30, Labels: []string{"fast"},
		Checkpoint: []string{"signal"}}, func(o *Options) {
		o.Policy = policy.Policy{IdleAfter: 10 * time.Minute, OnReturn: policy.OnReturn{Action: policy.ActionKill}}
		o.Sensor = owner
	})
	waitOffer := func(state wire.State, free int, reason string) wire.Offer {
		t.Helper()
		var o wire.Offer
		donorEventually(t, fmt.Sprintf("offer %s free %d %q", state, free, reason), func() bool {
			o, _ = f.mesh.lastOffer()
			return o.State == state && o.FreeCPUs == free && o.Reason == reason
		})
		if err := o.Validate(); err != nil {
			t.Errorf("published offer is invalid: %v", err)
		}
		return o
	}
	sample := func() string {
		f.e.presence.sample(context.Background())
		return f.e.presence.decision().Reason
	}
	o := waitOffer(wire.StateOwner, 2, "waiting for the first presence sample")
	want := wire.Offer{Version: wire.OfferVersion, Name: "donor-box", CPUs: 2, MemoryBytes: 4 << 30, FreeMemoryBytes: 4 << 30,
		OS: runtime.GOOS, Arch: runtime.GOARCH, OnReturn: "kill"}
	if o.Version != want.Version || o.Name != want.Name || o.CPUs != want.CPUs || o.MemoryBytes != want.MemoryBytes ||
		o.FreeMemoryBytes != want.FreeMemoryBytes || o.OS != want.OS || o.Arch != want.Arch || o.OnReturn != want.OnReturn ||
		len(o.Labels) != 1 || o.Labels[0] != "fast" || len(o.Checkpoint) != 1 || o.Checkpoint[0] != "signal" || o.Dedicated {
		t.Errorf("offer: got %+v, want fields of %+v with labels [fast] and checkpoint [signal]", o, want)
	}

	away := sample()
	waitOffer(wire.StateIdle, 2, away)
	f.claim(wire.ClaimRequest{JobID: "j", TaskID: "0", CPUs: 2, MemoryBytes: 1 << 30})
	o = waitOffer(wire.StateBusy, 0, "all 2 slots in use")
	if o.FreeMemoryBytes != 3<<30 {
		t.Errorf("free memory with a 1 GiB claim: got %d, want %d", o.FreeMemoryBytes, uint64(3<<30))
	}
	f.e.Pause("presentation")
	paused := f.e.presence.decision().Reason
	if !strings.Contains(paused, "presentation") {
		t.Errorf("paused reason %q does not give the owner's", paused)
	}
	waitOffer(wire.StatePaused, 2, paused) // the claim was revoked: its slots are free
	f.e.Resume()
	waitOffer(wire.StateIdle, 2, away)
	owner.Set(sensor.Reading{InputIdle: 0, InputKnown: true, InputSource: "test keyboard"})
	waitOffer(wire.StateOwner, 2, sample())
}

// TestDonorOfferReasonOnly: a change of only the offer's words ("idle for
// 12 s" -> "13 s") waits reasonRepublish; a change of state goes out at
// once. Runs on synctest's fake clock.
func TestDonorOfferReasonOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newDonorFixture(t, DonorOptions{Enabled: true})
		// The fixture's first offer may already be out, idle for another
		// reason: come back to idle from another state, which is
		// republished at once.
		synctest.Wait()
		f.d.setPresence(Presence{State: wire.StateOwner, Reason: "keyboard used", Action: GuestKill})
		synctest.Wait()
		f.d.setPresence(Presence{Donating: true, State: wire.StateIdle, Reason: "idle for 12 s"})
		synctest.Wait()
		o, seq := f.mesh.lastOffer()
		if o.State != wire.StateIdle || o.Reason != "idle for 12 s" {
			t.Fatalf("offer: got %s %q, want idle %q", o.State, o.Reason, "idle for 12 s")
		}
		f.d.setPresence(Presence{Donating: true, State: wire.StateIdle, Reason: "idle for 13 s"})
		synctest.Wait()
		if o2, seq2 := f.mesh.lastOffer(); seq2 != seq || o2.Reason != o.Reason {
			t.Errorf("after a change of words only: offer %d %q, want still %d %q", seq2, o2.Reason, seq, o.Reason)
		}
		time.Sleep(reasonRepublish + defaultLease/4)
		synctest.Wait()
		if o2, _ := f.mesh.lastOffer(); o2.Reason != "idle for 13 s" {
			t.Errorf("after %s: offer says %q, want %q", reasonRepublish, o2.Reason, "idle for 13 s")
		}
		f.d.setPresence(Presence{State: wire.StateOwner, Reason: "keyboard used", Action: GuestKill})
		synctest.Wait()
		if o2, _ := f.mesh.lastOffer(); o2.State != wire.StateOwner || o2.Reason != "keyboard used" {
			t.Errorf("after the owner returned: offer %s %q, want owner %q at once", o2.State, o2.Reason, "keyboard used")
		}
	})
}
