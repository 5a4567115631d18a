package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/scavenge/scavenge/checkpoint"
	"github.com/scavenge/scavenge/policy"
	"github.com/scavenge/scavenge/policy/sensor"
	"github.com/scavenge/scavenge/scavenger"
)

// `scavenge demo` shows the whole system on one machine in under a minute:
// a real swarm (libp2p on loopback, private swarm key, DHT, gossipsub), real
// claims and tasks, the real executor and the real policy, with only the
// owners' keyboards faked.

const (
	demoSynopsis = "[--tasks N] [--width N] [-v]"
	demoHelp     = `Runs a small office in this process: four peers on 127.0.0.1 with a fresh
private swarm key. alice submits a batch of tasks and does not donate; bob,
carol and dave donate one slot each because their owners are away (a fake
keyboard sensor says so, and the real policy decides). Each task counts the
primes in a range of numbers by running this very executable, which alice
sends to each donor once: inputs travel by content hash.

While the tasks run, the owners come back, and each policy answers in its
own way. bob's migrates: his guest saves its progress (the task follows the
signal checkpoint protocol), exits, and its checkpoint goes home to alice,
who resumes the task on another donor from where it stopped, losing
nothing. carol's suspends: her guest is frozen while she is back for a
moment and continues when she leaves. dave's kills: his guest is stopped
and alice runs its task again elsewhere, from the start. At the end the
demo checks the total against a count made here by the same function,
prints a summary, and removes everything it made.`

	// demoIdleAfter is the donors' policy idle_after: short, so that the
	// demo's owners count as away at once.
	demoIdleAfter = 2 * time.Second
	// demoOwnerAway is how long ago the donors' owners last typed.
	demoOwnerAway = 5 * time.Minute
	// demoFlipAfter is how long a guest runs before its owner returns:
	// long enough to be visibly under way, well short of a task's length.
	demoFlipAfter = 300 * time.Millisecond
	// demoFlipAnyway makes bob's owner return even if bob got no task (a
	// tiny --tasks), so the demo always shows it.
	demoFlipAnyway = 5 * time.Second
	// demoCarolStays is how long carol's owner stays; her guest continues
	// demoResumeAfter after she left.
	demoCarolStays  = 1500 * time.Millisecond
	demoResumeAfter = time.Second
	// demoDaveStays is how long dave's owner stays; dave donates again
	// demoIdleAfter after he left.
	demoDaveStays = 500 * time.Millisecond
	// demoMigrateGrace is how long bob's guest has to save itself and
	// exit: it needs milliseconds, at idle priority on a busy machine.
	demoMigrateGrace = 5 * time.Second
	// demoTimeout bounds the whole run; it finishes in well under a minute.
	demoTimeout = 3 * time.Minute
)

func init() {
	register(&command{
		name:     "demo",
		synopsis: demoSynopsis,
		summary:  "watch four peers in this process share a batch of tasks",
		help:     demoHelp,
		main:     runDemo,
	})
	register(&command{
		name:     "demo-primes",
		synopsis: "LO HI",
		summary:  "count the primes in [LO, HI): the demo's task",
		hidden:   true,
		main:     runPrimes,
	})
}

// demo is one run of `scavenge demo`.
type demo struct {
	out   io.Writer
	log   *slog.Logger
	tasks int
	width uint64
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("scavenge demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		printCommandUsage(fs.Output(), &command{name: "demo", synopsis: demoSynopsis, help: demoHelp}, fs)
	}
	d := demo{out: stdout}
	fs.IntVar(&d.tasks, "tasks", 12, "number of tasks")
	fs.Uint64Var(&d.width, "width", 600_000_000, "numbers per task: a task takes about a second per 600,000,000 on an idle core")
	verbose := fs.Bool("v", false, "log what the peers do to stderr")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	switch {
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "scavenge demo: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	case d.tasks < 1 || d.tasks > 1000:
		fmt.Fprintf(stderr, "scavenge demo: --tasks %d: want 1 to 1000\n", d.tasks)
		return exitUsage
	case d.width < 1 || d.width > maxPrimesRange/uint64(d.tasks):
		fmt.Fprintf(stderr, "scavenge demo: --width %d: want 1 to %d for %d tasks\n", d.width, uint64(maxPrimesRange)/uint64(d.tasks), d.tasks)
		return exitUsage
	}
	d.log = slog.New(slog.DiscardHandler)
	if *verbose {
		d.log = slog.New(slog.NewTextHandler(stderr, nil))
	}
	ok, err := d.run(ctx)
	switch {
	case err != nil && ctx.Err() != nil:
		fmt.Fprintln(stderr, "scavenge demo: interrupted")
		return exitInterrupted
	case err != nil:
		fmt.Fprintf(stderr, "scavenge demo: %v\n", err)
		return exitError
	case !ok:
		return exitError
	}
	return exitOK
}

