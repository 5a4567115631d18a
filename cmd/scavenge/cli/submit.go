package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/scavenge/scavenge/scavenger"
	"github.com/scavenge/scavenge/scavenger/client"
)

var submitCmd = &command{
	name:     "submit",
	synopsis: "[flags] -- command [args...]",
	summary:  "run a command on an idle peer and show its output",
	help: `
Runs the command on an idle peer of the swarm that meets the requirements,
printing its output as it comes (its stdout to stdout, its stderr to stderr),
and exits with the command's exit code. While no peer is idle it says why
and waits, up to --timeout. It never runs on this machine unless
--allow-local is given. Ctrl-C cancels the remote command.

The command runs in a fresh directory on the peer, with a clean
environment plus SCAVENGE_JOB_ID, SCAVENGE_TASK_ID, SCAVENGE_HOME_PEER and
SCAVENGE_HOST_PEER. --input files are copied into that directory;
files matching --output globs are copied back into --out-dir, checked by
SHA-256.

Example:
  scavenge submit --input data.csv --output 'out/*.png' -- python3 plot.py data.csv`,
	run: runSubmit,
}

// cancelReason is what the donor and `scavenge status` are told on Ctrl-C.
const cancelReason = "interrupted by the submitter"

// stopGrace bounds how long submit waits for the job's end after Ctrl-C.
const stopGrace = 5 * time.Second

func runSubmit(ctx context.Context, e *env, args []string) error {
	fs := e.flagSet()
	home := addHomeFlag(fs)
	cpus := fs.Int("cpus", 1, "`N` slots (cores) the command needs")
	var memory sizeFlag
	fs.Var(&memory, "memory", "free memory the command needs, as `SIZE` (e.g. 2GiB)")
	goos := fs.String("os", "", "run only on this `OS` (e.g. linux)")
	arch := fs.String("arch", "", "run only on this `ARCH` (e.g. amd64)")
	var labels, inputs, outputs, envs listFlag
	fs.Var(&labels, "label", "run only on peers with this `LABEL` (repeatable)")
	fs.Var(&inputs, "input", "copy `FILE` into the task directory (repeatable)")
	fs.Var(&outputs, "output", "copy back the files matching `GLOB`, relative to the task directory (repeatable)")
	outDir := fs.String("out-dir", "", "`DIR` where output files land (default ./scavenge-out/<job>)")
	fs.Var(&envs, "env", "set `K=V` in the command's environment (repeatable)")
	timeout := fs.Duration("timeout", 0, "give up when no peer is idle for this `DURATION` (default home.wait_timeout of the config)")
	allowLocal := fs.Bool("allow-local", false, "this machine may run the command too")
	detach := fs.Bool("detach", false, "print the job ID and return at once; see 'scavenge status JOB'")
	argv, err := parseCommand(fs, args)
	if err != nil {
		return err
	}
	if len(argv) == 0 {
		return usagef("no command given: scavenge submit [flags] -- command [args...]")
	}
	if *cpus < 1 {
		return usagef("--cpus %d: a command needs at least 1", *cpus)
	}
	if *timeout < 0 {
		return usagef("--timeout %s is negative", *timeout)
	}
	envMap := make(map[string]string, len(envs))
	for _, kv := range envs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return usagef("--env %q: want KEY=VALUE", kv)
		}
		envMap[k] = v
	}
	cwd, err := os.Getwd()
	if err != nil {
		return fmt.Errorf("working directory: %w", err)
	}
	// The daemon resolves nothing against its own working directory: every
	// path it gets is absolute, as the user meant it from here.
	absInputs := make([]string, len(inputs))
	for i, in := range inputs {
		p := absUnder(cwd, in)
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("--input %w", err)
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("--input %s is not a regular file", p)
		}
		absInputs[i] = p
	}
	req := scavenger.SubmitRequest{
		Argv:    argv,
		Env:     envMap,
		Inputs:  absInputs,
		Outputs: outputs,
		Cwd:     cwd,
		Requirements: scavenger.Requirements{
			CPUs:        *cpus,
			MemoryBytes: uint64(memory),
			OS:          *goos,
			Arch:        *arch,
			Labels:      labels,
		},
		WaitTimeout: *timeout,
		AllowLocal:  *allowLocal,
	}
	if *outDir != "" {
		req.OutDir = absUnder(cwd, *outDir)
	}
	dir, err := home.home(e)
	if err != nil {
		return err
	}
	c := newClient(dir)
	id, err := c.Submit(ctx, req)
	if err != nil {
		if ctx.Err() != nil {
			return &codeError{code: exitInterrupted}
		}
		return err
	}
	if *detach {
		fmt.Fprintln(e.stdout, id)
		return nil
	}
	return follow(ctx, e, c, id)
}

func absUnder(cwd, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(cwd, p)
}

