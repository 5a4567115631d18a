package scavenger

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"strconv"
)

// A job is one command (SubmitRequest.Argv) or many tasks (Tasks), each
// with its own command, environment and inputs on top of the job's. This
// file turns a request into its tasks: IDs, what each runs, what it gets.

// Limits of one request, so a typo in a job file cannot queue a million
// tasks or make the job database hold a novel per task.
const (
	maxTasks    = 100_000
	maxRetries  = 100
	maxReplicas = 2
)

// taskIDs are a job's task IDs: "0" .. "N-1", in the order given.
func taskIDs(req SubmitRequest) []string {
	n := max(len(req.Tasks), 1)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = strconv.Itoa(i)
	}
	return ids
}

// taskCommand is what task id of req runs: its argv and its whole
// environment (the job's, then the task's).
func taskCommand(req SubmitRequest, id string) (argv []string, env map[string]string) {
	if len(req.Tasks) == 0 {
		return req.Argv, req.Env
	}
	t := req.Tasks[taskIndex(id)]
	if len(t.Env) == 0 {
		return t.Argv, req.Env
	}
	env = maps.Clone(req.Env)
	if env == nil {
		env = map[string]string{}
	}
	maps.Copy(env, t.Env)
	return t.Argv, env
}

// taskIndex is the position of a task ID from taskIDs.
func taskIndex(id string) int {
	i, _ := strconv.Atoi(id)
	return i
}

// taskOutDir is where task id's output files land: the job's OutDir for a
// one-command job, a folder per task in it otherwise.
func taskOutDir(req SubmitRequest, id string) string {
	if len(req.Tasks) == 0 {
		return req.OutDir
	}
	return filepath.Join(req.OutDir, id)
}

// inputsOf are the inputs task id gets: the job's and its own.
func inputsOf(all []inputFile, id string) []inputFile {
	var out []inputFile
	for _, f := range all {
		if f.Task == "" || f.Task == id {
			out = append(out, f)
		}
	}
	return out
}

// checkTasks validates what is particular to many-task jobs and returns
// the tasks' own inputs (not yet hashed), each marked with its task.
func checkTasks(req *SubmitRequest, shared []inputFile) ([]inputFile, []error) {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	switch {
	case len(req.Tasks) > 0 && len(req.Argv) > 0:
		bad("a job has either a command (argv) or tasks, not both")
	case len(req.Tasks) > maxTasks:
		bad("%d tasks: at most %d in one job", len(req.Tasks), maxTasks)
	}
	if req.Retries < 0 || req.Retries > maxRetries {
		bad("retries %d: want 0 to %d", req.Retries, maxRetries)
	}
	if req.Replicas < 0 || req.Replicas > maxReplicas {
		bad("replicas %d: want 1 or %d", req.Replicas, maxReplicas)
	}
	if req.TaskTimeout < 0 {
		bad("task timeout %s is negative", req.TaskTimeout)
	}
	switch req.Rank {
	case RankDefault, RankDedicated, RankMemory, RankCPUs:
	default:
		bad("rank %q: want %s, %s or %s", req.Rank, RankDedicated, RankMemory, RankCPUs)
	}
	if len(errs) > 0 || len(req.Tasks) > maxTasks {
		return nil, errs
	}
	var own []inputFile
	for i, t := range req.Tasks {
		id := strconv.Itoa(i)
		if len(t.Argv) == 0 || t.Argv[0] == "" {
			bad("task %s: no command to run", id)
		}
		names := map[string]string{}
		for _, f := range shared {
			names[f.Name] = f.Path
		}
		for _, p := range t.Inputs {
			if !filepath.IsAbs(p) && req.Cwd != "" {
				p = filepath.Join(req.Cwd, p)
			}
			f, err := checkInput(p)
			if err != nil {
				bad("task %s: %w", id, err)
				continue
			}
			if other, ok := names[f.Name]; ok {
				bad("task %s: inputs %s and %s would both be %s in the task directory", id, other, p, f.Name)
				continue
			}
			names[f.Name] = p
			f.Task = id
			own = append(own, f)
		}
	}
	return own, errs
}

// errNoCommand is a request with neither argv nor tasks.
var errNoCommand = errors.New("no command to run")