// demoTask is one range of numbers and what became of it.
type demoTask struct {
	n      int
	lo, hi uint64
	job    string

	peer      string // where the current or last attempt runs
	startedAt time.Time
	stdout    strings.Builder
	stderr    strings.Builder // of this attempt, up to its last full line
	preempted []string        // peers it was stopped on
	movedFrom []string        // peers it left with its checkpoint
	saved     *primeProgress  // where it last saved itself
	resumed   *primeProgress  // where the guest said it resumed

	final    *scavenger.Job
	count    uint64
	countErr error
}

// rangeText is the task's range as the output shows it.
func (t *demoTask) rangeText() string { return fmt.Sprintf("[%d, %d)", t.lo, t.hi) }

// demoEvent is a job event tagged with its task.
type demoEvent struct {
	t  *demoTask
	ev scavenger.Event
}

// run builds the swarm, runs the batch and reports; ok is false when a task
// failed or the total does not match.
func (d *demo) run(ctx context.Context) (ok bool, err error) {
	ctx, cancel := context.WithTimeoutCause(ctx, demoTimeout, fmt.Errorf("the demo did not finish in %s", demoTimeout))
	defer cancel()

	sw, err := newInprocSwarm(ctx, "scavenge-demo-", d.log)
	if err != nil {
		return false, err
	}
	peers := 0
	defer func() {
		cerr := sw.close()
		if cerr != nil {
			err = errors.Join(err, fmt.Errorf("clean up: %w", cerr))
			return
		}
		d.printf("\ncleaned up: %d peers stopped, %s removed\n", peers, sw.dir)
	}()
	d.printf("scavenge demo: 4 peers in this process on 127.0.0.1, fresh private swarm key in %s\n", sw.dir)

	alice, err := sw.add(ctx, inprocSpec{Name: "alice", Meter: true})
	if err != nil {
		return false, err
	}
	peers++
	d.printf("  %-5s  %s  home: submits the tasks, does not donate\n", alice.name, alice.node.ID())
	var donors []*inprocPeer
	for _, name := range []string{"bob", "carol", "dave"} {
		s := &sensor.Fake{}
		s.Set(sensor.Reading{InputIdle: demoOwnerAway, InputKnown: true, InputSource: name + "'s keyboard"})
		spec := inprocSpec{
			Name:      name,
			Bootstrap: alice.node.Addrs(),
			Donate:    true,
			Slots:     1,
			Sensor:    s,
			IdleAfter: demoIdleAfter,
		}
		policyWords := "kills guests when the owner returns"
		switch name {
		case "bob":
			spec.OnReturn = policy.OnReturn{Action: policy.ActionMigrate, Fallback: policy.ActionKill, Grace: demoMigrateGrace}
			policyWords = "migrates guests when the owner returns"
		case "carol":
			spec.OnReturn = policy.OnReturn{Action: policy.ActionSuspend, ResumeAfter: demoResumeAfter}
			policyWords = "suspends guests when the owner returns"
		}
		m, err := sw.add(ctx, spec)
		if err != nil {
			return false, err
		}
		peers++
		donors = append(donors, m)
		d.printf("  %-5s  %s  donor, 1 slot: owner away (keyboard last used %s ago); %s\n", m.name, m.node.ID(), demoOwnerAway, policyWords)
	}
	took, err := waitIdle(ctx, alice, donors)
	if err != nil {
		return false, err
	}
	d.printf("alice sees bob, carol and dave idle %s after they started\n\n", took.Round(time.Millisecond))

	prog, size, sum, err := d.copyProgram(sw.dir)
	if err != nil {
		return false, err
	}
	d.printf("task program: this executable, %s, sha256 %s…: sent as an input, cached by hash\n", mb(size), sum[:12])
	d.printf("submitting %d tasks: count the primes in [0, %d), %d numbers each\n\n", d.tasks, uint64(d.tasks)*d.width, d.width)

	byID := map[string]string{}
	for _, m := range append([]*inprocPeer{alice}, donors...) {
		byID[m.node.ID()] = m.name
	}
	b, err := d.batch(ctx, sw, alice, donors[0], donors[1], donors[2], prog)
	if err != nil {
		return false, err
	}
	localStart := time.Now()
	want, err := countRanges(ctx, b.tasks)
	if err != nil {
		return false, fmt.Errorf("local check: %w", err)
	}
	local := time.Since(localStart)
	return d.report(b, want, byID, alice.meter.Sent(), size, local), nil
}

