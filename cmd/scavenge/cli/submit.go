package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/scavenge/scavenge/config"
	"github.com/scavenge/scavenge/scavenger"
	"github.com/scavenge/scavenge/scavenger/client"
)

var submitCmd = &command{
	name:     "submit",
	synopsis: "[flags] -- command [args...] | [flags] JOB.toml",
	summary:  "run a command, or a job file's tasks, on idle peers",
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

With --count N the command runs N times as the tasks of one job, {index}
in its arguments, --input, --output and --env values becoming 0 .. N-1.
A job file (a .toml file, see the README) describes a job of many tasks:
a count, a sweep over parameter values or a list of tasks, with inputs,
outputs, requirements, retries and timeouts. Flags other than --home,
--dry-run, --detach, --allow-local, --timeout and --out-dir belong in the
file. Tasks run in parallel on as many peers as are idle; a live line
shows done, running, queued and failed tasks (plain lines when stdout is
not a terminal); their output goes to the job's logs ('scavenge logs JOB
TASK'). The exit code is 0 when every task exited 0, else 1.

--dry-run checks everything (the file, the input files) and prints the
tasks that would run, without submitting anything.

Examples:
  scavenge submit --input data.csv --output 'out/*.png' -- python3 plot.py data.csv
  scavenge submit --count 10 --output 'r.txt' -- sh -c 'seq {index} > r.txt'
  scavenge submit --dry-run render.toml`,
	run: runSubmit,
}

// cancelReason is what the donor and `scavenge status` are told on Ctrl-C.
const cancelReason = "interrupted by the submitter"

// stopGrace bounds how long submit waits for the job's end after Ctrl-C.
const stopGrace = 5 * time.Second

// submitFlags are submit's flags.
type submitFlags struct {
	home                    *homeFlag
	name                    string
	cpus                    int
	memory                  sizeFlag
	goos, arch              string
	labels, inputs, outputs listFlag
	envs                    listFlag
	outDir                  string
	timeout, taskTimeout    time.Duration
	count, retries          int
	replicas                int
	rank                    string
	allowLocal, detach, dry bool
	checkpoint              string
	checkpointEvery         time.Duration
}

// jobFileFlags may go with a job file: they say how to submit it, not
// what the job is. Every other flag has its key in the file.
var jobFileFlags = []string{"home", "dry-run", "detach", "allow-local", "timeout", "out-dir"}

func addSubmitFlags(fs *flag.FlagSet) *submitFlags {
	f := &submitFlags{home: addHomeFlag(fs)}
	fs.StringVar(&f.name, "name", "", "the job's `NAME` in status (default the command)")
	fs.IntVar(&f.cpus, "cpus", 1, "`N` slots (cores) the command needs")
	fs.Var(&f.memory, "memory", "free memory the command needs, as `SIZE` (e.g. 2GiB)")
	fs.StringVar(&f.goos, "os", "", "run only on this `OS` (e.g. linux)")
	fs.StringVar(&f.arch, "arch", "", "run only on this `ARCH` (e.g. amd64)")
	fs.Var(&f.labels, "label", "run only on peers with this `LABEL` (repeatable)")
	fs.Var(&f.inputs, "input", "copy `FILE` into the task directory (repeatable)")
	fs.Var(&f.outputs, "output", "copy back the files matching `GLOB`, relative to the task directory (repeatable)")
	fs.StringVar(&f.outDir, "out-dir", "", "`DIR` where output files land (default ./scavenge-out/<job>)")
	fs.Var(&f.envs, "env", "set `K=V` in the command's environment (repeatable)")
	fs.DurationVar(&f.timeout, "timeout", 0, "give up when no peer is idle for this `DURATION` (default home.wait_timeout of the config)")
	fs.IntVar(&f.count, "count", 0, "run the command as `N` tasks, {index} in it becoming 0 .. N-1")
	fs.IntVar(&f.retries, "retries", 0, "run a task that exits non-zero again, up to `N` times")
	fs.DurationVar(&f.taskTimeout, "task-timeout", 0, "stop a task running longer than `DURATION` and count it failed")
	fs.IntVar(&f.replicas, "replicas", 1, "`N`=2 runs each task on two peers and compares their results")
	fs.StringVar(&f.rank, "rank", "", "try matching peers in `RANK` order: dedicated, memory or cpus (default dedicated, then free cores)")
	fs.BoolVar(&f.allowLocal, "allow-local", false, "this machine may run the command too")
	fs.StringVar(&f.checkpoint, "checkpoint", "", "keep a task's work when it moves: `BACKEND` criu, signal or none (default none)")
	fs.DurationVar(&f.checkpointEvery, "checkpoint-every", 0, "also checkpoint running tasks every `DURATION` (default: the donor's)")
	fs.BoolVar(&f.detach, "detach", false, "print the job ID and return at once; see 'scavenge status JOB'")
	fs.BoolVar(&f.dry, "dry-run", false, "check the job and print its tasks; submit nothing")
	return f
}

func runSubmit(ctx context.Context, e *env, args []string) error {
	fs := e.flagSet()
	f := addSubmitFlags(fs)
	argv, err := parseCommand(fs, args)
	if err != nil {
		return err
	}
	cwd, err := os.Getwd()
	if err != nil {
		return fmt.Errorf("working directory: %w", err)
	}
	var plan *submitPlan
	if file, isFile := jobFileArg(args, argv); isFile {
		plan, err = f.planFile(fs, file, argv[1:], cwd)
	} else {
		plan, err = f.planCommand(argv, cwd)
	}
	if err != nil {
		return err
	}
	if f.dry {
		printDryRun(e.stdout, plan, cwd)
		return nil
	}
	for _, n := range plan.notes() {
		fmt.Fprintf(e.stderr, "scavenge: note: %s\n", n)
	}
	return submit(ctx, e, f, plan)
}

// jobFileArg tells a job file from a command: a single .toml argument not
// after "--" (`scavenge submit -- ./x.toml` runs it as a command).
func jobFileArg(args, pos []string) (string, bool) {
	if len(pos) == 0 || !strings.EqualFold(filepath.Ext(pos[0]), ".toml") {
		return "", false
	}
	if consumed := len(args) - len(pos); consumed > 0 && args[consumed-1] == "--" {
		return "", false
	}
	return pos[0], true
}

// planFile loads, checks and expands a job file; of the flags, only those
// that say how to submit it may be set, before the file or after it
// (`submit job.toml --dry-run`).
func (f *submitFlags) planFile(fs *flag.FlagSet, file string, after []string, cwd string) (*submitPlan, error) {
	rest, err := parse(fs, after)
	if err != nil {
		return nil, err
	}
	if err := noArgs(rest); err != nil {
		return nil, err
	}
	var wrong []string
	fs.Visit(func(fl *flag.Flag) {
		if !slices.Contains(jobFileFlags, fl.Name) {
			wrong = append(wrong, "--"+fl.Name)
		}
	})
	if len(wrong) > 0 {
		return nil, usagef("%s: with a job file, set this in the file (only %s go with one)", strings.Join(wrong, ", "), "--"+strings.Join(jobFileFlags, ", --"))
	}
	jf, err := config.LoadJobFile(file)
	if err != nil {
		return nil, err
	}
	if f.timeout < 0 {
		return nil, usagef("--timeout %s is negative", f.timeout)
	}
	if f.timeout > 0 {
		jf.WaitTimeout = config.Duration(f.timeout)
	}
	jf.AllowLocal = jf.AllowLocal || f.allowLocal
	if f.outDir != "" {
		jf.OutDir = absUnder(cwd, f.outDir)
	}
	return planJob(jf, cwd)
}

// planCommand makes a job of the command line and the flags. Without
// --count it is one command, taken as written (braces included).
func (f *submitFlags) planCommand(argv []string, cwd string) (*submitPlan, error) {
	if len(argv) == 0 {
		return nil, usagef("no command given: scavenge submit [flags] -- command [args...], or scavenge submit JOB.toml")
	}
	switch {
	case f.cpus < 1:
		return nil, usagef("--cpus %d: a command needs at least 1", f.cpus)
	case f.timeout < 0:
		return nil, usagef("--timeout %s is negative", f.timeout)
	case f.count < 0:
		return nil, usagef("--count %d: want 1 or more tasks", f.count)
	}
	env := make(map[string]string, len(f.envs))
	for _, kv := range f.envs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usagef("--env %q: want KEY=VALUE", kv)
		}
		env[k] = v
	}
	jf := &config.JobFile{
		Dir:      cwd,
		Verbatim: f.count == 0,
		Version:  config.JobFileVersion,
		Name:     f.name,
		Command:  argv,
		Count:    f.count,
		Inputs:   f.inputs,
		Outputs:  f.outputs,
		OutDir:   f.outDir,
		Env:      env,
		Requirements: config.JobRequirements{
			CPUs: f.cpus, Memory: config.Size(f.memory), OS: f.goos, Arch: f.arch, Labels: f.labels,
		},
		Rank:            f.rank,
		Retries:         f.retries,
		TaskTimeout:     config.Duration(f.taskTimeout),
		WaitTimeout:     config.Duration(f.timeout),
		Replicas:        f.replicas,
		AllowLocal:      f.allowLocal,
		Checkpoint:      f.checkpoint,
		CheckpointEvery: config.Duration(f.checkpointEvery),
	}
	if err := jf.Validate(); err != nil {
		return nil, &usageError{msg: flagProblems(err).Error()}
	}
	plan, err := planJob(jf, cwd)
	if err != nil {
		return nil, flagProblems(err)
	}
	return plan, nil
}

// submit sends the plan and follows the job to its end (or returns its ID
// with --detach).
func submit(ctx context.Context, e *env, f *submitFlags, plan *submitPlan) error {
	dir, err := f.home.home(e)
	if err != nil {
		return err
	}
	c := newClient(dir)
	id, err := c.Submit(ctx, plan.req)
	if err != nil {
		if ctx.Err() != nil {
			return &codeError{code: exitInterrupted}
		}
		return err
	}
	if f.detach {
		fmt.Fprintln(e.stdout, id)
		return nil
	}
	if len(plan.req.Tasks) > 0 {
		return followTasks(ctx, e, c, id, len(plan.req.Tasks))
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
