package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/scavenge/scavenge/scavenger"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestRenderProgress(t *testing.T) {
	base := progressCounts{Total: 50, Done: 12, Running: 4, Queued: 33, Failed: 1, Start: t0,
		Mean: 20 * time.Second, Peers: []peerLoad{{"alice", 2}, {"bob", 2}}}
	tests := []struct {
		name  string
		c     progressCounts
		now   time.Duration // after t0
		width int
		want  string
	}{
		{"wide", base, 65 * time.Second, 0,
			"[#####...............] 12/50 done, 4 running, 33 queued, 1 failed | 1m05s, ETA 3m05s | on alice:2 bob:2"},
		{"the bar shrinks to fit", base, 65 * time.Second, 95,
			"[###.........] 12/50 done, 4 running, 33 queued, 1 failed | 1m05s, ETA 3m05s | on alice:2 bob:2"},
		{"no room for a bar: the line is cut", base, 65 * time.Second, 60,
			"12/50 done, 4 running, 33 queued, 1 failed | 1m05s, ETA 3..."},
		{"no estimate before a task ends", progressCounts{Total: 3, Running: 1, Queued: 2, Start: t0, Peers: []peerLoad{{"carol", 1}}}, 4200 * time.Millisecond, 0,
			"[....................] 0/3 done, 1 running, 2 queued | 4.2s | on carol:1"},
		{"the estimate counts what the running tasks did", progressCounts{Total: 4, Done: 2, Running: 2, Start: t0, Mean: 10 * time.Second, Busy: 8 * time.Second, Peers: []peerLoad{{"a", 2}}}, 2 * time.Hour, 0,
			"[##########..........] 2/4 done, 2 running, 0 queued | 2h00m, ETA 6.0s | on a:2"},
		{"waiting", progressCounts{Total: 2, Queued: 2, Start: t0, Waiting: "no peer is idle"}, 30 * time.Second, 0,
			"[....................] 0/2 done, 0 running, 2 queued | 30s | waiting: no peer is idle"},
		{"all done", progressCounts{Total: 2, Done: 2, Start: t0, Mean: time.Second}, 3 * time.Second, 0,
			"[####################] 2/2 done, 0 running, 0 queued | 3.0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := renderProgress(tt.c, t0.Add(tt.now), tt.width)
			if got != tt.want {
				t.Errorf("got\n\t%q\nwant\n\t%q", got, tt.want)
			}
			if tt.width > 0 && len([]rune(got)) > tt.width {
				t.Errorf("%d characters, wider than %d", len([]rune(got)), tt.width)
			}
		})
	}
}

func TestShortDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-time.Second: "0.0s", 0: "0.0s", 4250 * time.Millisecond: "4.2s", 42 * time.Second: "42s",
		185 * time.Second: "3m05s", 2*time.Hour + 7*time.Minute + 30*time.Second: "2h07m",
	} {
		if got := shortDuration(d); got != want {
			t.Errorf("shortDuration(%s) = %q, want %q", d, got, want)
		}
	}
}

// jobEvents is a job of 3 tasks told as the engine tells it: task 1 is
// requeued once, task 2 exits 3, and the stream replays task 0's end.
func jobEvents() []scavenger.Event {
	zero, three := 0, 3
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	return []scavenger.Event{
		{Type: scavenger.EventSubmitted, Time: at(0)},
		{Type: scavenger.EventWaiting, Time: at(0.1), TaskID: "0", Message: "no peer is idle"},
		{Type: scavenger.EventWaiting, Time: at(0.1), TaskID: "1", Message: "no peer is idle"},
		{Type: scavenger.EventStarted, Time: at(1), TaskID: "0", Peer: "12D3KooWAAAAAAAAalice", PeerName: "alice"},
		{Type: scavenger.EventStarted, Time: at(1), TaskID: "1", Peer: "12D3KooWBBBBBBBBBBbob", PeerName: "bob"},
		{Type: scavenger.EventWaiting, Time: at(1.1), TaskID: "2", Message: "2 of 2 peers busy"},
		{Type: scavenger.EventOutput, Time: at(1.5), TaskID: "0", Stream: "stdout", Data: []byte("hello\n")},
		{Type: scavenger.EventGuest, Time: at(2), TaskID: "1", PeerName: "bob", Message: "suspended: owner returned"},
		{Type: scavenger.EventRequeued, Time: at(3), TaskID: "1", PeerName: "bob", Message: "preempted on bob: owner returned"},
		{Type: scavenger.EventTaskEnded, Time: at(5), TaskID: "0", PeerName: "alice", State: scavenger.StateDone, ExitCode: &zero},
		{Type: scavenger.EventStarted, Time: at(5), TaskID: "1", PeerName: "alice"},
		{Type: scavenger.EventStarted, Time: at(5.5), TaskID: "2", PeerName: "carol"},
		{Type: scavenger.EventOutputs, Time: at(6), TaskID: "0", Files: []string{"/out/0/r.txt"}},
		{Type: scavenger.EventTaskEnded, Time: at(7), TaskID: "2", PeerName: "carol", State: scavenger.StateDone, ExitCode: &three},
		{Type: scavenger.EventTaskEnded, Time: at(5), TaskID: "0", PeerName: "alice", State: scavenger.StateDone, ExitCode: &zero},
	}
}

