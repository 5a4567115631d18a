package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/scavenge/scavenge/policy"
	"github.com/scavenge/scavenge/policy/sensor"
	"github.com/scavenge/scavenge/scavenger"
)

// reactionResult is, per action, the time from the sensor reporting the
// owner's input to the guest frozen, capped or gone.
type reactionResult struct {
	Trials  int                `json:"trials"`
	Actions map[string]latency `json:"actions"`
	How     map[string]string  `json:"how"` // how the donor did it, from its status
}

func reactionBenchmark() benchmark {
	var n int
	return benchmark{
		help: `Runs a busy guest on a donor whose owner sensor is a fake (the one part
that is not real: there is no keyboard here), then, trial after trial, has
the owner come back and go away again. For each action (suspend, share,
kill) it prints the time from the sensor reporting input to the effect seen
in the kernel: the guest's cgroup frozen (or the process stopped), its CPU
quota in place, its process gone.`,
		flags: func(fs *flag.FlagSet) { fs.IntVar(&n, "n", 100, "trials per action") },
		check: func() error {
			if n < 1 {
				return fmt.Errorf("--n %d: want at least 1", n)
			}
			return nil
		},
		run: func(ctx context.Context, log *slog.Logger) (benchResult, error) {
			return measureReaction(ctx, log, n)
		},
	}
}

// reactionActions are measured in this order.
var reactionActions = []policy.Action{policy.ActionSuspend, policy.ActionShare, policy.ActionKill}

func measureReaction(ctx context.Context, log *slog.Logger, n int) (*reactionResult, error) {
	res := &reactionResult{Trials: n, Actions: map[string]latency{}, How: map[string]string{}}
	for _, a := range reactionActions {
		ds, how, err := reactionTrials(ctx, log, a, n)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", a, err)
		}
		res.Actions[string(a)], res.How[string(a)] = summarize(ds), how
	}
	return res, nil
}

// reactionSetup is a home and a desk-PC donor whose owner is the fake sensor.
type reactionSetup struct {
	sw          *inprocSwarm
	home, donor *inprocPeer
	owner       *sensor.Fake
}

var (
	ownerAway = sensor.Reading{InputIdle: time.Hour, InputKnown: true, InputSource: "bench keyboard"}
	ownerBack = sensor.Reading{InputIdle: 0, InputKnown: true, InputSource: "bench keyboard"}
)

func newReactionSetup(ctx context.Context, log *slog.Logger, a policy.Action) (*reactionSetup, error) {
	sw, err := newInprocSwarm(ctx, "scavenge-bench-", log)
	if err != nil {
		return nil, err
	}
	r := &reactionSetup{sw: sw, owner: &sensor.Fake{}}
	r.owner.Set(ownerAway)
	if r.home, err = sw.add(ctx, inprocSpec{Name: "home"}); err != nil {
		return nil, joinClose(err, sw)
	}
	r.donor, err = sw.add(ctx, inprocSpec{
		Name: "desk", Bootstrap: r.home.node.Addrs(), Donate: true, Slots: 1,
		Sensor: r.owner, IdleAfter: 10 * time.Millisecond,
		OnReturn: policy.OnReturn{Action: a, Grace: 2 * time.Second, ResumeAfter: 10 * time.Millisecond,
			Share: policy.Limits{CPUs: policy.DefaultShareCPU}},
	})
	if err != nil {
		return nil, joinClose(err, sw)
	}
	if _, err := waitIdle(ctx, r.home, []*inprocPeer{r.donor}); err != nil {
		return nil, joinClose(err, sw)
	}
	return r, nil
}

// busyGuest submits a task that spins until killed and returns its pid on
// the donor once it runs: a new guest, not old (the last one killed, which
// status lists until it has exited).
func (r *reactionSetup) busyGuest(ctx context.Context, old int) (int, error) {
	if _, err := r.home.eng.Submit(ctx, scavenger.SubmitRequest{Argv: []string{"sh", "-c", "while :; do :; done"}}); err != nil {
		return 0, err
	}
	pid := 0
	err := pollUntil(ctx, 30*time.Second, func() bool {
		if gs := r.donor.eng.Status().Guests; len(gs) == 1 && gs[0].Pid > 0 && gs[0].Pid != old {
			pid = gs[0].Pid
		}
		return pid > 0
	})
	return pid, err
}