// copyProgram copies this executable into the swarm dir as "scavenge" (the
// name the tasks run it by) and returns its path, size and SHA-256.
func (d *demo) copyProgram(dir string) (path string, size int64, sum string, err error) {
	exe, err := os.Executable()
	if err != nil {
		return "", 0, "", fmt.Errorf("find this executable: %w", err)
	}
	in, err := os.Open(exe)
	if err != nil {
		return "", 0, "", fmt.Errorf("task program: %w", err)
	}
	defer in.Close()
	if err := os.Mkdir(filepath.Join(dir, "program"), 0o700); err != nil {
		return "", 0, "", fmt.Errorf("task program: %w", err)
	}
	path = filepath.Join(dir, "program", "scavenge")
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return "", 0, "", fmt.Errorf("task program: %w", err)
	}
	h := sha256.New()
	size, err = io.Copy(io.MultiWriter(out, h), in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", 0, "", fmt.Errorf("copy %s to %s: %w", exe, path, err)
	}
	return path, size, hex.EncodeToString(h.Sum(nil)), nil
}

// demoBatch is what happened to the batch, for the summary.
type demoBatch struct {
	tasks     []*demoTask
	start     time.Time // the first Submit
	wall      time.Duration
	bobBack   time.Time // bob's owner came back
	bobLeft   time.Time // and his guest left with its checkpoint
	carolBack time.Time // carol's owner came back
	carolLeft time.Time // and left again
	suspended time.Time // carol's guest was frozen
	resumed   time.Time // and continued
	daveBack  time.Time // dave's owner came back
	daveLeft  time.Time // and left again
	killed    time.Time // dave's guest was stopped and its task requeued
}

