package config

import (
	"maps"
	"path/filepath"
	"strconv"
	"strings"
)

// A placeholder is {name}, name being letters, digits and _ (not starting
// with a digit); {{name}} stands for the literal text {name}. Every other
// brace is plain text, so `awk '{ print $1 }'`, `{1..3}` and the shell's
// `${HOME}` need no escaping: only a brace pair around a bare name, not
// right after a $, is read as a placeholder.

// tmplPart is a literal run of text or a placeholder.
type tmplPart struct {
	text  string // the literal text, or the parameter name
	param bool
}

// template is a string split at its placeholders.
type template []tmplPart

// parseTemplate splits s at its placeholders.
func parseTemplate(s string) template {
	var t template
	var lit strings.Builder
	for i := 0; i < len(s); {
		if s[i] != '{' {
			lit.WriteByte(s[i])
			i++
			continue
		}
		if n := identAt(s, i+2); strings.HasPrefix(s[i:], "{{") && n > 0 && strings.HasPrefix(s[i+2+n:], "}}") {
			lit.WriteString(s[i+1 : i+3+n]) // {name}
			i += n + 4
			continue
		}
		if n := identAt(s, i+1); n > 0 && strings.HasPrefix(s[i+1+n:], "}") && (i == 0 || s[i-1] != '$') {
			if lit.Len() > 0 {
				t = append(t, tmplPart{text: lit.String()})
				lit.Reset()
			}
			t = append(t, tmplPart{text: s[i+1 : i+1+n], param: true})
			i += n + 2
			continue
		}
		lit.WriteByte('{')
		i++
	}
	if lit.Len() > 0 || len(t) == 0 {
		t = append(t, tmplPart{text: lit.String()})
	}
	return t
}

// identAt is the length of the identifier starting at s[i], or 0.
func identAt(s string, i int) int {
	n := 0
	for ; i+n < len(s); n++ {
		c := s[i+n]
		letter := c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !letter && !(n > 0 && c >= '0' && c <= '9') {
			break
		}
	}
	return n
}

// isIdent reports whether name can be written as a placeholder.
func isIdent(name string) bool { return name != "" && identAt(name, 0) == len(name) }

// params are the placeholder names in t, in order, repeats included.
func (t template) params() []string {
	var out []string
	for _, p := range t {
		if p.param {
			out = append(out, p.text)
		}
	}
	return out
}

// literal reports whether t has no placeholder.
func (t template) literal() bool { return len(t.params()) == 0 }

// expand fills t's placeholders from vals; a name without a value (the
// job was not validated) is left as written.
func (t template) expand(vals map[string]string) string {
	if len(t) == 1 && !t[0].param {
		return t[0].text
	}
	var b strings.Builder
	for _, p := range t {
		v, ok := vals[p.text]
		switch {
		case !p.param:
			b.WriteString(p.text)
		case ok:
			b.WriteString(v)
		default:
			b.WriteString("{" + p.text + "}")
		}
	}
	return b.String()
}

// Expansion is a job's tasks, ready to send: what every task shares, and
// what each has of its own (the fields whose templates had placeholders).
type Expansion struct {
	Inputs  []string          // shared input files; relative paths joined to the job's Dir
	Env     map[string]string // shared environment
	Outputs []string          // shared output globs
	Tasks   []ExpandedTask

	sharedFrom []int // index in JobFile.Inputs of each shared input
}

// ExpandedTask is one task of a job.
type ExpandedTask struct {
	Index   int     // its position; the engine's task ID is its decimal form
	Params  []Param // its parameter values, in the order of JobFile.Params (without index)
	Argv    []string
	Env     map[string]string // its own variables, on top of the shared ones
	Inputs  []string          // its own input files
	Outputs []string          // its own output globs

	inputFrom []int // index in JobFile.Inputs of each of its inputs
}

// Param is one parameter's value in a task.
type Param struct{ Name, Value string }

