package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/scavenge/scavenge/config"
	"github.com/scavenge/scavenge/scavenger"
)

// jobDir makes a folder with the given files (name -> content) and returns it.
func jobDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const renderJob = `version = 1
name = "render"
command = ["render", "--frame", "{frame}", "--q", "{quality}", "awk '{ print }'"]
inputs = ["scene.blend", "parts/{frame}.bin"]
outputs = ["out/*.png"]
out_dir = "results"
retries = 2
task_timeout = "30m"
checkpoint = "signal"
checkpoint_every = "10m"
[env]
SEED = "{index}"
MODE = "fast"
[requirements]
cpus = 2
memory = "4GiB"
os = "linux"
[sweep]
frame = [1, 2]
quality = ["low", "high"]
`

func TestSubmitDryRunJobFile(t *testing.T) {
	dir := jobDir(t, map[string]string{"job.toml": renderJob, "scene.blend": "s", "parts/1.bin": "1", "parts/2.bin": "2"})
	want := `job "render" from DIR/job.toml: 4 tasks, a sweep of frame (2) x quality (2)
  dir      DIR (input paths are relative to it)
  inputs   scene.blend
  outputs  out/*.png
  env      MODE=fast
  out dir  DIR/results/<task>/
  needs    2 cpus, 4GiB memory, os linux
  runs     2 retries of a failed exit, task timeout 30m00s, checkpoints with signal every 10m00s
  note     checkpoint = "signal": each task must save its state in $SCAVENGE_CHECKPOINT_DIR and exit 85 on SIGUSR2 (see the README), or it restarts from scratch when it moves
TASK  COMMAND                                            INPUTS       ENV
0     render --frame 1 --q low 'awk '\''{ print }'\'''   parts/1.bin  SEED=0
1     render --frame 1 --q high 'awk '\''{ print }'\'''  parts/1.bin  SEED=1
2     render --frame 2 --q low 'awk '\''{ print }'\'''   parts/2.bin  SEED=2
3     render --frame 2 --q high 'awk '\''{ print }'\'''  parts/2.bin  SEED=3
dry run: nothing was submitted
`
	// Both orders: flags before the file, and after it.
	for _, args := range [][]string{
		{"submit", "--dry-run", filepath.Join(dir, "job.toml")},
		{"submit", filepath.Join(dir, "job.toml"), "--dry-run"},
	} {
		code, stdout, stderr := runCLI(t, nil, args...)
		got := strings.ReplaceAll(stdout, dir, "DIR")
		if code != 0 || stderr != "" || got != want {
			t.Errorf("%q: exit %d, stderr %q, stdout\n%s\nwant\n%s", args, code, stderr, got, want)
		}
	}
}

func TestSubmitDryRunFlags(t *testing.T) {
	dir := jobDir(t, map[string]string{"p0.bin": "0", "p1.bin": "1"})
	t.Chdir(dir)
	code, stdout, stderr := runCLI(t, nil, "submit", "--dry-run", "--count", "2", "--name", "pairs",
		"--input", "p{index}.bin", "--output", "r{index}.txt", "--env", "I={index}", "--retries", "1",
		"--replicas", "2", "--rank", "memory", "--task-timeout", "90s", "--", "sh", "-c", "cat p{index}.bin > r{index}.txt")
	want := `job "pairs": 2 tasks
  dir      DIR (input paths are relative to it)
  outputs  r0.txt r1.txt
  out dir  DIR/scavenge-out/<job ID>/<task>/
  needs    1 cpu
  runs     1 retry of a failed exit, task timeout 1m30s, 2 replicas (results compared), rank memory
TASK  COMMAND                      INPUTS  ENV
0     sh -c 'cat p0.bin > r0.txt'  p0.bin  I=0
1     sh -c 'cat p1.bin > r1.txt'  p1.bin  I=1
dry run: nothing was submitted
`
	if got := strings.ReplaceAll(stdout, dir, "DIR"); code != 0 || stderr != "" || got != want {
		t.Errorf("exit %d, stderr %q, stdout\n%s\nwant\n%s", code, stderr, got, want)
	}

	// Without --count the command is taken as written: braces are its own.
	code, stdout, _ = runCLI(t, nil, "submit", "--dry-run", "--env", "A={x}", "--", "awk", "{print}", "{index}")
	want = `job: one command
  command  awk '{print}' '{index}'
  env      'A={x}'
  out dir  DIR/scavenge-out/<job ID>/
  needs    1 cpu
  runs     no retries
dry run: nothing was submitted
`
	if got := strings.ReplaceAll(stdout, dir, "DIR"); code != 0 || got != want {
		t.Errorf("one command: exit %d, stdout\n%s\nwant\n%s", code, got, want)
	}
}

