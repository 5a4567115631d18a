package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseTemplate(t *testing.T) {
	tests := []struct {
		in     string
		params []string
		out    string // with index=7, x=X
	}{
		{"", nil, ""},
		{"plain", nil, "plain"},
		{"{index}", []string{"index"}, "7"},
		{"a-{x}-{index}.bin", []string{"x", "index"}, "a-X-7.bin"},
		{"{x}{x}", []string{"x", "x"}, "XX"},
		{"{{x}}", nil, "{x}"},
		{"{{{x}}}", nil, "{{x}}"}, // a brace, then the escape, then a brace
		{"{ print $1 }", nil, "{ print $1 }"},
		{"${HOME}/{x}", []string{"x"}, "${HOME}/X"},
		{"{1..3}", nil, "{1..3}"},
		{"{x", nil, "{x"},
		{"x}", nil, "x}"},
		{"{}", nil, "{}"},
		{"{a-b}", nil, "{a-b}"},
		{"{_x1}", []string{"_x1"}, "{_x1}"}, // no value: left as written
		{"{{}}", nil, "{{}}"},
	}
	vals := map[string]string{"index": "7", "x": "X"}
	for _, tt := range tests {
		tm := parseTemplate(tt.in)
		if got := tm.params(); strings.Join(got, ",") != strings.Join(tt.params, ",") {
			t.Errorf("%q: params %q, want %q", tt.in, got, tt.params)
		}
		if got := tm.expand(vals); got != tt.out {
			t.Errorf("%q: expands to %q, want %q", tt.in, got, tt.out)
		}
		if tm.literal() != (len(tt.params) == 0) {
			t.Errorf("%q: literal() = %v", tt.in, tm.literal())
		}
	}
}

