package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// parseJob parses text as job.toml in dir and fails the test on errors.
func parseJob(t *testing.T, dir, text string) *JobFile {
	t.Helper()
	j, err := ParseJobFile(filepath.Join(dir, "job.toml"), []byte(text))
	if err != nil {
		t.Fatalf("ParseJobFile: %v\n%s", err, text)
	}
	return j
}

func TestJobFileGood(t *testing.T) {
	tests := []struct {
		name string
		text string
		want JobFile // Path, Dir and Version are filled in
	}{
		{"one command", `version = 1
command = ["echo", "hi"]
`, JobFile{Name: "job", Command: []string{"echo", "hi"}}},
		{"everything", `version = 1
name = "render"
command = ["blender", "-b", "scene.blend", "-f", "{frame}"]
inputs = ["scene.blend", "parts/part-{index}.bin"]
outputs = ["out/*.png"]
out_dir = "results"
retries = 2
task_timeout = "30m"
wait_timeout = "1h"
replicas = 1
rank = "memory"
allow_local = true
checkpoint = "signal"
checkpoint_every = "10m"

[env]
SEED = "{index}"

[requirements]
os = "linux"
arch = "arm64"
cpus = 2
memory = "4GiB"
labels = ["gpu", "ssd"]

[sweep]
frame = { from = 1, to = 9, step = 4 }
`, JobFile{
			Name: "render", Command: []string{"blender", "-b", "scene.blend", "-f", "{frame}"},
			Sweep:  []SweepParam{{"frame", []string{"1", "5", "9"}}},
			Inputs: []string{"scene.blend", "parts/part-{index}.bin"}, Outputs: []string{"out/*.png"},
			OutDir: "results", Env: map[string]string{"SEED": "{index}"},
			Requirements: JobRequirements{CPUs: 2, Memory: 4 * GiB, OS: "linux", Arch: "arm64", Labels: []string{"gpu", "ssd"}},
			Rank:         "memory", Retries: 2, TaskTimeout: Duration(30 * time.Minute), WaitTimeout: Duration(time.Hour),
			Replicas: 1, AllowLocal: true, Checkpoint: "signal", CheckpointEvery: Duration(10 * time.Minute),
		}},
		{"count", `version = 1
command = ["sh", "-c", "echo {index}"]
count = 50
`, JobFile{Name: "job", Command: []string{"sh", "-c", "echo {index}"}, Count: 50}},
		{"sweep in file order, values of every scalar type", `version = 1
command = ["run", "{zeta}", "{alpha}", "{mid}", "{on}"]
[sweep]
zeta = ["a", "b"]
alpha = [1, 2.5, -3]
mid = [1e3]
on = [true, false]
`, JobFile{Name: "job", Command: []string{"run", "{zeta}", "{alpha}", "{mid}", "{on}"}, Sweep: []SweepParam{
			{"zeta", []string{"a", "b"}}, {"alpha", []string{"1", "2.5", "-3"}}, {"mid", []string{"1000"}}, {"on", []string{"true", "false"}},
		}}},
		{"task list", `version = 1
command = ["test", "--go", "{go}", "--os", "{os}"]
[[task]]
go = "1.25"
os = "linux"
[[task]]
go = "1.26"
os = "darwin"
`, JobFile{Name: "job", Command: []string{"test", "--go", "{go}", "--os", "{os}"}, Tasks: []TaskParams{
			{"go": "1.25", "os": "linux"}, {"go": "1.26", "os": "darwin"},
		}}},
		{"inline task list and braces that are not placeholders", `version = 1
command = ["awk", "{ print $1 }", "{{x}}", "{x}", "{1..3}", "${HOME}x"]
task = [{ x = 1 }, { x = 2 }]
`, JobFile{Name: "job", Command: []string{"awk", "{ print $1 }", "{{x}}", "{x}", "{1..3}", "${HOME}x"},
			Tasks: []TaskParams{{"x": "1"}, {"x": "2"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			got := parseJob(t, dir, tt.text)
			want := tt.want
			want.Path, want.Dir, want.Version = filepath.Join(dir, "job.toml"), dir, 1
			if got.src == nil {
				t.Errorf("the decoded file was not kept for line numbers")
			}
			got.src = nil
			if !reflect.DeepEqual(*got, want) {
				t.Errorf("got  %+v\nwant %+v", *got, want)
			}
		})
	}
}

func TestJobFileBad(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []string // every problem, in order
	}{
		{"no version", "command = [\"a\"]\n", []string{
			"job.toml:1: version: missing: add `version = 1` at the top of the job file",
		}},
		{"newer version", "version = 2\ncommand = 1\n", []string{
			"job.toml:1: version: 2 is newer than this build of scavenge reads (job file version 1): upgrade scavenge",
		}},
		{"bad TOML", "version = 1\ncommand = [\"a\"\n", []string{
			"job.toml:2: bad TOML: expected a comma (',') or array terminator (']'), but got end of file",
		}},
		{"no command", "version = 1\nname = \"x\"\n", []string{
			`job.toml: command: missing: the command to run, as an array, e.g. command = ["python3", "run.py", "{index}"]`,
		}},
		{"wrong types", `version = 1
command = "echo hi"
count = "3"
retries = 1.5
task_timeout = 30
requirements = "linux"
`, []string{
			`job.toml:2: command: "echo hi" is a string; want an array of strings, e.g. ["a", "b"]`,
			`job.toml:3: count: "3" is a string; want an integer`,
			`job.toml:4: retries: 1.5 is a float; want an integer`,
			`job.toml:5: task_timeout: 30 is an integer; want a duration string (use e.g. "30s", "10m", "1h30m")`,
			`job.toml:6: requirements: "linux" is a string; want a table ([requirements])`,
		}},
		{"unknown keys and misplaced ones", `version = 1
comand = ["a"]
command = ["a"]
timeout = "3m"
labels = ["gpu"]
[requirements]
gpu = true
retries = 2
`, []string{
			`job.toml:2: comand: unknown key; did you mean "command"?`,
			`job.toml:4: timeout: unknown key; did you mean task_timeout (the limit per task) or wait_timeout (the wait for an idle peer)?`,
			`job.toml:5: labels: unknown key here: it belongs in [requirements]`,
			`job.toml:7: requirements.gpu: unknown key (the keys of [requirements] are cpus, memory, os, arch, labels)`,
			`job.toml:8: requirements.retries: unknown key here: it is a top-level key, to write before any [table] (keys after a [table] line belong to that table)`,
		}},
		{"placeholders", `version = 1
command = ["run", "{frme}", "{print}", "{{ok}}"]
inputs = ["in-{nope}.txt"]
outputs = ["out-{index}/*", "{frame}.png"]
out_dir = "o/{index}"
[env]
A = "{HOME}"
[sweep]
frame = [1, 2]
`, []string{
			`job.toml:2: command[1]: {frme} is not a parameter; did you mean {frame}? (write {{frme}} for the text {frme})`,
			`job.toml:2: command[2]: {print} is not a parameter (the parameters are {index}, {frame}; write {{print}} for the text {print})`,
			`job.toml:3: inputs[0]: {nope} is not a parameter (the parameters are {index}, {frame}; write {{nope}} for the text {nope})`,
			`job.toml:5: out_dir: "o/{index}" has a placeholder, but out_dir is one folder for the job: each task's outputs land in out_dir/<task number>`,
			`job.toml:7: env.A: {HOME} is not a parameter (the parameters are {index}, {frame}; write {{HOME}} for the text {HOME})`,
		}},
		{"count, sweep and tasks", `version = 1
command = ["run", "{x}"]
count = 0
[sweep]
x = [1]
[[task]]
x = 1
`, []string{
			`job.toml:3: count: 0: want 1 to 100000 tasks`,
			`job.toml:4: sweep: set together with count: a job has count, [sweep] or [[task]], one of them (a sweep of several parameters runs every combination)`,
		}},
		{"bad sweeps", `version = 1
command = ["run", "{a}", "{c}", "{d}", "{e}", "{f}", "{index}"]
[sweep]
a = []
b = [1]
c = [[1]]
d = { from = 5, to = 1 }
e = { from = 1, to = 200000 }
f = { from = 1, upto = 3 }
index = [1]
"my-p" = [2]
retries = [1]
`, []string{
			`job.toml:4: sweep.a: no values; give at least one, e.g. [1, 2, 3]`,
			`job.toml:5: sweep.b: not used: no {b} in the command, inputs, outputs or env, so every task would run the same`,
			`job.toml:6: sweep.c[0]: got an array; want a string, a number or a boolean`,
			`job.toml:7: sweep.d: range from 5 to 1 is empty: to must be at least from`,
			`job.toml:8: sweep.e: range from 1 to 200000 has more than 100000 values, the most tasks one job may have`,
			`job.toml:9: sweep.f: a range has from, to and step, not "upto"`,
			`job.toml:10: sweep.index: index is taken: {index} is always the task's number (0, 1, ...); call the parameter something else`,
			`job.toml:11: sweep.my-p: "my-p" cannot be written as a placeholder: use letters, digits and _ (it is written {name} in the command)`,
			`job.toml:11: sweep.my-p: not used: no {my-p} in the command, inputs, outputs or env, so every task would run the same`,
			`job.toml:12: sweep.retries: retries is a top-level key: move it above the first [table] line (keys after [sweep] belong to that table; parameters cannot have the names of job file keys)`,
		}},
		{"too many combinations", `version = 1
command = ["run", "{a}", "{b}"]
[sweep]
a = { from = 1, to = 1000 }
b = { from = 1, to = 1000 }
`, []string{
			`job.toml:3: sweep: more than 100000 combinations, the most tasks one job may have`,
		}},
		{"bad task lists", `version = 1
command = ["run", "{x}"]
[[task]]
x = 1
[[task]]
y = 2
[[task]]
x = [3]
`, []string{
			`job.toml:6: task[1]: sets y, but the first [[task]] sets x: every [[task]] sets the same parameters`,
			`job.toml:8: task[2].x: got an array; want a string, a number or a boolean`,
		}},
		{"task list of the wrong shape", "version = 1\ncommand = [\"a\"]\ntask = [1, 2]\n", []string{
			`job.toml:3: task: got an array; want one [[task]] table per task, each with its parameter values`,
		}},
		{"files and env", `version = 1
command = ["", "a\u0000b"]
inputs = ["", "ok.txt"]
outputs = ["/abs/*.png", "../x", "a/../../y", "[", "C:\\out"]
[env]
SCAVENGE_X = "1"
"A=B" = "2"
N = 3
inputs = ["x"]
`, []string{
			`job.toml:2: command[0]: empty: the first element is the program to run`,
			`job.toml:2: command[1]: "a\x00b" contains a NUL byte`,
			`job.toml:3: inputs[0]: empty path`,
			`job.toml:4: outputs[0]: "/abs/*.png" is absolute; outputs are globs relative to the task directory, e.g. "out/*.png"`,
			`job.toml:4: outputs[1]: "../x" leaves the task directory (..); outputs are globs relative to it`,
			`job.toml:4: outputs[2]: "a/../../y" leaves the task directory (..); outputs are globs relative to it`,
			`job.toml:4: outputs[3]: "[" is not a glob: syntax error in pattern`,
			`job.toml:4: outputs[4]: "C:\\out" is absolute; outputs are globs relative to the task directory, e.g. "out/*.png"`,
			`job.toml:6: env.SCAVENGE_X: SCAVENGE_* variables are set by scavenge for every task (SCAVENGE_TASK_ID, ...)`,
			`job.toml:7: env."A=B": "A=B" is not a variable name`,
			`job.toml:8: env.N: 3 is an integer; want a string`,
			`job.toml:9: env.inputs: got an array; want a string; inputs is a top-level key: move it above the first [table] line (keys after [env] belong to that table; parameters cannot have the names of job file keys)`,
		}},
		{"run policy and requirements", `version = 1
command = ["a"]
retries = 200
replicas = 3
rank = "fast"
task_timeout = "-1s"
checkpoint = "criu"
checkpoint_every = "-1s"
[requirements]
os = "windows"
arch = "x86_64"
cpus = 0
memory = "lots"
labels = [" "]
`, []string{
			`job.toml:3: retries: 200: want 0 to 100`,
			`job.toml:4: replicas: 3: want 1 (each task runs once) or 2 (on two peers, whose results must agree)`,
			`job.toml:5: rank: "fast" is not one of "dedicated", "memory" or "cpus"`,
			`job.toml:6: task_timeout: -1s is negative; use 0 for no limit`,
			`job.toml:7: checkpoint: criu works on Linux only, but requirements.os is "windows"`,
			`job.toml:8: checkpoint_every: -1s is negative`,
			`job.toml:11: requirements.arch: "x86_64": Go's name for it is "amd64"`,
			`job.toml:12: requirements.cpus: 0: a task needs at least 1 slot`,
			`job.toml:13: requirements.memory: "lots" is not a size: no number (use e.g. "4GiB", "512MiB", "1.5GB" or a whole number of bytes)`,
			`job.toml:14: requirements.labels[0]: empty label`,
		}},
		{"names of systems", `version = 1
command = ["a"]
checkpoint_every = "1m"
[requirements]
os = "Linux"
arch = "amd46"
`, []string{
			`job.toml:3: checkpoint_every: 1m, but no checkpoint backend: set checkpoint = "signal" or "criu"`,
			`job.toml:5: requirements.os: "Linux": write it in lower case, "linux"`,
			`job.toml:6: requirements.arch: "amd46" is unknown; did you mean "amd64"?`,
		}},
		{"checkpoints and replicas", `version = 1
command = ["a"]
replicas = 2
checkpoint = "signal"
`, []string{
			`job.toml:4: checkpoint: "signal" with replicas = 2: the replicas would share one checkpoint; use one or the other`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j, err := ParseJobFile("job.toml", []byte(tt.text))
			if err == nil {
				t.Fatalf("no error; got %+v", j)
			}
			got := problems(err)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("problems:\ngot\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(tt.want, "\n\t"))
			}
		})
	}
}

func TestLoadJobFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "render.toml")
	if err := os.WriteFile(path, []byte("version = 1\ncommand = [\"true\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A relative path is made absolute: it is what inputs are relative to.
	t.Chdir(dir)
	j, err := LoadJobFile("render.toml")
	if err != nil || j.Path != path || j.Dir != dir || j.Name != "render" {
		t.Errorf("got %+v, %v; want Path %s, Dir %s, Name render", j, err, path, dir)
	}
	if _, err := LoadJobFile(filepath.Join(dir, "nope.toml")); err == nil || !os.IsNotExist(err) && !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: got %v", err)
	}
}