// TestSubmitJobErrors checks that bad jobs are refused before anything is
// sent: no daemon runs here, so reaching it would be another error.
func TestSubmitJobErrors(t *testing.T) {
	dir := jobDir(t, map[string]string{
		"bad.toml":     "version = 1\ncomand = [\"a\"]\ncommand = [\"run\", \"{frme}\"]\n[sweep]\nframe = [1, 2]\n",
		"missing.toml": "version = 1\ncommand = [\"run\"]\ncount = 3\ninputs = [\"p{index}.bin\"]\n",
		"p0.bin":       "0",
		"p1.bin":       "1",
	})
	t.Chdir(dir)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     string // stderr, DIR for the folder
	}{
		{"bad job file", []string{"submit", "bad.toml"}, 1,
			"scavenge: DIR/bad.toml:2: comand: unknown key; did you mean \"command\"?\n" +
				"DIR/bad.toml:3: command[1]: {frme} is not a parameter; did you mean {frame}? (write {{frme}} for the text {frme})\n" +
				"DIR/bad.toml:5: sweep.frame: not used: no {frame} in the command, inputs, outputs or env, so every task would run the same\n"},
		{"missing input of one task", []string{"submit", "--dry-run", "missing.toml"}, 1,
			"scavenge: DIR/missing.toml:4: inputs[0]: task 2: DIR/p2.bin does not exist\n"},
		{"no such job file", []string{"submit", "nope.toml"}, 1,
			"scavenge: reading job file: open DIR/nope.toml: no such file or directory\n"},
		{"flags that belong in the file", []string{"submit", "--cpus", "2", "--env", "A=1", "missing.toml"}, 2,
			"scavenge submit: --cpus, --env: with a job file, set this in the file (only --home, --dry-run, --detach, --allow-local, --timeout, --out-dir go with one)\nRun 'scavenge submit -h' for usage.\n"},
		{"two job files", []string{"submit", "bad.toml", "missing.toml"}, 2,
			"scavenge submit: unexpected argument \"missing.toml\"\nRun 'scavenge submit -h' for usage.\n"},
		{"bad flags of a many-task command", []string{"submit", "--count", "2", "--rank", "fast", "--replicas", "3", "--", "echo", "{indx}"}, 2,
			"scavenge submit: the command: {indx} is not a parameter; did you mean {index}? (write {{indx}} for the text {indx})\n" +
				"--rank: \"fast\" is not one of \"dedicated\", \"memory\" or \"cpus\"\n" +
				"--replicas: 3: want 1 (each task runs once) or 2 (on two peers, whose results must agree)\n" +
				"Run 'scavenge submit -h' for usage.\n"},
		{"missing input of a many-task command", []string{"submit", "--count", "3", "--input", "p{index}.bin", "--", "cat", "p{index}.bin"}, 1,
			"scavenge: --input: task 2: DIR/p2.bin does not exist\n"},
		{"bad --os", []string{"submit", "--os", "macos", "--", "true"}, 2,
			"scavenge submit: --os: \"macos\": Go's name for it is \"darwin\"\nRun 'scavenge submit -h' for usage.\n"},
		{"negative --count", []string{"submit", "--count", "-1", "--", "true"}, 2,
			"scavenge submit: --count -1: want 1 or more tasks\nRun 'scavenge submit -h' for usage.\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, nil, tt.args...)
			if got := strings.ReplaceAll(stderr, dir, "DIR"); code != tt.wantCode || got != tt.want {
				t.Errorf("exit %d, stderr\n%s\nwant %d and\n%s", code, got, tt.wantCode, tt.want)
			}
		})
	}
}

// TestSubmitTomlAfterDashes runs a .toml file named after -- as the
// command it then is, not as a job file.
func TestSubmitTomlAfterDashes(t *testing.T) {
	code, stdout, _ := runCLI(t, nil, "submit", "--dry-run", "--", "./x.toml", "a")
	if code != 0 || !strings.Contains(stdout, "  command  ./x.toml a\n") {
		t.Errorf("exit %d, stdout %q; want the command ./x.toml a", code, stdout)
	}
}