func TestJobFileExpand(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		text string
		want Expansion
	}{
		{"one command", `version = 1
command = ["echo", "{index}"]
inputs = ["a.txt", "/abs/b.txt"]
outputs = ["*.out"]
[env]
K = "v"
`, Expansion{
			Inputs: []string{filepath.Join(dir, "a.txt"), "/abs/b.txt"}, Env: map[string]string{"K": "v"}, Outputs: []string{"*.out"},
			Tasks: []ExpandedTask{{Index: 0, Argv: []string{"echo", "0"}}},
		}},
		{"count with per-task inputs, outputs and env", `version = 1
command = ["sh", "run.sh", "{index}"]
count = 3
inputs = ["run.sh", "parts/p{index}.bin"]
outputs = ["r.txt", "log-{index}.txt"]
[env]
SEED = "s{index}"
MODE = "fast"
`, Expansion{
			Inputs: []string{filepath.Join(dir, "run.sh")}, Env: map[string]string{"MODE": "fast"}, Outputs: []string{"r.txt"},
			Tasks: []ExpandedTask{
				{Index: 0, Argv: []string{"sh", "run.sh", "0"}, Env: map[string]string{"SEED": "s0"}, Inputs: []string{filepath.Join(dir, "parts/p0.bin")}, Outputs: []string{"log-0.txt"}},
				{Index: 1, Argv: []string{"sh", "run.sh", "1"}, Env: map[string]string{"SEED": "s1"}, Inputs: []string{filepath.Join(dir, "parts/p1.bin")}, Outputs: []string{"log-1.txt"}},
				{Index: 2, Argv: []string{"sh", "run.sh", "2"}, Env: map[string]string{"SEED": "s2"}, Inputs: []string{filepath.Join(dir, "parts/p2.bin")}, Outputs: []string{"log-2.txt"}},
			},
		}},
		{"sweep: every combination, the last parameter fastest", `version = 1
command = ["run", "{size}", "{algo}", "#{index}"]
[sweep]
size = [10, 20]
algo = ["a", "b", "c"]
`, Expansion{Tasks: []ExpandedTask{
			{Index: 0, Params: []Param{{"size", "10"}, {"algo", "a"}}, Argv: []string{"run", "10", "a", "#0"}},
			{Index: 1, Params: []Param{{"size", "10"}, {"algo", "b"}}, Argv: []string{"run", "10", "b", "#1"}},
			{Index: 2, Params: []Param{{"size", "10"}, {"algo", "c"}}, Argv: []string{"run", "10", "c", "#2"}},
			{Index: 3, Params: []Param{{"size", "20"}, {"algo", "a"}}, Argv: []string{"run", "20", "a", "#3"}},
			{Index: 4, Params: []Param{{"size", "20"}, {"algo", "b"}}, Argv: []string{"run", "20", "b", "#4"}},
			{Index: 5, Params: []Param{{"size", "20"}, {"algo", "c"}}, Argv: []string{"run", "20", "c", "#5"}},
		}}},
		{"task list", `version = 1
command = ["go", "test", "-run={{index}}"]
[[task]]
GOOS = "linux"
GOARCH = "amd64"
[[task]]
GOOS = "windows"
GOARCH = "arm64"
[env]
GOOS = "{GOOS}"
GOARCH = "{GOARCH}"
`, Expansion{Tasks: []ExpandedTask{
			{Index: 0, Params: []Param{{"GOARCH", "amd64"}, {"GOOS", "linux"}}, Argv: []string{"go", "test", "-run={index}"}, Env: map[string]string{"GOOS": "linux", "GOARCH": "amd64"}},
			{Index: 1, Params: []Param{{"GOARCH", "arm64"}, {"GOOS", "windows"}}, Argv: []string{"go", "test", "-run={index}"}, Env: map[string]string{"GOOS": "windows", "GOARCH": "arm64"}},
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseJob(t, dir, tt.text).Expand()
			// The unexported back references are checked by CheckInputs' tests.
			got.sharedFrom = nil
			for i := range got.Tasks {
				got.Tasks[i].inputFrom = nil
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestExpansionTaskEnv(t *testing.T) {
	x := Expansion{Env: map[string]string{"A": "1", "B": "2"}}
	got := x.TaskEnv(ExpandedTask{Env: map[string]string{"B": "3", "C": "4"}})
	if want := map[string]string{"A": "1", "B": "3", "C": "4"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if x.Env["B"] != "2" {
		t.Errorf("TaskEnv changed the shared env: %v", x.Env)
	}
}

func TestCheckInputs(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"shared.bin", "p0.bin", "p1.bin", "sub/shared.bin"} {
		p := filepath.Join(dir, f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.Mkdir(filepath.Join(dir, "adir"), 0o755)
	tests := []struct {
		name, text string
		want       []string
	}{
		{"all there", `version = 1
command = ["run", "{index}"]
count = 2
inputs = ["shared.bin", "p{index}.bin"]
`, nil},
		{"missing per-task and shared", `version = 1
command = ["run", "{index}"]
count = 3
inputs = ["nope.bin", "p{index}.bin", "adir"]
`, []string{
			"DIR/job.toml:4: inputs[0]: DIR/nope.bin does not exist",
			"DIR/job.toml:4: inputs[2]: DIR/adir is a directory; inputs are files (list them, or pack them into an archive)",
			"DIR/job.toml:4: inputs[1]: task 2: DIR/p2.bin does not exist",
		}},
		{"the same base name twice", `version = 1
command = ["run", "{x}"]
inputs = ["shared.bin", "sub/shared.bin", "{x}/shared.bin"]
[sweep]
x = ["sub", "."]
`, []string{
			"DIR/job.toml:3: inputs[1]: shared.bin and sub/shared.bin would both be shared.bin in the task directory",
			"DIR/job.toml:3: inputs[2]: task 0: shared.bin and DIR/sub/shared.bin would both be shared.bin in the task directory",
			"DIR/job.toml:3: inputs[2]: task 1: shared.bin and DIR/shared.bin would both be shared.bin in the task directory",
		}},
		{"one mistake in many tasks is told a few times", `version = 1
command = ["run", "{index}"]
count = 100
inputs = ["part-{index}.bin"]
`, []string{
			"DIR/job.toml:4: inputs[0]: task 0: DIR/part-0.bin does not exist",
			"DIR/job.toml:4: inputs[0]: task 1: DIR/part-1.bin does not exist",
			"DIR/job.toml:4: inputs[0]: task 2: DIR/part-2.bin does not exist",
			"DIR/job.toml:4: inputs[0]: task 3: DIR/part-3.bin does not exist",
			"DIR/job.toml:4: inputs[0]: task 4: DIR/part-4.bin does not exist",
			"DIR/job.toml:4: inputs[0]: and 95 more tasks with the same problem",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := parseJob(t, dir, tt.text)
			got := problems(j.CheckInputs(j.Expand()))
			for i := range got {
				got[i] = strings.ReplaceAll(got[i], dir, "DIR")
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(tt.want, "\n\t"))
			}
		})
	}
}

// BenchmarkJobFileExpand prints what loading and expanding the largest
// job (100,000 tasks) costs.
func BenchmarkJobFileExpand(b *testing.B) {
	text := []byte(`version = 1
command = ["render", "--frame", "{frame}", "--seed", "{seed}"]
inputs = ["scene.blend", "parts/{frame}.bin"]
[env]
SEED = "{seed}"
[sweep]
frame = { from = 1, to = 1000 }
seed = { from = 1, to = 100 }
`)
	for b.Loop() {
		j, err := ParseJobFile("/jobs/job.toml", text)
		if err != nil {
			b.Fatal(err)
		}
		if x := j.Expand(); len(x.Tasks) != 100_000 {
			b.Fatal(fmt.Sprint(len(x.Tasks), " tasks"))
		}
	}
}

func TestSweepRange(t *testing.T) {
	const maxInt, minInt = 1<<63 - 1, -1 << 63
	tests := []struct {
		from, to, step int64
		want           string
	}{
		{1, 3, 1, "1 2 3"},
		{0, 10, 4, "0 4 8"},
		{-2, 2, 2, "-2 0 2"},
		{5, 5, 1, "5"},
		{maxInt - 2, maxInt, 2, "9223372036854775805 9223372036854775807"},
		{minInt, maxInt, 1 << 62, "-9223372036854775808 -4611686018427387904 0 4611686018427387904"},
	}
	for _, tt := range tests {
		got, err := rangeValues(map[string]any{"from": tt.from, "to": tt.to, "step": tt.step})
		if err != nil || strings.Join(got, " ") != tt.want {
			t.Errorf("range %d..%d step %d: got %q, %v; want %q", tt.from, tt.to, tt.step, got, err, tt.want)
		}
	}
}

// BenchmarkJobFileTaskList prints what loading a job file with an explicit
// list of 10,000 [[task]] tables costs.
func BenchmarkJobFileTaskList(b *testing.B) {
	var text strings.Builder
	text.WriteString("version = 1\ncommand = [\"run\", \"{a}\", \"{b}\"]\n")
	for i := range 10_000 {
		fmt.Fprintf(&text, "[[task]]\na = %d\nb = \"x%d\"\n", i, i)
	}
	data := []byte(text.String())
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := ParseJobFile("/jobs/job.toml", data); err != nil {
			b.Fatal(err)
		}
	}
}