// TestJobFileValidateCode checks a job built in code, as the submit
// command's flags build one: problems name the key, without file or line.
func TestJobFileValidateCode(t *testing.T) {
	j := &JobFile{Command: []string{"echo", "{indx}"}, Count: -1, Rank: "x"}
	want := []string{
		"count: -1: want 1 to 100000 tasks",
		"command[1]: {indx} is not a parameter; did you mean {index}? (write {{indx}} for the text {indx})",
		`rank: "x" is not one of "dedicated", "memory" or "cpus"`,
	}
	got := problems(j.Validate())
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
	j = &JobFile{Command: []string{"echo", "{index}"}, Count: 3}
	if err := j.Validate(); err != nil {
		t.Errorf("a good job: %v", err)
	}
}

func TestJobFileNumTasks(t *testing.T) {
	tests := []struct {
		j    JobFile
		want int
	}{
		{JobFile{}, 1},
		{JobFile{Count: 7}, 7},
		{JobFile{Tasks: []TaskParams{{}, {}}}, 2},
		{JobFile{Sweep: []SweepParam{{"a", []string{"1", "2", "3"}}, {"b", []string{"x", "y"}}}}, 6},
		{JobFile{Sweep: []SweepParam{{"a", make([]string, 1000)}, {"b", make([]string, 1000)}, {"c", make([]string, 1<<20)}}}, -1},
	}
	for _, tt := range tests {
		if got := tt.j.NumTasks(); got != tt.want {
			t.Errorf("NumTasks of %d sweep params, count %d, %d tasks: got %d, want %d", len(tt.j.Sweep), tt.j.Count, len(tt.j.Tasks), got, tt.want)
		}
	}
}