func TestJobRequest(t *testing.T) {
	one := &config.JobFile{Dir: "/jobs", Name: "n", Command: []string{"run"}, Inputs: []string{"a", "b-{index}"},
		Outputs: []string{"o", "p-{index}"}, Env: map[string]string{"A": "1", "B": "{index}"}, OutDir: "res",
		Requirements: config.JobRequirements{Memory: config.MiB}, Rank: "cpus", Retries: 1, Replicas: 2}
	got, err := jobRequest(one, one.Expand(), "/cwd")
	want := scavenger.SubmitRequest{Name: "n", Argv: []string{"run"}, Env: map[string]string{"A": "1", "B": "0"},
		Inputs: []string{"/jobs/a", "/jobs/b-0"}, Outputs: []string{"o", "p-0"}, OutDir: "/jobs/res",
		Requirements: scavenger.Requirements{CPUs: 1, MemoryBytes: 1 << 20}, Rank: scavenger.RankCPUs, Retries: 1, Replicas: 2, Cwd: "/cwd"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("one command: got %+v, %v\nwant %+v", got, err, want)
	}

	many := &config.JobFile{Dir: "/jobs", Command: []string{"run", "{index}"}, Count: 2, Inputs: []string{"a", "b-{index}"},
		Outputs: []string{"o", "p-{index}", "q"}, Env: map[string]string{"A": "1", "B": "{index}"}}
	got, err = jobRequest(many, many.Expand(), "/cwd")
	want = scavenger.SubmitRequest{Env: map[string]string{"A": "1"}, Inputs: []string{"/jobs/a"},
		// The engine takes outputs per job: the tasks' own are added.
		Outputs: []string{"o", "q", "p-0", "p-1"}, Requirements: scavenger.Requirements{CPUs: 1}, Cwd: "/cwd",
		Tasks: []scavenger.TaskRequest{
			{Argv: []string{"run", "0"}, Env: map[string]string{"B": "0"}, Inputs: []string{"/jobs/b-0"}},
			{Argv: []string{"run", "1"}, Env: map[string]string{"B": "1"}, Inputs: []string{"/jobs/b-1"}},
		}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("many tasks: got %+v, %v\nwant %+v", got, err, want)
	}

	many.Count, many.Path = 300, "/jobs/job.toml"
	if _, err := jobRequest(many, many.Expand(), "/cwd"); err == nil || !strings.HasPrefix(err.Error(), "/jobs/job.toml: outputs: the tasks' output globs make 302 different globs, more than the 256") {
		t.Errorf("300 tasks with an output each: got %v, want too many globs", err)
	}
}

// TestSubmitManyTasks submits a job file of three tasks to the test
// daemon (its donor is bob): each gets its own input and returns its own
// output, one exits 3, and submit prints a line per task start and end, a
// summary, and exits 1.
func TestSubmitManyTasks(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two peers and runs real tasks")
	}
	d := startTestDaemon(t)
	dir := jobDir(t, map[string]string{
		"job.toml": `version = 1
name = "squares"
command = ["sh", "-c", "echo $(( $(cat n-{index}.txt) * $(cat n-{index}.txt) )) > sq.txt; exit {code}"]
inputs = ["n-{index}.txt"]
outputs = ["sq.txt"]
wait_timeout = "1m"
[[task]]
code = 0
[[task]]
code = 0
[[task]]
code = 3
`,
		"n-0.txt": "3", "n-1.txt": "4", "n-2.txt": "5",
	})
	out := filepath.Join(dir, "res")
	code, stdout, stderr := runCLI(t, d.vars, "submit", "--out-dir", out, filepath.Join(dir, "job.toml"))
	if code != 1 {
		t.Errorf("exit %d, want 1 (a task exited 3)", code)
	}
	m := regexp.MustCompile(`^job (\w+): 3 tasks submitted`).FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("stdout does not start with the job: %q", stdout)
	}
	id := m[1]
	for _, want := range []string{
		"task 0 started on bob\n", "task 1 started on bob\n", "task 2 started on bob\n",
		"task 2 failed: exit 3 on bob\n",
		fmt.Sprintf("job %s finished: 2 of 3 tasks succeeded, 1 failed, in ", id),
		"  task 2 failed: exit 3 on bob\n",
		"outputs in " + filepath.Join(out, "<task>") + string(filepath.Separator) + "\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q", want)
		}
	}
	if n := regexp.MustCompile(`task \d done in \S+ on bob\n`).FindAllString(stdout, -1); len(n) != 2 {
		t.Errorf("%d tasks reported done, want 2", len(n))
	}
	if want := fmt.Sprintf("scavenge: job %s: 1 of 3 tasks failed\n", id); stderr != want {
		t.Errorf("stderr %q, want %q", stderr, want)
	}
	for task, want := range []string{"9\n", "16\n", "25\n"} {
		got, err := os.ReadFile(filepath.Join(out, fmt.Sprint(task), "sq.txt"))
		if err != nil || string(got) != want {
			t.Errorf("task %d output: got %q, %v; want %q", task, got, err, want)
		}
	}
}