// Expand makes the job's tasks, in order: task i has Index i. It does no
// I/O and assumes a valid job (LoadJobFile or Validate said so); see
// CheckInputs for the files.
func (j *JobFile) Expand() Expansion {
	var x Expansion
	cmd := j.templates(j.Command)
	inputs := j.templates(j.Inputs)
	outputs := j.templates(j.Outputs)
	env := make(map[string]template, len(j.Env))
	for k, v := range j.Env {
		env[k] = j.template(v)
	}
	for i, t := range inputs {
		if t.literal() {
			x.Inputs = append(x.Inputs, j.inputPath(t.expand(nil)))
			x.sharedFrom = append(x.sharedFrom, i)
		}
	}
	for _, t := range outputs {
		if t.literal() {
			x.Outputs = append(x.Outputs, t.expand(nil))
		}
	}
	for k, t := range env {
		if t.literal() {
			if x.Env == nil {
				x.Env = map[string]string{}
			}
			x.Env[k] = t.expand(nil)
		}
	}
	n := j.NumTasks()
	if n < 0 {
		return x
	}
	x.Tasks = make([]ExpandedTask, n)
	for i := range n {
		params := j.paramsOf(i)
		vals := make(map[string]string, len(params)+1)
		vals["index"] = strconv.Itoa(i)
		for _, p := range params {
			vals[p.Name] = p.Value
		}
		t := ExpandedTask{Index: i, Params: params, Argv: make([]string, len(cmd))}
		for a, c := range cmd {
			t.Argv[a] = c.expand(vals)
		}
		for in, tm := range inputs {
			if !tm.literal() {
				t.Inputs = append(t.Inputs, j.inputPath(tm.expand(vals)))
				t.inputFrom = append(t.inputFrom, in)
			}
		}
		for _, tm := range outputs {
			if !tm.literal() {
				t.Outputs = append(t.Outputs, tm.expand(vals))
			}
		}
		for k, tm := range env {
			if !tm.literal() {
				if t.Env == nil {
					t.Env = map[string]string{}
				}
				t.Env[k] = tm.expand(vals)
			}
		}
		x.Tasks[i] = t
	}
	return x
}

// paramsOf are task i's parameter values.
func (j *JobFile) paramsOf(i int) []Param {
	switch {
	case len(j.Tasks) > 0:
		names := j.Params()[1:]
		out := make([]Param, len(names))
		for k, name := range names {
			out[k] = Param{name, j.Tasks[i][name]}
		}
		return out
	case len(j.Sweep) > 0:
		// Mixed radix, the last parameter the fastest digit: the order of
		// nested loops written in the file's order.
		out := make([]Param, len(j.Sweep))
		for k := len(j.Sweep) - 1; k >= 0; k-- {
			vals := j.Sweep[k].Values
			out[k] = Param{j.Sweep[k].Name, vals[i%len(vals)]}
			i /= len(vals)
		}
		return out
	}
	return nil
}

// inputPath is an input as the daemon needs it: relative to the job's Dir.
func (j *JobFile) inputPath(p string) string {
	if p == "" || filepath.IsAbs(p) || j.Dir == "" {
		return p
	}
	return filepath.Join(j.Dir, p)
}

// template parses s, unless the job is Verbatim.
func (j *JobFile) template(s string) template {
	if j.Verbatim {
		return template{{text: s}}
	}
	return parseTemplate(s)
}

// templates parses each string.
func (j *JobFile) templates(ss []string) []template {
	out := make([]template, len(ss))
	for i, s := range ss {
		out[i] = j.template(s)
	}
	return out
}

// TaskEnv is task t's whole environment: the shared one, then its own.
func (x Expansion) TaskEnv(t ExpandedTask) map[string]string {
	if len(t.Env) == 0 {
		return x.Env
	}
	env := maps.Clone(x.Env)
	if env == nil {
		env = map[string]string{}
	}
	maps.Copy(env, t.Env)
	return env
}
