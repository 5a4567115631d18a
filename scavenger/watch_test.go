package scavenger

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"
)

// readAll reads ch until it closes, failing the test after a deadline.
func readAll(t *testing.T, ch <-chan Event) []Event {
	t.Helper()
	var out []Event
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				return out
			}
			out = append(out, ev)
		case <-deadline:
			t.Fatalf("watch channel still open after 10s; got %d events", len(out))
		}
	}
}

// readN reads n events from ch.
func readN(t *testing.T, ch <-chan Event, n int) []Event {
	t.Helper()
	var out []Event
	deadline := time.After(10 * time.Second)
	for len(out) < n {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("watch channel closed after %d of %d events", len(out), n)
			}
			out = append(out, ev)
		case <-deadline:
			t.Fatalf("got %d of %d events in 10s", len(out), n)
		}
	}
	return out
}

func types(evs []Event) []EventType {
	var out []EventType
	for _, ev := range evs {
		out = append(out, ev.Type)
	}
	return out
}

func TestHubReplaysThenFollows(t *testing.T) {
	h := newEventHub()
	h.publish(Event{Type: EventSubmitted, JobID: "j"})
	h.publish(Event{Type: EventStarted, JobID: "j", Peer: "a"})
	h.publish(Event{Type: EventSubmitted, JobID: "other"})

	early, ok := h.follow(context.Background(), "j")
	if !ok {
		t.Fatal("no log for a published job")
	}
	if got, want := types(readN(t, early, 2)), []EventType{EventSubmitted, EventStarted}; !reflect.DeepEqual(got, want) {
		t.Errorf("replay = %v, want %v", got, want)
	}
	h.publish(Event{Type: EventOutput, JobID: "j", Stream: "stdout", Data: []byte("hi\n")})
	h.publish(Event{Type: EventFinished, JobID: "j"})
	h.publish(Event{Type: EventOutput, JobID: "j", Data: []byte("after the end")}) // dropped

	want := []EventType{EventSubmitted, EventStarted, EventOutput, EventFinished}
	if got := types(readAll(t, early)); !reflect.DeepEqual(got, want[2:]) {
		t.Errorf("live = %v, want %v", got, want[2:])
	}
	// A watcher arriving after the end gets everything, then a closed channel.
	late, _ := h.follow(context.Background(), "j")
	evs := readAll(t, late)
	if got := types(evs); !reflect.DeepEqual(got, want) {
		t.Errorf("late watcher = %v, want %v", got, want)
	}
	if string(evs[2].Data) != "hi\n" || evs[0].Time.IsZero() {
		t.Errorf("events lost data or time: %+v", evs)
	}
	if _, ok := h.follow(context.Background(), "unknown"); ok {
		t.Error("follow of an unknown job succeeded")
	}
}

func TestHubSlowWatcherDoesNotBlock(t *testing.T) {
	h := newEventHub()
	h.publish(Event{Type: EventSubmitted, JobID: "j"})
	ctx, cancel := context.WithCancel(context.Background())
	stalled, _ := h.follow(ctx, "j") // never read until the end
	fast, _ := h.follow(context.Background(), "j")
	const n = 5000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			h.publish(Event{Type: EventOutput, JobID: "j", Data: fmt.Appendf(nil, "%d\n", i)})
		}
		h.publish(Event{Type: EventFinished, JobID: "j"})
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("publishing blocked on a watcher that does not read")
	}
	if got := len(readAll(t, fast)); got != n+2 {
		t.Errorf("fast watcher got %d events, want %d", got, n+2)
	}
	// The stalled watcher still has everything, in order, when it reads.
	evs := readN(t, stalled, n+2)
	for i, ev := range evs[1 : n+1] {
		if want := fmt.Sprintf("%d\n", i); string(ev.Data) != want {
			t.Fatalf("event %d data %q, want %q", i, ev.Data, want)
		}
	}
	cancel()
}

func TestHubCancelledWatcherCloses(t *testing.T) {
	h := newEventHub()
	h.publish(Event{Type: EventSubmitted, JobID: "j"})
	ctx, cancel := context.WithCancel(context.Background())
	ch, _ := h.follow(ctx, "j")
	readN(t, ch, 1)
	cancel()
	if evs := readAll(t, ch); len(evs) != 0 {
		t.Errorf("events after cancel: %v", types(evs))
	}
	other, _ := h.follow(context.Background(), "j")
	readN(t, other, 1)
	h.close()
	readAll(t, other) // closes on shutdown
}

func TestHubTruncatesLiveOutput(t *testing.T) {
	h := newEventHub()
	h.maxLive = 10
	h.publish(Event{Type: EventSubmitted, JobID: "j"})
	for _, s := range []string{"12345", "6789", "abcdef", "ghi"} {
		h.publish(Event{Type: EventOutput, JobID: "j", Stream: "stdout", Data: []byte(s)})
	}
	h.publish(Event{Type: EventFinished, JobID: "j"})
	ch, _ := h.follow(context.Background(), "j")
	evs := readAll(t, ch)
	var got []string
	for _, ev := range evs {
		if ev.Type == EventOutput {
			got = append(got, string(ev.Data)+ev.Message)
		}
	}
	if want := []string{"12345", "6789", truncatedNote}; !reflect.DeepEqual(got, want) {
		t.Errorf("output = %q, want %q", got, want)
	}
	if last := evs[len(evs)-1]; last.Type != EventFinished {
		t.Errorf("last event %s, want finished", last.Type)
	}
}

func TestHubEvictsOldFinishedLogs(t *testing.T) {
	h := newEventHub()
	h.maxJobs = 2
	h.maxRetained = 100
	finish := func(id string, output int) {
		h.publish(Event{Type: EventSubmitted, JobID: id})
		h.publish(Event{Type: EventOutput, JobID: id, Data: make([]byte, output)})
		h.publish(Event{Type: EventFinished, JobID: id})
	}
	h.publish(Event{Type: EventSubmitted, JobID: "running"})
	finish("a", 1)
	following, _ := h.follow(context.Background(), "a")
	finish("b", 1)
	finish("c", 1) // three finished: a goes
	if h.has("a") || !h.has("b") || !h.has("c") || !h.has("running") {
		t.Errorf("after 3 finished with a cap of 2: a=%v b=%v c=%v running=%v; want only a gone",
			h.has("a"), h.has("b"), h.has("c"), h.has("running"))
	}
	finish("big", 150) // over the byte cap: everything finished goes, the newest too
	if h.has("b") || h.has("c") || h.has("big") || !h.has("running") {
		t.Errorf("after a big log: b=%v c=%v big=%v running=%v; want only running kept",
			h.has("b"), h.has("c"), h.has("big"), h.has("running"))
	}
	if got := types(readAll(t, following)); len(got) != 3 {
		t.Errorf("a watcher of an evicted log got %v, want its 3 events", got)
	}
}