func TestTaskTrackerPlainLines(t *testing.T) {
	var out bytes.Buffer
	v := &progressView{w: &out, tr: newTaskTracker(3, t0.Add(-time.Hour))}
	for _, ev := range jobEvents() {
		v.event(ev)
	}
	want := `waiting: no peer is idle
task 0 started on alice
task 1 started on bob
task 1 on bob: suspended: owner returned
task 1 requeued from bob: preempted on bob: owner returned
task 0 done in 4.0s on alice
task 1 started on alice
task 2 started on carol
task 2 failed: exit 3 on carol
`
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
	// Tasks 0 and 2 ran 4s and 1.5s; task 1 has run 1s on alice since its
	// requeue.
	c := v.tr.counts(t0.Add(6 * time.Second))
	want2 := progressCounts{Total: 3, Done: 1, Failed: 1, Running: 1, Queued: 0, Start: t0,
		Mean: 2750 * time.Millisecond, Busy: time.Second, Peers: []peerLoad{{"alice", 1}}}
	if c.Total != want2.Total || c.Done != want2.Done || c.Failed != want2.Failed || c.Running != want2.Running ||
		c.Queued != want2.Queued || !c.Start.Equal(want2.Start) || c.Mean != want2.Mean || c.Busy != want2.Busy ||
		len(c.Peers) != 1 || c.Peers[0] != want2.Peers[0] {
		t.Errorf("counts: got %+v\nwant %+v", c, want2)
	}
	// One task left, 1.75s of a mean task still to go, on 1 running.
	if eta, ok := c.ETA(); !ok || eta != 1750*time.Millisecond {
		t.Errorf("ETA: got %s %v, want 1.75s", eta, ok)
	}
}

// TestProgressViewLive draws the live line as a terminal gets it: each
// draw returns to the line's start, blanks what a longer line left, and
// a notable event is printed on a line of its own above it.
func TestProgressViewLive(t *testing.T) {
	var out bytes.Buffer
	now := t0
	v := &progressView{w: &out, tr: newTaskTracker(3, t0), live: true,
		width: func() int { return 61 }, now: func() time.Time { return now }}
	evs := jobEvents()
	step := func(evs ...scavenger.Event) string {
		out.Reset()
		for _, ev := range evs {
			v.event(ev)
		}
		v.tick()
		return out.String()
	}
	tests := []struct {
		at   time.Duration
		evs  []scavenger.Event
		want string
	}{
		// The width is 61: lines are cut at 60, the bar only where there
		// is room for it.
		{100 * time.Millisecond, evs[:3], "\r0/3 done, 0 running, 3 queued | 0.1s | waiting: no peer i..."},
		// Nothing new within a second: nothing drawn.
		{500 * time.Millisecond, nil, ""},
		// A shorter line blanks the rest of the longer one before it.
		{1100 * time.Millisecond, evs[3:6], "\r0/3 done, 2 running, 1 queued | 1.1s | on alice:1 bob:1     "},
		// A second without news: drawn again for the clock.
		{2200 * time.Millisecond, nil, "\r0/3 done, 2 running, 1 queued | 2.2s | on alice:1 bob:1"},
		{3 * time.Second, evs[6:9], "\r" + strings.Repeat(" ", 55) + "\r" + "task 1 on bob: suspended: owner returned\n" +
			"task 1 requeued from bob: preempted on bob: owner returned\n" +
			"\r[........] 0/3 done, 1 running, 2 queued | 3.0s | on alice:1"},
		{5 * time.Second, evs[9:10], "\r1/3 done, 0 running, 2 queued | 5.0s | waiting: 2 of 2 pe..."},
	}
	for i, tt := range tests {
		now = t0.Add(tt.at)
		if got := step(tt.evs...); got != tt.want {
			t.Errorf("step %d: got\n\t%q\nwant\n\t%q", i, got, tt.want)
		}
	}
	out.Reset()
	v.clear()
	if want := "\r" + strings.Repeat(" ", 60) + "\r"; out.String() != want { // the last line was 60 wide
		t.Errorf("clear: got %q, want %q", out.String(), want)
	}
}

