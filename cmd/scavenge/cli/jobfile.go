package cli

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/scavenge/scavenge/config"
	"github.com/scavenge/scavenge/peer/wire"
	"github.com/scavenge/scavenge/scavenger"
)

// A job reaches the daemon the same way whether it came from a job file or
// from submit's flags: as a config.JobFile, checked and expanded into its
// tasks in the config package, then turned here into the engine's
// SubmitRequest. This file does that turning, and prints a job for
// --dry-run.

// submitPlan is a checked job, ready to send.
type submitPlan struct {
	job *config.JobFile
	req scavenger.SubmitRequest
}

// planJob expands a checked job, looks at its input files and builds the
// request; cwd is the submitter's working directory.
func planJob(jf *config.JobFile, cwd string) (*submitPlan, error) {
	x := jf.Expand()
	if err := jf.CheckInputs(x); err != nil {
		return nil, err
	}
	req, err := jobRequest(jf, x, cwd)
	if err != nil {
		return nil, err
	}
	return &submitPlan{job: jf, req: req}, nil
}

// jobRequest turns an expanded job into the engine's request: a one-command
// job (no count, sweep or task list) as Argv, the others as Tasks.
func jobRequest(jf *config.JobFile, x config.Expansion, cwd string) (scavenger.SubmitRequest, error) {
	r := jf.Requirements
	req := scavenger.SubmitRequest{
		Name:    jf.Name,
		Env:     x.Env,
		Inputs:  x.Inputs,
		Outputs: x.Outputs,
		Requirements: scavenger.Requirements{
			CPUs: max(r.CPUs, 1), MemoryBytes: uint64(r.Memory), OS: r.OS, Arch: r.Arch, Labels: r.Labels,
		},
		Rank:            scavenger.Rank(jf.Rank),
		Retries:         jf.Retries,
		TaskTimeout:     jf.TaskTimeout.Duration(),
		Replicas:        jf.Replicas,
		WaitTimeout:     jf.WaitTimeout.Duration(),
		AllowLocal:      jf.AllowLocal,
		Cwd:             cwd,
		Checkpoint:      jf.Checkpoint,
		CheckpointEvery: jf.CheckpointEvery.Duration(),
	}
	if jf.OutDir != "" {
		req.OutDir = absUnder(jf.Dir, jf.OutDir)
	}
	if !jf.Many() {
		t := x.Tasks[0]
		req.Argv = t.Argv
		req.Env = x.TaskEnv(t)
		req.Inputs = append(slices.Clone(x.Inputs), t.Inputs...)
		req.Outputs = append(slices.Clone(x.Outputs), t.Outputs...)
		return req, nil
	}
	// The engine takes output globs per job, not per task. Every task
	// has its own output folder, so the union of the tasks' globs gives
	// each task what it asked for (and at most files another task's glob
	// also names, which it made itself).
	outputs := slices.Clone(x.Outputs)
	seen := map[string]bool{}
	req.Tasks = make([]scavenger.TaskRequest, len(x.Tasks))
	for i, t := range x.Tasks {
		req.Tasks[i] = scavenger.TaskRequest{Argv: t.Argv, Env: t.Env, Inputs: t.Inputs}
		for _, g := range t.Outputs {
			if !seen[g] {
				seen[g] = true
				outputs = append(outputs, g)
			}
		}
	}
	if len(outputs) > wire.MaxOutputGlobs {
		return req, &config.FieldError{File: jf.Path, Key: "outputs", Err: fmt.Errorf(
			"the tasks' output globs make %d different globs, more than the %d a job may have; each task's outputs land in a folder of its own, so a glob without a placeholder (e.g. \"out-*.png\") does the same",
			len(outputs), wire.MaxOutputGlobs)}
	}
	req.Outputs = outputs
	return req, nil
}

