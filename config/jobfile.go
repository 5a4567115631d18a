package config

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// A job file describes a job for `scavenge submit job.toml`: one command
// run as many tasks, over a count (`count = N`, HTCondor's `queue N`), a
// sweep of parameter values (`[sweep] x = [...]`, every combination, like
// `queue x in (...)`), or an explicit list of parameter sets (`[[task]]`).
// Placeholders {index} and {<parameter>} in the command, inputs, outputs
// and env values are filled per task; an input path with a placeholder is
// that task's own, the others go to every task.
//
// Loading is as strict as the config file's: a version, no unknown keys,
// every problem reported at once with its file, line and key. This file
// holds the schema and the entry points; jobfile_decode.go reads the TOML,
// jobfile_validate.go checks values, jobfile_expand.go makes the tasks and
// jobfile_inputs.go checks the input files.

// JobFileVersion is the only job file format version this build reads.
const JobFileVersion = 1

// Limits of one job file. They mirror the engine's limits of one request
// (this package imports nothing of the project), so a file the engine
// would refuse is refused here first, with a line number.
const (
	MaxJobTasks    = 100_000
	MaxJobRetries  = 100
	MaxJobReplicas = 2
	// maxJobOutputs is the number of output globs a task may have (the
	// wire protocol's cap).
	maxJobOutputs = 256
	// maxJobFileSize bounds what LoadJobFile reads: an explicit [[task]]
	// list of many thousand entries is a few megabytes.
	maxJobFileSize = 16 << 20
)

// Ranks a job file may ask for; "" is the engine's default order.
var JobRanks = []string{"", "dedicated", "memory", "cpus"}

// Checkpoint backends a job file may name. They are the checkpoint
// package's names.
var CheckpointBackends = []string{"", "none", "criu", "signal"}

// JobFile is a job as a file (or the submit command's flags) describes it.
type JobFile struct {
	// Path is the file it came from ("" when built from flags); Dir is the
	// directory that relative inputs and out_dir are relative to (the
	// file's directory, or the working directory for flags).
	Path string
	Dir  string
	// Verbatim takes the command, inputs, outputs and env as written, with
	// no placeholders: a command line given to `scavenge submit --`, whose
	// braces belong to the command (awk, shell). Never set by a file.
	Verbatim bool

	Version int      `toml:"version"`
	Name    string   `toml:"name"`    // shown in status; default the file's name
	Command []string `toml:"command"` // argv, with placeholders
	// At most one of Count, Sweep and Tasks is set; with none, the job is
	// one command (it runs once and `submit` shows its output live).
	Count int          `toml:"count"`
	Sweep []SweepParam `toml:"sweep"` // every combination, the last parameter varying fastest
	Tasks []TaskParams `toml:"task"`  // explicit parameter sets, one task each

	Inputs       []string          `toml:"inputs"`  // files; relative to Dir; with a placeholder: per task
	Outputs      []string          `toml:"outputs"` // globs relative to the task directory
	OutDir       string            `toml:"out_dir"` // where outputs land, one folder per task
	Env          map[string]string `toml:"env"`     // values may hold placeholders
	Requirements JobRequirements   `toml:"requirements"`
	Rank         string            `toml:"rank"`         // one of JobRanks
	Retries      int               `toml:"retries"`      // re-runs of a task that exited non-zero
	TaskTimeout  Duration          `toml:"task_timeout"` // a task running longer fails; 0 = none
	WaitTimeout  Duration          `toml:"wait_timeout"` // give up when no peer is idle this long; 0 = daemon default
	Replicas     int               `toml:"replicas"`     // 2: each task runs on two peers and must agree
	AllowLocal   bool              `toml:"allow_local"`  // this machine may run tasks too
	// Checkpoint is the backend a preempted task resumes from, and
	// CheckpointEvery how often one is taken while the task runs.
	Checkpoint      string   `toml:"checkpoint"`
	CheckpointEvery Duration `toml:"checkpoint_every"`

	// badParams are parameters the file names but whose values could not
	// be read: already reported, so their placeholders are not reported
	// again as unknown.
	badParams []string
	// src is the decoded file, kept to find the line of a key when a
	// problem shows up after loading (CheckInputs); nil for flags.
	src *decoder
}