func TestTaskSummary(t *testing.T) {
	zero, three := 0, 3
	ok := scavenger.Task{ID: "0", State: scavenger.StateDone, ExitCode: &zero, PeerName: "alice", Outputs: []string{"/o/0/r.txt"}}
	tests := []struct {
		name     string
		job      scavenger.Job
		want     string
		wantCode int
		wantErr  string
	}{
		{"all succeeded", scavenger.Job{ID: "j", State: scavenger.StateDone, Submitted: t0, Finished: t0.Add(95 * time.Second),
			Request: scavenger.SubmitRequest{OutDir: "/o"}, Tasks: []scavenger.Task{ok, ok}},
			"job j finished: 2 of 2 tasks succeeded, in 1m35s\noutputs in /o/<task>/\n", 0, ""},
		{"failures", scavenger.Job{ID: "j", State: scavenger.StateFailed, Tasks: []scavenger.Task{
			ok,
			{ID: "1", State: scavenger.StateDone, ExitCode: &three, PeerName: "bob"},
			{ID: "2", State: scavenger.StateFailed, Reason: "no idle peer within 10m"},
			{ID: "3", State: scavenger.StateDone, ExitCode: &three, Signal: "killed", Peer: "12D3KooWxxxxxxxxcarolpid"},
		}, Request: scavenger.SubmitRequest{OutDir: "/o"}},
			"job j failed: 1 of 4 tasks succeeded, 3 failed\n" +
				"  task 1 failed: exit 3 on bob\n" +
				"  task 2 failed: no idle peer within 10m\n" +
				"  task 3 failed: killed by signal killed on carolpid\n" +
				"outputs in /o/<task>/\n",
			1, "job j: 3 of 4 tasks failed"},
		{"cancelled", scavenger.Job{ID: "j", State: scavenger.StateCancelled, Tasks: []scavenger.Task{
			ok, {ID: "1", State: scavenger.StateCancelled, Reason: "interrupted by the submitter"},
		}, Request: scavenger.SubmitRequest{OutDir: "/o"}},
			"job j cancelled: 1 of 2 tasks succeeded, 1 failed\n  task 1 cancelled: interrupted by the submitter\noutputs in /o/<task>/\n",
			1, "job j was cancelled: interrupted by the submitter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := taskSummary(tt.job); got != tt.want {
				t.Errorf("summary: got\n%s\nwant\n%s", got, tt.want)
			}
			var errb bytes.Buffer
			code := exitCode(&env{stderr: &errb}, submitCmd, tasksExit(tt.job))
			if code != tt.wantCode || !strings.Contains(errb.String(), tt.wantErr) || tt.wantErr == "" && errb.Len() > 0 {
				t.Errorf("exit: got %d %q, want %d %q", code, errb.String(), tt.wantCode, tt.wantErr)
			}
		})
	}
}

func TestTaskSummaryListsAFew(t *testing.T) {
	one := 1
	j := scavenger.Job{ID: "j", State: scavenger.StateDone}
	for i := range 25 {
		j.Tasks = append(j.Tasks, scavenger.Task{ID: string(rune('a' + i)), State: scavenger.StateDone, ExitCode: &one, PeerName: "p"})
	}
	got := taskSummary(j)
	if n := strings.Count(got, "failed: exit 1 on p"); n != maxFailuresListed {
		t.Errorf("%d failures listed, want %d:\n%s", n, maxFailuresListed, got)
	}
	if !strings.Contains(got, "  ... and 15 more (see 'scavenge status j')\n") {
		t.Errorf("no count of the rest:\n%s", got)
	}
}