// notes are what the user should know about a job before it runs.
func (p *submitPlan) notes() []string {
	var out []string
	if p.job.Checkpoint == "signal" {
		out = append(out, "checkpoint = \"signal\": each task must save its state in $SCAVENGE_CHECKPOINT_DIR and exit 85 on SIGUSR2 (see the README), or it restarts from scratch when it moves")
	}
	return out
}

// printDryRun shows what submitting p would send: the job's settings, what
// every task shares, then each task on a line of its own.
func printDryRun(w io.Writer, p *submitPlan, cwd string) {
	req := p.req
	from := ""
	if p.job.Path != "" {
		from = " from " + p.job.Path
	}
	name := ""
	if req.Name != "" {
		name = " " + strconv.Quote(req.Name)
	}
	tasks := len(req.Tasks)
	if tasks == 0 {
		fmt.Fprintf(w, "job%s%s: one command\n", name, from)
	} else {
		fmt.Fprintf(w, "job%s%s: %s%s\n", name, from, countNoun(tasks, "task"), taskSetText(p.job))
	}
	tw := newTable(w)
	setting := func(name, value string) {
		if value != "" {
			row(tw, "  "+name, value)
		}
	}
	if tasks == 0 {
		setting("command", commandLine(req.Argv))
	}
	hasInputs := len(req.Inputs) > 0
	for _, t := range req.Tasks {
		hasInputs = hasInputs || len(t.Inputs) > 0
	}
	if p.job.Dir != "" && hasInputs {
		setting("dir", p.job.Dir+" (input paths are relative to it)")
	}
	setting("inputs", strings.Join(relPaths(p.job.Dir, req.Inputs), " "))
	setting("outputs", strings.Join(req.Outputs, " "))
	setting("env", envText(req.Env))
	setting("out dir", outDirText(req, cwd))
	setting("needs", requirementsText(req.Requirements))
	setting("runs", runText(req))
	for _, n := range p.notes() {
		setting("note", n)
	}
	tw.Flush()
	if tasks > 0 {
		printTaskTable(w, req.Tasks, p.job.Dir)
	}
	fmt.Fprintln(w, "dry run: nothing was submitted")
}

// printTaskTable lists the tasks, with a column for inputs and env only
// when some task has its own.
func printTaskTable(w io.Writer, tasks []scavenger.TaskRequest, dir string) {
	var hasInputs, hasEnv bool
	for _, t := range tasks {
		hasInputs = hasInputs || len(t.Inputs) > 0
		hasEnv = hasEnv || len(t.Env) > 0
	}
	tw := newTable(w)
	head := []string{"TASK", "COMMAND"}
	if hasInputs {
		head = append(head, "INPUTS")
	}
	if hasEnv {
		head = append(head, "ENV")
	}
	row(tw, head...)
	for i, t := range tasks {
		cols := []string{fmt.Sprint(i), commandLine(t.Argv)}
		if hasInputs {
			cols = append(cols, strings.Join(relPaths(dir, t.Inputs), " "))
		}
		if hasEnv {
			cols = append(cols, envText(t.Env))
		}
		row(tw, cols...)
	}
	tw.Flush()
}

// relPaths shows paths under dir relative to it, as a job file writes
// them; others stay absolute.
func relPaths(dir string, paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = p
		if rel, err := filepath.Rel(dir, p); dir != "" && err == nil && filepath.IsLocal(rel) {
			out[i] = rel
		}
	}
	return out
}

// taskSetText says where the tasks come from: " (sweep a × b)".
func taskSetText(jf *config.JobFile) string {
	switch {
	case len(jf.Sweep) > 0:
		var parts []string
		for _, p := range jf.Sweep {
			parts = append(parts, fmt.Sprintf("%s (%d)", p.Name, len(p.Values)))
		}
		return ", a sweep of " + strings.Join(parts, " x ")
	case len(jf.Tasks) > 0:
		return ", one per [[task]]"
	}
	return ""
}