// TestSubmitManyTasksInterrupted: Ctrl-C while tasks run cancels the job,
// says so, and exits 130.
func TestSubmitManyTasksInterrupted(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two peers and runs real tasks")
	}
	d := startTestDaemon(t)
	dir := jobDir(t, map[string]string{"job.toml": "version = 1\ncommand = [\"sleep\", \"60\"]\ncount = 2\n"})
	ctx, interrupt := context.WithCancel(context.Background())
	defer interrupt()
	r := startCLI(t, ctx, d.vars, "submit", filepath.Join(dir, "job.toml"))
	eventually(t, "a task to start", func() bool { return strings.Contains(r.stdout.String(), "started on bob") })
	interrupt()
	code, stdout, stderr := r.wait(t)
	id := regexp.MustCompile(`^job (\w+):`).FindStringSubmatch(stdout)
	if code != exitInterrupted || id == nil || !strings.Contains(stderr, "scavenge: cancelling job "+id[1]) {
		t.Fatalf("exit %d, stdout %q, stderr %q; want %d and the job cancelled", code, stdout, stderr, exitInterrupted)
	}
	if j := d.job(id[1]); j.State != scavenger.StateCancelled {
		t.Errorf("job state %s, want cancelled", j.State)
	}
}

// TestSubmitJobFileDetach: --detach prints the job's ID and leaves it
// running.
func TestSubmitJobFileDetach(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two peers and runs real tasks")
	}
	d := startTestDaemon(t)
	dir := jobDir(t, map[string]string{"job.toml": "version = 1\ncommand = [\"true\"]\ncount = 3\n"})
	code, stdout, _ := runCLI(t, d.vars, "submit", "--detach", "--out-dir", filepath.Join(dir, "out"), filepath.Join(dir, "job.toml"))
	id := strings.TrimSpace(stdout)
	if code != 0 || !regexp.MustCompile(`^\w+$`).MatchString(id) {
		t.Fatalf("exit %d, stdout %q; want 0 and a job ID", code, stdout)
	}
	d.waitTasks(id, scavenger.StateDone)
	if j := d.job(id); len(j.Tasks) != 3 || j.Request.OutDir != filepath.Join(dir, "out") {
		t.Errorf("job %s: %d tasks, out dir %s; want 3 and %s", id, len(j.Tasks), j.Request.OutDir, filepath.Join(dir, "out"))
	}
}

// TestSubmitOneCommand: a command line, and a job file without count,
// sweep or tasks, run as one command: its output live, its exit code.
func TestSubmitOneCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two peers and runs real tasks")
	}
	d := startTestDaemon(t)
	dir := jobDir(t, map[string]string{
		"one.toml": "version = 1\ncommand = [\"sh\", \"-c\", \"echo {index} $A; echo oops >&2; exit 4\"]\n[env]\nA = \"{index}\"\n",
	})
	for _, args := range [][]string{
		{"submit", "--env", "A=0", "--", "sh", "-c", "echo 0 $A; echo oops >&2; exit 4"},
		{"submit", filepath.Join(dir, "one.toml")},
	} {
		code, stdout, stderr := runCLI(t, d.vars, args...)
		if code != 4 || stdout != "0 0\n" || !strings.Contains(stderr, "oops\n") || !strings.Contains(stderr, "running on bob") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 4, \"0 0\\n\" and oops on stderr", args, code, stdout, stderr)
		}
	}
}