// follow prints a job's events until it finishes and returns its result as
// the process's exit: the task's own exit code when it ran, 1 when it could
// not run, 130 when the user interrupted it (after cancelling it).
func follow(ctx context.Context, e *env, c *client.Client, id string) error {
	say := func(format string, args ...any) { fmt.Fprintf(e.stderr, "scavenge: "+format+"\n", args...) }
	var lastWait string
	for ev, err := range c.Events(ctx, id) {
		if err != nil {
			if ctx.Err() != nil {
				return cancelJob(e, c, id)
			}
			return fmt.Errorf("following job %s: %w (it goes on: see 'scavenge status %s')", id, err, id)
		}
		switch ev.Type {
		case scavenger.EventWaiting:
			// The scheduler repeats its reason on every change of offers;
			// say it again only when it says something new.
			if ev.Message != lastWait {
				say("%s", ev.Message)
				lastWait = ev.Message
			}
		case scavenger.EventStarted:
			lastWait = ""
			say("running on %s (%s)", ev.PeerName, shortID(ev.Peer))
		case scavenger.EventOutput:
			w := e.stdout
			if ev.Stream == "stderr" {
				w = e.stderr
			}
			if len(ev.Data) > 0 {
				w.Write(ev.Data)
			}
			if ev.Message != "" {
				say("%s", ev.Message)
			}
		case scavenger.EventRequeued:
			say("%s", orDefault(ev.Message, "requeued: it runs again on another peer"))
		case scavenger.EventGuest:
			say("on %s: %s", ev.PeerName, ev.Message)
		case scavenger.EventOutputs:
			for _, f := range ev.Files {
				say("wrote %s", f)
			}
		case scavenger.EventFinished:
			job := ev.Job
			if job == nil {
				j, err := c.Job(context.WithoutCancel(ctx), id)
				if err != nil {
					return fmt.Errorf("job %s finished, but: %w", id, err)
				}
				job = &j
			}
			return jobExit(*job)
		}
	}
	return fmt.Errorf("following job %s: the event stream ended early", id)
}

// cancelJob cancels a job after Ctrl-C and waits a little for its end, so
// the user knows whether the remote command really stopped.
func cancelJob(e *env, c *client.Client, id string) error {
	ctx, cancel := context.WithTimeout(context.Background(), stopGrace)
	defer cancel()
	fmt.Fprintf(e.stderr, "\nscavenge: cancelling job %s\n", id)
	if err := c.Cancel(ctx, id, cancelReason); err != nil {
		var apiErr *client.APIError
		if !errors.As(err, &apiErr) || apiErr.Status != 409 { // 409: it had just finished
			fmt.Fprintf(e.stderr, "scavenge: cancelling job %s: %v\n", id, err)
			return &codeError{code: exitInterrupted}
		}
	}
	for ev, err := range c.Events(ctx, id) {
		if err != nil {
			fmt.Fprintf(e.stderr, "scavenge: job %s did not confirm its end: %v\n", id, err)
			break
		}
		if ev.Type == scavenger.EventFinished && ev.Job != nil {
			fmt.Fprintf(e.stderr, "scavenge: job %s %s\n", id, ev.Job.State)
		}
	}
	return &codeError{code: exitInterrupted}
}

// jobExit turns a finished job into the command's exit.
func jobExit(j scavenger.Job) error {
	switch j.State {
	case scavenger.StateDone:
		code := 0
		for _, t := range j.Tasks {
			if c := taskExitCode(t); c != 0 && code == 0 {
				code = c
			}
		}
		for _, t := range j.Tasks {
			if t.Signal != "" {
				return &codeError{code: code, err: fmt.Errorf("job %s: the command was killed by signal %s", j.ID, t.Signal)}
			}
		}
		if code == 0 {
			return nil
		}
		return &codeError{code: code}
	case scavenger.StateCancelled:
		return fmt.Errorf("job %s was cancelled: %s", j.ID, orDefault(jobReason(j), "no reason given"))
	default:
		return fmt.Errorf("job %s %s: %s", j.ID, j.State, orDefault(jobReason(j), "no reason given"))
	}
}

// taskExitCode is a task's exit code as a shell reports it: 128+n for
// death by signal n.
func taskExitCode(t scavenger.Task) int {
	if t.Signal != "" {
		for n := 1; n < 65; n++ {
			if syscall.Signal(n).String() == t.Signal {
				return 128 + n
			}
		}
		return 1
	}
	if t.ExitCode == nil {
		return 0
	}
	if c := *t.ExitCode; c >= 0 && c < 256 {
		return c
	}
	return 1
}

// jobReason is the job's reason, else the first task's.
func jobReason(j scavenger.Job) string {
	if j.Reason != "" {
		return j.Reason
	}
	for _, t := range j.Tasks {
		if t.Reason != "" {
			return t.Reason
		}
	}
	return ""
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