// envText is "K=V K2=V2", sorted, each quoted as a shell would need.
func envText(env map[string]string) string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, shellQuote(k+"="+env[k]))
	}
	return strings.Join(out, " ")
}

// outDirText says where outputs land, as the engine will choose it.
func outDirText(req scavenger.SubmitRequest, cwd string) string {
	dir := req.OutDir
	if dir == "" {
		dir = absUnder(cwd, "scavenge-out") + "/<job ID>"
	}
	if len(req.Tasks) > 0 {
		dir += "/<task>"
	}
	return dir + "/"
}

// requirementsText is "2 cpus, 4GiB memory, os linux, labels gpu".
func requirementsText(r scavenger.Requirements) string {
	parts := []string{countNoun(max(r.CPUs, 1), "cpu")}
	if r.MemoryBytes > 0 {
		parts = append(parts, humanBytes(r.MemoryBytes)+" memory")
	}
	if r.OS != "" {
		parts = append(parts, "os "+r.OS)
	}
	if r.Arch != "" {
		parts = append(parts, "arch "+r.Arch)
	}
	if len(r.Labels) > 0 {
		parts = append(parts, "labels "+strings.Join(r.Labels, ","))
	}
	return strings.Join(parts, ", ")
}

// runText is how tasks are placed, retried and bounded.
func runText(req scavenger.SubmitRequest) string {
	parts := []string{"no retries"}
	switch req.Retries {
	case 0:
	case 1:
		parts[0] = "1 retry of a failed exit"
	default:
		parts[0] = fmt.Sprintf("%d retries of a failed exit", req.Retries)
	}
	if req.TaskTimeout > 0 {
		parts = append(parts, "task timeout "+shortDuration(req.TaskTimeout))
	}
	if c := req.Checkpoint; c != "" && c != "none" {
		every := ""
		if req.CheckpointEvery > 0 {
			every = " every " + shortDuration(req.CheckpointEvery)
		}
		parts = append(parts, "checkpoints with "+c+every)
	}
	if req.Replicas == 2 {
		parts = append(parts, "2 replicas (results compared)")
	}
	if req.Rank != scavenger.RankDefault {
		parts = append(parts, "rank "+string(req.Rank))
	}
	if req.WaitTimeout > 0 {
		parts = append(parts, "wait for a peer up to "+shortDuration(req.WaitTimeout))
	}
	if req.AllowLocal {
		parts = append(parts, "may run here")
	}
	return strings.Join(parts, ", ")
}

// countNoun is "1 task" or "3 tasks".
func countNoun(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// flagKeys name, for a job built from flags, the flag behind each job file
// key, so that its problems speak of what the user typed.
var flagKeys = map[string]string{
	"command": "the command", "count": "--count", "inputs": "--input", "outputs": "--output",
	"env": "--env", "name": "--name", "rank": "--rank", "retries": "--retries", "replicas": "--replicas",
	"task_timeout": "--task-timeout", "wait_timeout": "--timeout", "out_dir": "--out-dir",
	"requirements.cpus": "--cpus", "requirements.memory": "--memory", "requirements.os": "--os",
	"requirements.arch": "--arch", "requirements.labels": "--label",
}

// flagProblems rewrites the problems of a job built from flags to name the
// flags instead of job file keys.
func flagProblems(err error) error {
	var errs []error
	for _, e := range unjoin(err) {
		var fe *config.FieldError
		if !errors.As(e, &fe) {
			errs = append(errs, e)
			continue
		}
		key := fe.Key
		if i := strings.IndexAny(key, "[."); i >= 0 && !strings.HasPrefix(key, "requirements.") {
			key = key[:i]
		} else if i := strings.IndexByte(key, '['); i >= 0 {
			key = key[:i]
		}
		name := flagKeys[key]
		if name == "" {
			name = fe.Key
		}
		errs = append(errs, fmt.Errorf("%s: %w", name, fe.Err))
	}
	return errors.Join(errs...)
}

// unjoin splits an errors.Join error into its parts.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