// reactionTrials measures n owner returns under action a.
func reactionTrials(ctx context.Context, log *slog.Logger, a policy.Action, n int) (ds []time.Duration, how string, err error) {
	r, err := newReactionSetup(ctx, log, a)
	if err != nil {
		return nil, "", err
	}
	defer func() { err = joinClose(err, r.sw) }()
	pid := 0
	for i := range n {
		if pid == 0 || a == policy.ActionKill {
			if pid, err = r.busyGuest(ctx, pid); err != nil {
				return nil, "", fmt.Errorf("trial %d: guest: %w", i+1, err)
			}
		}
		done := reactionDone(a, pid)
		t0 := time.Now()
		r.owner.Set(ownerBack) // notifies the presence loop, as evdev does
		if err := pollUntil(ctx, 10*time.Second, done); err != nil {
			return nil, "", fmt.Errorf("trial %d: no %s seen: %w", i+1, a, err)
		}
		ds = append(ds, time.Since(t0))
		if a != policy.ActionKill {
			// The status line is written once the kernel confirmed.
			verb := map[policy.Action]string{policy.ActionSuspend: "suspended", policy.ActionShare: "shared"}[a]
			_ = pollUntil(ctx, time.Second, func() bool {
				gs := r.donor.eng.Status().Guests
				if len(gs) == 1 && strings.HasPrefix(gs[0].Action, verb) {
					how = gs[0].Action
				}
				return strings.HasPrefix(how, verb)
			})
		}
		r.owner.Set(ownerAway)
		if a != policy.ActionKill {
			// Wait until the guest runs freely again before the next trial.
			if err := pollUntil(ctx, 10*time.Second, func() bool { return !done() }); err != nil {
				return nil, "", fmt.Errorf("trial %d: guest not resumed: %w", i+1, err)
			}
		}
	}
	if a == policy.ActionKill {
		how = "SIGTERM to the group (the guest dies at once)"
	}
	return ds, how, nil
}

// reactionDone returns the check that a's effect is in place on pid.
func reactionDone(a policy.Action, pid int) func() bool {
	switch a {
	case policy.ActionSuspend:
		return func() bool { return guestFrozen(pid) }
	case policy.ActionShare:
		return func() bool { q, ok := guestCPUQuota(pid); return ok && q < 0.5 }
	default:
		return func() bool { _, err := os.Stat("/proc/" + strconv.Itoa(pid)); return errors.Is(err, os.ErrNotExist) }
	}
}

// pollUntil checks cond every 100 µs: fine enough for a figure in
// milliseconds, cheap enough not to slow what it measures on 2 cores.
func pollUntil(ctx context.Context, limit time.Duration, cond func() bool) error {
	deadline := time.Now().Add(limit)
	for !cond() {
		if err := ctx.Err(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %s", limit)
		}
		time.Sleep(100 * time.Microsecond)
	}
	return nil
}

// guestFrozen reports whether pid's freezer cgroup is FROZEN (v1), its
// cgroup's events say frozen (v2), or else it is stopped (SIGSTOP).
func guestFrozen(pid int) bool {
	for ctrl, path := range procCgroups(pid) {
		switch {
		case ctrl == "freezer" && path != "/":
			b, _ := os.ReadFile(filepath.Join("/sys/fs/cgroup/freezer", path, "freezer.state"))
			return strings.TrimSpace(string(b)) == "FROZEN"
		case ctrl == "" && path != "/":
			if b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", path, "cgroup.events")); err == nil {
				return strings.Contains(string(b), "frozen 1")
			}
		}
	}
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	s := string(b)
	end := strings.LastIndexByte(s, ')')
	return end > 0 && len(s) > end+2 && s[end+2] == 'T'
}

// guestCPUQuota is pid's CPU cap in cores from its cgroup.
func guestCPUQuota(pid int) (float64, bool) {
	for ctrl, path := range procCgroups(pid) {
		switch {
		case (ctrl == "cpu" || ctrl == "cpu,cpuacct") && path != "/":
			dir := filepath.Join("/sys/fs/cgroup", ctrl, path)
			q, err1 := readIntFile(filepath.Join(dir, "cpu.cfs_quota_us"))
			p, err2 := readIntFile(filepath.Join(dir, "cpu.cfs_period_us"))
			if err1 == nil && err2 == nil && q > 0 && p > 0 {
				return float64(q) / float64(p), true
			}
		case ctrl == "" && path != "/":
			b, _ := os.ReadFile(filepath.Join("/sys/fs/cgroup", path, "cpu.max"))
			if f := strings.Fields(string(b)); len(f) == 2 && f[0] != "max" {
				q, _ := strconv.ParseFloat(f[0], 64)
				p, _ := strconv.ParseFloat(f[1], 64)
				return q / p, p > 0
			}
		}
	}
	return 0, false
}

// procCgroups maps controllers ("" for v2) to pid's cgroup path.
func procCgroups(pid int) map[string]string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if f := strings.SplitN(line, ":", 3); len(f) == 3 {
			out[f[1]] = f[2]
		}
	}
	return out
}

func readIntFile(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}

func (r *reactionResult) print(w io.Writer) {
	fmt.Fprintf(w, "reaction: %d owner returns per action, from the sensor reporting input to the effect in the kernel\n", r.Trials)
	fmt.Fprintf(w, "(a home and a desk-PC donor in this process; real executor, real presence loop and policy machine)\n\n")
	tw := newTable(w)
	row(tw, "", "p50", "p90", "p99", "min", "max", "mean")
	for _, a := range reactionActions {
		row(tw, append([]string{string(a)}, r.Actions[string(a)].cells()...)...)
	}
	tw.Flush()
	fmt.Fprintln(w)
	for _, a := range reactionActions {
		fmt.Fprintf(w, "%-8s %s\n", a, r.How[string(a)])
	}
}
