package config

import (
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
	"unicode"

	"github.com/BurntSushi/toml"
)

// Limits the wire protocol puts on one task; checked here so that a file
// the daemon would refuse is refused with a line number.
const (
	maxJobArgs     = 1024
	maxJobEnv      = 256
	maxJobInputs   = 4096
	maxJobLabels   = 64
	maxJobNameLen  = 200
	reservedEnvPfx = "SCAVENGE_" // set by the donor for every task
)

// Operating systems and architectures a requirement may name: Go's names,
// which are what peers advertise.
var (
	knownOS   = []string{"aix", "android", "darwin", "dragonfly", "freebsd", "illumos", "ios", "linux", "netbsd", "openbsd", "plan9", "solaris", "windows"}
	knownArch = []string{"386", "amd64", "arm", "arm64", "loong64", "mips", "mips64", "mips64le", "mipsle", "ppc64", "ppc64le", "riscv64", "s390x"}
	// osAliases and archAliases are other names people use for the same.
	osAliases   = map[string]string{"macos": "darwin", "mac": "darwin", "osx": "darwin", "win": "windows", "win32": "windows", "win64": "windows"}
	archAliases = map[string]string{"x86_64": "amd64", "x64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "i386": "386", "i686": "386", "x86": "386", "armv7": "arm"}
)

// Validate checks a job built in code (the submit command's flags make
// one) and returns every problem joined with errors.Join, each a
// *FieldError naming the key. LoadJobFile runs the same checks.
func (j *JobFile) Validate() error {
	probs := j.validate()
	errs := make([]error, len(probs))
	for i, p := range probs {
		p.File, p.Line = j.Path, j.line(p.Key)
		errs[i] = p
	}
	return errors.Join(errs...)
}

// has reports whether the file sets key; a job built in code sets none.
func (j *JobFile) has(key string) bool {
	if j.src == nil {
		return false
	}
	_, ok := j.src.prims[key]
	return ok
}

// validate is Validate returning the problems one by one.
func (j *JobFile) validate() []*FieldError {
	var v validator
	j.checkName(&v)
	j.checkCommand(&v)
	j.checkTaskSet(&v)
	j.checkPlaceholders(&v)
	j.checkFiles(&v)
	j.checkEnv(&v)
	j.checkRequirements(&v)
	j.checkRunPolicy(&v)
	return v.probs
}

func (j *JobFile) checkName(v *validator) {
	switch n := j.Name; {
	case len([]rune(n)) > maxJobNameLen:
		v.add("name", "%s is longer than %d characters", quoteShort(n), maxJobNameLen)
	case strings.IndexFunc(n, unicode.IsControl) >= 0:
		v.add("name", "%s contains control characters", quoteShort(n))
	}
}

func (j *JobFile) checkCommand(v *validator) {
	switch {
	case len(j.Command) == 0:
		v.add("command", `missing: the command to run, as an array, e.g. command = ["python3", "run.py", "{index}"]`)
		return
	case j.Command[0] == "":
		v.add("command[0]", "empty: the first element is the program to run")
	case len(j.Command) > maxJobArgs:
		v.add("command", "%d arguments, at most %d", len(j.Command), maxJobArgs)
	}
	for i, a := range j.Command {
		if strings.ContainsRune(a, 0) {
			v.add(indexKey("command", i), "%s contains a NUL byte", quoteShort(a))
		}
	}
}

// checkTaskSet checks count, [sweep] and [[task]]: at most one, and each
// well formed.
func (j *JobFile) checkTaskSet(v *validator) {
	var set []string
	if j.Count != 0 || j.has("count") {
		set = append(set, "count")
	}
	if len(j.Sweep) > 0 || j.has("sweep") {
		set = append(set, "sweep")
	}
	if len(j.Tasks) > 0 || j.has("task") {
		set = append(set, "task")
	}
	if len(set) > 1 {
		v.add(set[1], "set together with %s: a job has count, [sweep] or [[task]], one of them (a sweep of several parameters runs every combination)", set[0])
	}
	if j.Count < 0 || j.Count > MaxJobTasks || j.Count == 0 && j.has("count") {
		v.add("count", "%d: want 1 to %d tasks", j.Count, MaxJobTasks)
	}
	for _, p := range j.Sweep {
		checkParamName(v, "sweep."+quoteKey(p.Name), p.Name)
	}
	if j.NumTasks() < 0 {
		v.add("sweep", "more than %d combinations, the most tasks one job may have", MaxJobTasks)
	}
	if len(j.Tasks) == 0 {
		return
	}
	first := slices.Sorted(maps.Keys(j.Tasks[0]))
	for i, t := range j.Tasks {
		keys := slices.Sorted(maps.Keys(t))
		switch {
		case len(t) == 0 && !j.failedUnder(indexKey("task", i)):
			v.add(indexKey("task", i), "no parameters: each [[task]] sets the values of the same parameters, e.g. x = 1")
		case i > 0 && !slices.Equal(keys, first) && !j.failedUnder(indexKey("task", i)):
			v.add(indexKey("task", i), "sets %s, but the first [[task]] sets %s: every [[task]] sets the same parameters", nameList(keys), nameList(first))
		}
	}
	for _, name := range first {
		checkParamName(v, "task[0]."+quoteKey(name), name)
	}
}

// failedUnder reports whether a problem was already reported at key or
// below it, so that a bad value is not reported again as a missing one.
func (j *JobFile) failedUnder(key string) bool {
	if j.src == nil {
		return false
	}
	for k := range j.src.failed {
		if k == key || strings.HasPrefix(k, key+".") {
			return true
		}
	}
	return false
}

// checkParamName requires a parameter name to be usable as a placeholder.
func checkParamName(v *validator, key, name string) {
	switch {
	case name == "index":
		v.add(key, "index is taken: {index} is always the task's number (0, 1, ...); call the parameter something else")
	case !isIdent(name):
		v.add(key, "%s cannot be written as a placeholder: use letters, digits and _ (it is written {name} in the command)", quoteShort(name))
	}
}

// checkPlaceholders requires every placeholder to name a parameter, and
// every parameter of a sweep or task list to be used somewhere.
func (j *JobFile) checkPlaceholders(v *validator) {
	params := j.Params()
	used := map[string]bool{}
	check := func(key, s string) {
		for _, name := range j.template(s).params() {
			used[name] = true
			if !slices.Contains(params, name) && !slices.Contains(j.badParams, name) {
				v.add(key, "%s", unknownParam(name, params))
			}
		}
	}
	for i, a := range j.Command {
		check(indexKey("command", i), a)
	}
	for i, in := range j.Inputs {
		check(indexKey("inputs", i), in)
	}
	for i, out := range j.Outputs {
		check(indexKey("outputs", i), out)
	}
	for _, k := range slices.Sorted(maps.Keys(j.Env)) {
		check("env."+quoteKey(k), j.Env[k])
	}
	if !j.template(j.OutDir).literal() {
		v.add("out_dir", "%s has a placeholder, but out_dir is one folder for the job: each task's outputs land in out_dir/<task number>", quoteShort(j.OutDir))
	}
	for _, name := range params[1:] {
		if used[name] {
			continue
		}
		key := "sweep." + quoteKey(name)
		if len(j.Tasks) > 0 {
			key = "task[0]." + quoteKey(name)
		}
		v.add(key, "not used: no {%s} in the command, inputs, outputs or env, so every task would run the same", name)
	}
}

// unknownParam explains a placeholder that names no parameter.
func unknownParam(name string, params []string) string {
	lit := fmt.Sprintf("write {{%s}} for the text {%s}", name, name)
	// One letter off a one- or two-letter name is any other name: no
	// suggestion then.
	if best := closest(name, params); best != "" && len(name) > 2 {
		return fmt.Sprintf("{%s} is not a parameter; did you mean {%s}? (%s)", name, best, lit)
	}
	return fmt.Sprintf("{%s} is not a parameter (the parameters are %s; %s)", name, placeholderList(params), lit)
}

// checkFiles checks the inputs, outputs and out_dir as text; CheckInputs
// looks at the input files themselves.
func (j *JobFile) checkFiles(v *validator) {
	if len(j.Inputs) > maxJobInputs {
		v.add("inputs", "%d files, at most %d", len(j.Inputs), maxJobInputs)
	}
	for i, in := range j.Inputs {
		switch {
		case strings.TrimSpace(in) == "":
			v.add(indexKey("inputs", i), "empty path")
		case strings.ContainsRune(in, 0):
			v.add(indexKey("inputs", i), "%s contains a NUL byte", quoteShort(in))
		}
	}
	if len(j.Outputs) > maxJobOutputs {
		v.add("outputs", "%d globs, at most %d", len(j.Outputs), maxJobOutputs)
	}
	for i, g := range j.Outputs {
		if err := j.checkOutputGlob(g); err != nil {
			v.addErr(indexKey("outputs", i), err)
		}
	}
	if strings.ContainsRune(j.OutDir, 0) {
		v.add("out_dir", "%s contains a NUL byte", quoteShort(j.OutDir))
	}
}

// checkOutputGlob requires a glob to stay inside the task directory. The
// placeholders are checked as if they were plain names; the daemon checks
// each task's expanded globs again.
func (j *JobFile) checkOutputGlob(g string) error {
	plain := j.template(g)
	vals := map[string]string{}
	for _, p := range plain.params() {
		vals[p] = "x"
	}
	s := plain.expand(vals)
	slash := strings.ReplaceAll(s, `\`, "/")
	switch {
	case strings.TrimSpace(s) == "":
		return errors.New("empty glob")
	case strings.ContainsRune(s, 0):
		return fmt.Errorf("%s contains a NUL byte", quoteShort(g))
	case strings.HasPrefix(slash, "/") || len(s) > 1 && s[1] == ':':
		return fmt.Errorf("%s is absolute; outputs are globs relative to the task directory, e.g. \"out/*.png\"", quoteShort(g))
	case slices.Contains(strings.Split(slash, "/"), ".."):
		return fmt.Errorf("%s leaves the task directory (..); outputs are globs relative to it", quoteShort(g))
	}
	if _, err := path.Match(slash, ""); err != nil {
		return fmt.Errorf("%s is not a glob: %v", quoteShort(g), err)
	}
	return nil
}

func (j *JobFile) checkEnv(v *validator) {
	if len(j.Env) > maxJobEnv {
		v.add("env", "%d variables, at most %d", len(j.Env), maxJobEnv)
	}
	for _, k := range slices.Sorted(maps.Keys(j.Env)) {
		key := "env." + quoteKey(k)
		switch {
		case k == "" || strings.ContainsAny(k, "=\x00"):
			v.add(key, "%s is not a variable name", quoteShort(k))
		case strings.HasPrefix(strings.ToUpper(k), reservedEnvPfx):
			v.add(key, "%s* variables are set by scavenge for every task (SCAVENGE_TASK_ID, ...)", reservedEnvPfx)
		case strings.ContainsRune(j.Env[k], 0):
			v.add(key, "the value contains a NUL byte")
		}
	}
}

func (j *JobFile) checkRequirements(v *validator) {
	r := j.Requirements
	if r.CPUs < 0 || r.CPUs == 0 && j.has("requirements.cpus") {
		v.add("requirements.cpus", "%d: a task needs at least 1 slot", r.CPUs)
	}
	checkName(v, "requirements.os", r.OS, knownOS, osAliases)
	checkName(v, "requirements.arch", r.Arch, knownArch, archAliases)
	if len(r.Labels) > maxJobLabels {
		v.add("requirements.labels", "%d labels, at most %d", len(r.Labels), maxJobLabels)
	}
	for i, l := range r.Labels {
		if strings.TrimSpace(l) == "" {
			v.add(indexKey("requirements.labels", i), "empty label")
		}
	}
}

// checkName requires val to be "" or one of known, naming the right one
// for a known alias or a near spelling.
func checkName(v *validator, key, val string, known []string, aliases map[string]string) {
	if val == "" || slices.Contains(known, val) {
		return
	}
	low := strings.ToLower(val)
	switch {
	case slices.Contains(known, low):
		v.add(key, "%s: write it in lower case, %q", quoteShort(val), low)
	case aliases[low] != "":
		v.add(key, "%s: Go's name for it is %q", quoteShort(val), aliases[low])
	case closest(low, known) != "":
		v.add(key, "%s is unknown; did you mean %q?", quoteShort(val), closest(low, known))
	default:
		v.add(key, "%s is unknown (Go's names, e.g. %s)", quoteShort(val), strings.Join(known[:min(len(known), 8)], ", "))
	}
}

// checkRunPolicy checks how tasks are placed and retried.
func (j *JobFile) checkRunPolicy(v *validator) {
	if !slices.Contains(JobRanks, j.Rank) {
		v.add("rank", "%s is not one of %s", quoteShort(j.Rank), quoteList(JobRanks[1:]))
	}
	if j.Retries < 0 || j.Retries > MaxJobRetries {
		v.add("retries", "%d: want 0 to %d", j.Retries, MaxJobRetries)
	}
	if j.Replicas < 0 || j.Replicas > MaxJobReplicas || j.Replicas == 0 && j.has("replicas") {
		v.add("replicas", "%d: want 1 (each task runs once) or 2 (on two peers, whose results must agree)", j.Replicas)
	}
	if j.TaskTimeout < 0 {
		v.add("task_timeout", "%s is negative; use 0 for no limit", j.TaskTimeout)
	}
	if j.WaitTimeout < 0 {
		v.add("wait_timeout", "%s is negative; use 0 for the daemon's default", j.WaitTimeout)
	}
	if !slices.Contains(CheckpointBackends, j.Checkpoint) {
		v.add("checkpoint", "%s is not one of %s", quoteShort(j.Checkpoint), quoteList(CheckpointBackends[1:]))
	}
	switch every := j.CheckpointEvery; {
	case every < 0:
		v.add("checkpoint_every", "%s is negative", every)
	case every > 0 && (j.Checkpoint == "" || j.Checkpoint == "none"):
		v.add("checkpoint_every", "%s, but no checkpoint backend: set checkpoint = \"signal\" or \"criu\"", every)
	}
	if j.Replicas > 1 && j.Replicas <= MaxJobReplicas && j.Checkpoint != "" && j.Checkpoint != "none" {
		v.add("checkpoint", "%s with replicas = %d: the replicas would share one checkpoint; use one or the other", quoteShort(j.Checkpoint), j.Replicas)
	}
	if os := j.Requirements.OS; j.Checkpoint == "criu" && os != "linux" && slices.Contains(knownOS, os) {
		v.add("checkpoint", "criu works on Linux only, but requirements.os is %q", j.Requirements.OS)
	}
}

// quoteKey writes a key part as TOML does: quoted unless it is a bare key.
func quoteKey(k string) string { return toml.Key{k}.String() }

// nameList is "a, b" or "nothing".
func nameList(names []string) string {
	if len(names) == 0 {
		return "nothing"
	}
	return strings.Join(names, ", ")
}

// placeholderList is "{index}, {x}".
func placeholderList(names []string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = "{" + n + "}"
	}
	return strings.Join(out, ", ")
}