// batch submits the tasks from alice, prints each event worth seeing,
// brings the donors' owners back while their guests run, and returns when
// every task has finished.
func (d *demo) batch(ctx context.Context, sw *inprocSwarm, alice, bob, carol, dave *inprocPeer, prog string) (*demoBatch, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	b := &demoBatch{start: time.Now()}
	for i := range d.tasks {
		b.tasks = append(b.tasks, &demoTask{n: i + 1, lo: uint64(i) * d.width, hi: uint64(i+1) * d.width})
	}
	events := make(chan demoEvent, 64)
	submitted := make(chan error, 1)
	var wg sync.WaitGroup
	defer wg.Wait() // after cancel: the submitter and forwarders stop
	// Submit in the background, so that the first tasks show as they start.
	wg.Go(func() {
		for _, t := range b.tasks {
			err := d.submit(ctx, alice, t, prog, filepath.Join(sw.dir, "out", strconv.Itoa(t.n)), events, &wg)
			if err != nil {
				submitted <- err
				return
			}
		}
		submitted <- nil
	})

	// keyboard sets who's keyboard as a real sensor reads it: used just
	// now while the owner is back, else when they left.
	keyboard := func(who *inprocPeer, left time.Time) {
		idle := time.Duration(0)
		if !left.IsZero() {
			idle = time.Since(left)
		}
		who.sensor.Set(sensor.Reading{InputIdle: idle, InputKnown: true, InputSource: who.name + "'s keyboard"})
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var firstStart time.Time
	for left := len(b.tasks); left > 0; {
		var e demoEvent
		select {
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case err := <-submitted:
			if err != nil {
				return nil, err
			}
			d.printf("%6.2fs  all %d tasks submitted\n", time.Since(b.start).Seconds(), len(b.tasks))
			continue
		case <-tick.C:
			now := time.Since(b.start).Seconds()
			if b.bobBack.IsZero() && d.bobsTurn(b.tasks, bob, firstStart) {
				b.bobBack = time.Now()
				keyboard(bob, time.Time{})
				d.printf("%6.2fs  bob's owner is back (keyboard used just now): his guest must leave, with its work\n", now)
			}
			switch {
			case b.carolBack.IsZero() && !b.bobBack.IsZero() && d.runsLong(b.tasks, carol):
				b.carolBack = time.Now()
				keyboard(carol, time.Time{})
				d.printf("%6.2fs  carol's owner is back for a moment (keyboard used just now)\n", now)
			case !b.carolBack.IsZero() && b.carolLeft.IsZero() && time.Since(b.carolBack) >= demoCarolStays:
				b.carolLeft = time.Now()
				d.printf("%6.2fs  carol's owner left again\n", now)
			}
			if !b.carolLeft.IsZero() {
				keyboard(carol, b.carolLeft)
			}
			// dave's turn comes after the others', so that each answer
			// shows on its own, and never on a task that moved: killing
			// that would muddle the migration's story.
			switch {
			case b.daveBack.IsZero() && !b.bobLeft.IsZero() && (!b.carolLeft.IsZero() || time.Since(firstStart) >= demoFlipAnyway) &&
				d.runsLong(b.tasks, dave):
				b.daveBack = time.Now()
				keyboard(dave, time.Time{})
				d.printf("%6.2fs  dave's owner is back for a moment (keyboard used just now)\n", now)
			case !b.daveBack.IsZero() && b.daveLeft.IsZero() && time.Since(b.daveBack) >= demoDaveStays:
				b.daveLeft = time.Now()
				d.printf("%6.2fs  dave's owner left again: dave donates again once his keyboard has been idle %s\n", now, demoIdleAfter)
			}
			if !b.daveLeft.IsZero() {
				keyboard(dave, b.daveLeft)
			}
			continue
		case e = <-events:
		}
		t, ev := e.t, e.ev
		at := ev.Time.Sub(b.start).Seconds()
		switch ev.Type {
		case scavenger.EventStarted:
			t.peer = ev.PeerName
			if t.peer == "" {
				t.peer = shortID(ev.Peer)
			}
			t.startedAt = time.Now()
			t.stdout.Reset()
			t.stderr.Reset()
			if firstStart.IsZero() {
				firstStart = t.startedAt
			}
			d.printf("%6.2fs  task %2d  %-25s  → %s\n", at, t.n, t.rangeText(), t.peer)
		case scavenger.EventOutput:
			switch ev.Stream {
			case "stdout":
				t.stdout.Write(ev.Data)
			case "stderr":
				t.stderr.Write(ev.Data)
				d.guestSays(t, at)
			}
		case scavenger.EventRequeued:
			if strings.HasPrefix(ev.Message, "migrated from ") {
				t.movedFrom = append(t.movedFrom, t.peer)
				if b.bobLeft.IsZero() && t.peer == bob.name {
					b.bobLeft = ev.Time
				}
				d.printf("%6.2fs  task %2d  its checkpoint is home at alice: it resumes on the next free donor\n", at, t.n)
			} else {
				if t.peer != "" {
					t.preempted = append(t.preempted, t.peer)
				}
				if b.killed.IsZero() && t.peer == dave.name && !b.daveBack.IsZero() {
					b.killed = ev.Time
				}
				d.printf("%6.2fs  task %2d  requeued: %s\n", at, t.n, ev.Message)
			}
			t.peer = ""
		case scavenger.EventGuest:
			state, how, _ := strings.Cut(ev.Message, ": ")
			switch {
			case state == "suspended" && b.suspended.IsZero():
				b.suspended = ev.Time
			case state == "running" && !b.suspended.IsZero() && b.resumed.IsZero():
				b.resumed = ev.Time
			}
			what, _, _ := strings.Cut(how, ": ") // "suspended (cgroup v1 freezer)", "resumed"
			if what == "" {
				continue
			}
			d.printf("%6.2fs  task %2d  %s on %s\n", at, t.n, what, ev.PeerName)
		case scavenger.EventFinished:
			left--
			t.final = ev.Job
			d.finish(t, at)
		}
	}
	b.wall = time.Since(b.start)
	return b, nil
}

// guestSays prints what t's guest said on stderr about saving and
// resuming itself, one full line at a time.
func (d *demo) guestSays(t *demoTask, at float64) {
	for {
		s := t.stderr.String()
		line, rest, ok := strings.Cut(s, "\n")
		if !ok {
			return
		}
		t.stderr.Reset()
		t.stderr.WriteString(rest)
		what, p, ok := parsePrimesLine(line)
		if !ok {
			continue
		}
		done := p.done()
		switch what {
		case "saved":
			t.saved = &p
			d.printf("%6.2fs  task %2d  %s's guest saved itself at %s (%.0f%% of its range done, %s primes so far) and exits\n",
				at, t.n, t.peer, thousands(p.Next), 100*done, thousands(p.Count))
		case "resumed":
			t.resumed = &p
			lost := "nothing lost"
			if t.saved != nil && *t.saved != p {
				lost = fmt.Sprintf("it had saved %s", thousands(t.saved.Next))
			}
			d.printf("%6.2fs  task %2d  resumed on %s from %s with %s primes already counted: %s\n",
				at, t.n, t.peer, thousands(p.Next), thousands(p.Count), lost)
		}
	}
}

// submit submits t's job and forwards its events to events until the job
// finishes or ctx ends. t.job is set before any event of it is sent.
func (d *demo) submit(ctx context.Context, alice *inprocPeer, t *demoTask, prog, outDir string,
	events chan<- demoEvent, wg *sync.WaitGroup) error {
	id, err := alice.eng.Submit(ctx, scavenger.SubmitRequest{
		Argv:         []string{"./scavenge", "demo-primes", strconv.FormatUint(t.lo, 10), strconv.FormatUint(t.hi, 10)},
		Inputs:       []string{prog},
		OutDir:       outDir,
		Requirements: scavenger.Requirements{CPUs: 1},
		WaitTimeout:  demoTimeout,
		// demo-primes saves itself when asked: bob's guest can move.
		Checkpoint: checkpoint.Signal,
	})
	if err != nil {
		return fmt.Errorf("submit task %d: %w", t.n, err)
	}
	t.job = id
	ch, err := alice.eng.Watch(ctx, id)
	if err != nil {
		return fmt.Errorf("watch task %d (job %s): %w", t.n, id, err)
	}
	wg.Go(func() {
		for ev := range ch {
			select {
			case events <- demoEvent{t, ev}:
			case <-ctx.Done():
				return
			}
		}
	})
	return nil
}

// runsLong says whether peer has been running a task for demoFlipAfter,
// one that has not moved (a moved task shows migration; the others'
// answers are shown on tasks of their own).
func (d *demo) runsLong(tasks []*demoTask, peer *inprocPeer) bool {
	for _, t := range tasks {
		if t.peer == peer.name && t.final == nil && len(t.movedFrom) == 0 && time.Since(t.startedAt) >= demoFlipAfter {
			return true
		}
	}
	return false
}

// bobsTurn says when bob's owner comes back: once bob's guest has been
// running a while, or (when bob got no task) some seconds into the batch.
func (d *demo) bobsTurn(tasks []*demoTask, bob *inprocPeer, firstStart time.Time) bool {
	return d.runsLong(tasks, bob) || (!firstStart.IsZero() && time.Since(firstStart) >= demoFlipAnyway)
}

// finish records a finished task's result and prints it.
func (d *demo) finish(t *demoTask, at float64) {
	j := t.final
	if j == nil || len(j.Tasks) == 0 {
		t.countErr = errors.New("the job record has no task")
		d.printf("%6.2fs  task %2d  %v\n", at, t.n, t.countErr)
		return
	}
	rec := j.Tasks[0]
	if rec.PeerName != "" {
		t.peer = rec.PeerName
	}
	took := ""
	if !rec.Started.IsZero() && !rec.Finished.IsZero() {
		took = fmt.Sprintf(" (%s)", rec.Finished.Sub(rec.Started).Round(10*time.Millisecond))
	}
	switch {
	case rec.State != scavenger.StateDone:
		t.countErr = fmt.Errorf("%s: %s", rec.State, firstNonEmpty(rec.Reason, j.Reason))
	case rec.ExitCode == nil || *rec.ExitCode != 0:
		t.countErr = fmt.Errorf("exit code %s, signal %q", exitText(rec.ExitCode), rec.Signal)
	default:
		n, err := strconv.ParseUint(strings.TrimSpace(t.stdout.String()), 10, 64)
		if err != nil {
			t.countErr = fmt.Errorf("output %q is not a count", truncate(t.stdout.String(), 80))
		}
		t.count = n
	}
	if t.countErr != nil {
		d.printf("%6.2fs  task %2d  FAILED on %s: %v\n", at, t.n, firstNonEmpty(t.peer, "no peer"), t.countErr)
		return
	}
	d.printf("%6.2fs  task %2d  done on %s: %d primes%s\n", at, t.n, t.peer, t.count, took)
}

// countRanges counts each task's range here, on every core, with the same
// function the guests ran: the reference the results are checked against.
func countRanges(ctx context.Context, tasks []*demoTask) ([]uint64, error) {
	want := make([]uint64, len(tasks))
	errs := make([]error, len(tasks))
	work := make(chan int)
	var wg sync.WaitGroup
	for range runtime.NumCPU() {
		wg.Go(func() {
			for i := range work {
				want[i], errs[i] = countPrimes(ctx, tasks[i].lo, tasks[i].hi)
			}
		})
	}
	for i := range tasks {
		work <- i
	}
	close(work)
	wg.Wait()
	return want, errors.Join(errs...)
}

// report prints the results and the summary; it returns false when any task
// failed or disagrees with the local count.
func (d *demo) report(b *demoBatch, want []uint64, byID map[string]string, sent map[string]int64,
	progSize int64, local time.Duration) bool {
	tasks := b.tasks
	d.printf("\nresults\n")
	var got, total uint64
	ok := true
	done, stopped, moved := map[string]int{}, map[string]int{}, map[string]int{}
	preemptions := 0
	var killedLost time.Duration
	var movers []*demoTask
	tw := newTable(d.out)
	row(tw, "  task", "range", "primes", "ran on", "check")
	for i, t := range tasks {
		total += want[i]
		check := "OK"
		switch {
		case t.countErr != nil:
			check, ok = "FAILED: "+t.countErr.Error(), false
		case t.count != want[i]:
			check, ok = fmt.Sprintf("MISMATCH: counted here %d", want[i]), false
		default:
			got += t.count
			done[t.peer]++
		}
		where := firstNonEmpty(t.peer, "-")
		for _, p := range t.preempted {
			stopped[p]++
			where += " (stopped on " + p + " first)"
		}
		for _, p := range t.movedFrom {
			moved[p]++
			where += " (moved from " + p + ")"
		}
		if t.final != nil && len(t.final.Tasks) > 0 {
			rec := t.final.Tasks[0]
			preemptions += rec.Preemptions
			if rec.Moves > 0 {
				movers = append(movers, t)
			} else {
				killedLost += rec.WorkLost
			}
		}
		row(tw, fmt.Sprintf("  %d", t.n), t.rangeText(), strconv.FormatUint(t.count, 10), where, check)
	}
	tw.Flush()

	d.printf("\nsummary\n")
	verdict := "OK"
	if !ok || got != total {
		verdict, ok = "MISMATCH", false
	}
	tw = newTable(d.out)
	row(tw, "  primes", fmt.Sprintf("in [0, %d): %d from the swarm, %d counted here by the same function: %s",
		uint64(len(tasks))*d.width, got, total, verdict))
	var counts []string
	for _, n := range []string{"bob", "carol", "dave"} {
		c := fmt.Sprintf("%s %d", n, done[n])
		var notes []string
		if moved[n] > 0 {
			notes = append(notes, fmt.Sprintf("%d moved away", moved[n]))
		}
		if stopped[n] > 0 {
			notes = append(notes, fmt.Sprintf("%d stopped", stopped[n]))
		}
		if len(notes) > 0 {
			c += " (" + strings.Join(notes, ", ") + " when the owner came back)"
		}
		counts = append(counts, c)
	}
	row(tw, "  tasks per peer", strings.Join(counts, ", "))
	// Each answer to an owner's return, in the order of the story: the
	// work each kept or lost comes from alice's task records.
	for i, t := range movers {
		rec := t.final.Tasks[0]
		label := ""
		if i == 0 {
			label = "  migrations"
		}
		from := ""
		if t.saved != nil {
			from = fmt.Sprintf(" at %.0f%%", 100*t.saved.done())
		}
		when := ""
		if i == 0 && !b.bobBack.IsZero() && !b.bobLeft.IsZero() {
			when = fmt.Sprintf(" %s after his owner came back", b.bobLeft.Sub(b.bobBack).Round(time.Millisecond))
		}
		row(tw, label, fmt.Sprintf("task %d moved %d× (%s → %s): saved itself%s and left%s, resumed where it stopped; work lost %s",
			t.n, rec.Moves, strings.Join(t.movedFrom, " → "), rec.PeerName, from, when, rec.WorkLost.Round(time.Millisecond)))
	}
	if !b.suspended.IsZero() && !b.resumed.IsZero() {
		row(tw, "  suspensions", fmt.Sprintf("carol's guest frozen %s after her owner came back, continued %s after she left; no work lost",
			b.suspended.Sub(b.carolBack).Round(time.Millisecond), b.resumed.Sub(b.carolLeft).Round(time.Millisecond)))
	}
	stop := ""
	if !b.daveBack.IsZero() && !b.killed.IsZero() {
		stop = fmt.Sprintf(": dave's guest stopped and its task requeued %s after his owner came back; it ran again from the start",
			b.killed.Sub(b.daveBack).Round(time.Millisecond))
	}
	row(tw, "  preemptions", fmt.Sprintf("%d%s; work lost %s", preemptions, stop, killedLost.Round(time.Millisecond)))
	row(tw, "  wall time", fmt.Sprintf("%s for the batch on the swarm; the local check took %s on %d cores",
		b.wall.Round(10*time.Millisecond), local.Round(10*time.Millisecond), runtime.NumCPU()))
	ids := make([]string, 0, len(sent))
	for id := range sent {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b string) int { return strings.Compare(byID[a], byID[b]) })
	var parts []string
	var all int64
	for _, id := range ids {
		all += sent[id]
		parts = append(parts, fmt.Sprintf("%s %s (%d× the program)",
			firstNonEmpty(byID[id], shortID(id)), mb(sent[id]), sent[id]/max(progSize, 1)))
	}
	row(tw, "  task bytes sent", fmt.Sprintf("%s in all for %d tasks: %s", mb(all), len(tasks), strings.Join(parts, ", ")))
	row(tw, "", fmt.Sprintf("the %s program goes to each donor once, then comes from its cache", mb(progSize)))
	tw.Flush()
	return ok
}

func (d *demo) printf(format string, args ...any) { fmt.Fprintf(d.out, format, args...) }

// mb formats a byte count in megabytes (10^6), as transfer sizes are read.
func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }

func exitText(code *int) string {
	if code == nil {
		return "none"
	}
	return strconv.Itoa(*code)
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// thousands formats n with commas, as the narration reads large numbers.
func thousands(n uint64) string {
	s := strconv.FormatUint(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