// JobRequirements select the peers that may run the job's tasks.
type JobRequirements struct {
	CPUs   int      `toml:"cpus"`   // slots per task; 0 means 1
	Memory Size     `toml:"memory"` // free memory per task
	OS     string   `toml:"os"`     // GOOS, e.g. linux
	Arch   string   `toml:"arch"`   // GOARCH, e.g. amd64
	Labels []string `toml:"labels"` // every one must be on the peer
}

// SweepParam is one parameter of a sweep and its values, as strings: the
// file may write them as strings, integers, floats, booleans or an integer
// range { from = 1, to = 100, step = 1 }.
type SweepParam struct {
	Name   string
	Values []string
}

// TaskParams is one [[task]]: a value for each parameter, by name.
type TaskParams map[string]string

// LoadJobFile reads and checks the job file at path. Every problem is
// reported at once, joined with errors.Join, each a *FieldError naming the
// file, the line and the key, e.g.
//
//	/home/ann/render.toml:4: command[3]: {frme} is not a parameter; did you mean {frame}?
//
// Input files are not looked at: call CheckInputs on the expansion.
func LoadJobFile(path string) (*JobFile, error) {
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading job file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxJobFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading job file: %w", err)
	}
	return ParseJobFile(path, data)
}

// Many reports whether the job is a set of tasks (count, sweep or
// [[task]]) rather than one command.
func (j *JobFile) Many() bool { return j.Count > 0 || len(j.Sweep) > 0 || len(j.Tasks) > 0 }

// NumTasks is the number of tasks the job expands to, or -1 when that is
// more than MaxJobTasks.
func (j *JobFile) NumTasks() int {
	switch {
	case j.Count > 0:
		return j.Count
	case len(j.Tasks) > 0:
		return len(j.Tasks)
	}
	n := 1
	for _, p := range j.Sweep {
		n *= len(p.Values)
		if n > MaxJobTasks {
			return -1 // checked at each step: the product could overflow
		}
	}
	return n
}

// Params are the names the command may use as placeholders: "index", then
// the sweep's parameters in order, or the [[task]] keys sorted.
func (j *JobFile) Params() []string {
	names := []string{"index"}
	for _, p := range j.Sweep {
		if !slices.Contains(names, p.Name) { // "index" is refused, not listed twice
			names = append(names, p.Name)
		}
	}
	if len(j.Tasks) > 0 {
		keys := make([]string, 0, len(j.Tasks[0]))
		for k := range j.Tasks[0] {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if k != "index" {
				names = append(names, k)
			}
		}
	}
	return names
}

// DefaultJobName is the name of a job file's job when it sets none: the
// file's base name without its extension.
func DefaultJobName(path string) string {
	base := filepath.Base(path)
	if ext := filepath.Ext(base); ext != "" && ext != base {
		base = base[:len(base)-len(ext)]
	}
	return base
}

// line is the line of key in the file, or 0. An element of an array
// ("inputs[2]") is on its array's line, as far as the file can tell.
func (j *JobFile) line(key string) int {
	if j.src == nil {
		return 0
	}
	if l := j.src.line(key); l > 0 {
		return l
	}
	base, _, _ := strings.Cut(key, "[")
	return j.src.line(base)
}

// problem is a *FieldError at key of this job's file.
func (j *JobFile) problem(key string, err error) *FieldError {
	return &FieldError{File: j.Path, Line: j.line(key), Key: key, Err: err}
}

// indexKey is "key[i]".
func indexKey(key string, i int) string { return key + "[" + strconv.Itoa(i) + "]" }
