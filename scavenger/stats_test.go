package scavenger

import (
	"testing"
	"time"

	"github.com/scavenge/scavenge/policy"
)

func TestStatsHistoryAndCounters(t *testing.T) {
	s := newStatsRecorder()
	now := time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }

	s.decided(policy.Decision{State: policy.StateOwnerActive})
	now = now.Add(time.Hour)
	s.decided(policy.Decision{State: policy.StateDonating, Donate: true})
	s.decided(policy.Decision{State: policy.StateDonating, Donate: true}) // no change: not recorded
	now = now.Add(time.Hour)
	s.decided(policy.Decision{State: policy.StateOwnerBack, GuestAction: policy.ActionSuspend})
	now = now.Add(20 * time.Millisecond)
	s.reacted()
	s.guestExited(1500*time.Millisecond, true)
	s.guestExited(500*time.Millisecond, false)
	s.receivedCPU(2500)

	st := s.snapshot()
	if got := len(st.History); got != 3 {
		t.Fatalf("history has %d changes, want 3: %+v", got, st.History)
	}
	if st.State != string(policy.StateOwnerBack) {
		t.Errorf("state %q, want owner-back", st.State)
	}
	if st.TasksRun != 2 || st.TasksPreempted != 1 || st.CPUDonatedSeconds != 2 || st.CPUReceivedSeconds != 2.5 {
		t.Errorf("counters %+v", st)
	}
	if st.Reaction.Count != 1 || st.Reaction.Sum < 0.019 || st.Reaction.Sum > 0.021 {
		t.Errorf("reaction %+v, want one observation of 20ms", st.Reaction)
	}
	for i, b := range st.Reaction.Bounds {
		want := uint64(0)
		if b >= 0.02 {
			want = 1
		}
		if st.Reaction.Counts[i] != want {
			t.Errorf("bucket le=%v has %d, want %d", b, st.Reaction.Counts[i], want)
		}
	}

	// A day later only the last change before the window remains.
	now = now.Add(25 * time.Hour)
	st = s.snapshot()
	if len(st.History) != 1 || st.History[0].State != string(policy.StateOwnerBack) {
		t.Errorf("after a day: %+v, want only the last change", st.History)
	}
}

func TestStatsHistoryBounded(t *testing.T) {
	s := newStatsRecorder()
	now := time.Now()
	s.now = func() time.Time { return now }
	for i := range maxHistory + 100 {
		now = now.Add(time.Second)
		s.decided(policy.Decision{State: policy.StateIdle, Donate: i%2 == 0})
	}
	if got := len(s.snapshot().History); got != maxHistory {
		t.Errorf("history has %d changes, want the bound %d", got, maxHistory)
	}
}

func TestStatsNilRecorder(t *testing.T) {
	var s *statsRecorder
	s.decided(policy.Decision{})
	s.reacted()
	s.guestExited(time.Second, true)
	s.receivedCPU(1)
	if st := s.snapshot(); st.TasksRun != 0 || st.History == nil {
		t.Errorf("nil recorder snapshot %+v", st)
	}
}