// FuzzJobFile feeds arbitrary files to ParseJobFile: it must never panic,
// every problem must name the file, and a job that loads must validate
// again and expand to NumTasks tasks with a full command each.
func FuzzJobFile(f *testing.F) {
	for _, s := range []string{
		"",
		"version = 1\ncommand = [\"echo\", \"{index}\"]\ncount = 3\n",
		"version = 1\ncommand = [\"r\", \"{a}\", \"{b}\"]\n[sweep]\na = [1, 2.5, true]\nb = { from = 1, to = 9, step = 4 }\n",
		"version = 1\ncommand = [\"r\", \"{x}\"]\ninputs = [\"in-{x}\"]\n[[task]]\nx = \"a\"\n[[task]]\nx = \"b\"\n",
		"version = 1\ncommand = [\"r\", \"{{x}}\", \"${HOME}\", \"{ print }\"]\noutputs = [\"o/{index}/*\"]\n[env]\nA = \"{index}\"\n[requirements]\ncpus = 2\nmemory = \"1GiB\"\nos = \"linux\"\n",
		"version = 1\ncommand = 1\ncount = \"x\"\n[sweep]\nretries = [1]\nx = { from = 5, to = 1 }\n",
		"version = 1\ntask = [1]\n[[task]]\n",
		"version = 2\n",
		"version = 1\ncommand = [\"a\"\n",
	} {
		f.Add([]byte(s))
	}
	path := filepath.Join(f.TempDir(), "job.toml")
	f.Fuzz(func(t *testing.T, data []byte) {
		j, err := ParseJobFile(path, data)
		if err != nil {
			for _, p := range problems(err) {
				if !strings.HasPrefix(p, path+":") {
					t.Errorf("problem %q does not name the file", p)
				}
			}
			return
		}
		if err := j.Validate(); err != nil {
			t.Fatalf("ParseJobFile succeeded but Validate fails: %v", err)
		}
		n := j.NumTasks()
		if n < 1 || n > MaxJobTasks {
			t.Fatalf("NumTasks = %d for a valid job", n)
		}
		if n > 2000 {
			return // valid, but too slow to expand on every fuzz run
		}
		x := j.Expand()
		if len(x.Tasks) != n {
			t.Fatalf("Expand made %d tasks, NumTasks says %d", len(x.Tasks), n)
		}
		for i, task := range x.Tasks {
			if task.Index != i || len(task.Argv) != len(j.Command) || task.Argv[0] == "" && j.Command[0] != "" {
				t.Fatalf("task %d: %+v from command %q", i, task, j.Command)
			}
		}
	})
}

// TestJobFileVerbatim checks a command line taken as written: braces are
// the command's own, not placeholders, and nothing is expanded.
func TestJobFileVerbatim(t *testing.T) {
	j := &JobFile{Verbatim: true, Dir: "/w", Command: []string{"awk", "{print}", "{index}"},
		Inputs: []string{"in-{x}.txt"}, Outputs: []string{"{y}/*"}, Env: map[string]string{"A": "{z}"}}
	if err := j.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	x := j.Expand()
	want := Expansion{Inputs: []string{"/w/in-{x}.txt"}, Outputs: []string{"{y}/*"}, Env: map[string]string{"A": "{z}"},
		Tasks: []ExpandedTask{{Argv: []string{"awk", "{print}", "{index}"}}}, sharedFrom: []int{0}}
	if !reflect.DeepEqual(x, want) {
		t.Errorf("got  %+v\nwant %+v", x, want)
	}
}
