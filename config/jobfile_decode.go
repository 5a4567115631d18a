package config

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// ParseJobFile is LoadJobFile for a file already in memory: path names the
// file in errors, and its directory is what relative inputs are relative to.
func ParseJobFile(path string, data []byte) (*JobFile, error) {
	if len(data) > maxJobFileSize {
		return nil, &FieldError{File: path, Err: fmt.Errorf("larger than %d bytes: is this really a job file?", maxJobFileSize)}
	}
	var top map[string]toml.Primitive
	md, err := toml.Decode(string(data), &top)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, &FieldError{File: path, Line: parseErrorLine(data, pe), Err: fmt.Errorf("bad TOML: %s", pe.Message)}
		}
		return nil, &FieldError{File: path, Err: fmt.Errorf("bad TOML: %w", err)}
	}
	d := &decoder{file: path, md: md, prims: map[string]toml.Primitive{}, failed: map[string]bool{}}
	j := &JobFile{Path: path, Dir: filepath.Dir(path), src: d}
	if stop := j.decodeVersion(d, top); stop != nil {
		return nil, stop
	}
	delete(top, "version")
	// Keys in sorted order, as Parse does: a walk that differs from run to
	// run makes coverage-guided fuzzing chase its own tail.
	for _, name := range slices.Sorted(maps.Keys(top)) {
		d.prims[name] = top[name]
		j.decodeTop(d, name, top[name])
	}
	if j.Name == "" && !d.failed["name"] {
		j.Name = DefaultJobName(path)
	}
	for _, fe := range j.validate() {
		base, _, _ := strings.Cut(fe.Key, "[")
		if d.failed[fe.Key] || d.failed[base] {
			continue // already reported as undecodable; its value is not the user's
		}
		fe.File, fe.Line = path, j.line(fe.Key)
		d.problems = append(d.problems, fe)
	}
	if len(d.problems) > 0 {
		return nil, d.err()
	}
	return j, nil
}

// decodeVersion checks `version`. A file of another version stops here
// (its keys would only add noise): the returned error is then the only one.
func (j *JobFile) decodeVersion(d *decoder, top map[string]toml.Primitive) error {
	p, ok := top["version"]
	if !ok {
		d.failed["version"] = true
		d.problems = append(d.problems, &FieldError{File: d.file, Line: 1, Key: "version",
			Err: fmt.Errorf("missing: add `version = %d` at the top of the job file", JobFileVersion)})
		return nil
	}
	d.prims["version"] = p
	v, isInt := d.raw(p).(int64)
	switch {
	case !isInt:
		d.add(toml.Key{"version"}, fmt.Errorf("%s; want the integer %d", describe(d.raw(p)), JobFileVersion))
	case v > JobFileVersion:
		return &FieldError{File: d.file, Line: d.lineOf(p), Key: "version",
			Err: fmt.Errorf("%d is newer than this build of scavenge reads (job file version %d): upgrade scavenge", v, JobFileVersion)}
	case v != JobFileVersion:
		return &FieldError{File: d.file, Line: d.lineOf(p), Key: "version",
			Err: fmt.Errorf("%d is not a job file version: this build reads version %d", v, JobFileVersion)}
	default:
		j.Version = int(v)
	}
	return nil
}

// decodeTop decodes one top-level key.
func (j *JobFile) decodeTop(d *decoder, name string, p toml.Primitive) {
	switch name {
	case "sweep":
		j.decodeSweep(d, p)
	case "task":
		j.decodeTasks(d, p)
	case "env":
		j.decodeEnv(d, p)
	case "requirements":
		sub, ok := subTable(d, toml.Key{name}, p)
		if !ok {
			return
		}
		dst := reflect.ValueOf(&j.Requirements).Elem()
		for _, k := range slices.Sorted(maps.Keys(sub)) {
			key := toml.Key{name, k}
			d.prims[key.String()] = sub[k]
			decodeLeaf(d, key, dst, sub[k])
		}
	default:
		decodeLeaf(d, toml.Key{name}, reflect.ValueOf(j).Elem(), p)
	}
}

// decodeLeaf stores a value that is not a table into the field of struct
// dst tagged with key's last part.
func decodeLeaf(d *decoder, key toml.Key, dst reflect.Value, p toml.Primitive) {
	name := key[len(key)-1]
	f, ok := jobField(dst, name)
	if !ok {
		d.add(key, unknownJobKey(dst.Type(), key))
		return
	}
	if suffix, err := setLeaf(f, d.raw(p)); err != nil {
		d.add(key, err)
		if suffix != "" {
			d.problems[len(d.problems)-1].Key += suffix
		}
	}
}

// jobField finds the field of v whose toml tag is name. The tables and
// untagged fields are not leaves and never match.
func jobField(v reflect.Value, name string) (reflect.Value, bool) {
	switch name {
	case "", "-", "sweep", "task", "env", "requirements":
		return reflect.Value{}, false
	}
	return fieldByTag(v, name)
}

// subTable decodes p as a table, reporting anything else at key.
func subTable(d *decoder, key toml.Key, p toml.Primitive) (map[string]toml.Primitive, bool) {
	raw := d.raw(p)
	if _, isTable := raw.(map[string]any); !isTable {
		d.add(key, fmt.Errorf("%s; want a table ([%s])", describe(raw), key))
		return nil, false
	}
	var sub map[string]toml.Primitive
	if err := d.md.PrimitiveDecode(p, &sub); err != nil {
		d.add(key, err) // cannot happen for a table; reported rather than lost
		return nil, false
	}
	return sub, true
}

// decodeEnv reads [env]: names to string values.
func (j *JobFile) decodeEnv(d *decoder, p toml.Primitive) {
	sub, ok := subTable(d, toml.Key{"env"}, p)
	if !ok {
		return
	}
	j.Env = make(map[string]string, len(sub))
	for _, k := range slices.Sorted(maps.Keys(sub)) {
		key := toml.Key{"env", k}
		d.prims[key.String()] = sub[k]
		raw := d.raw(sub[k])
		s, isString := raw.(string)
		if !isString {
			err := fmt.Errorf("%s; want a string", describe(raw))
			if hint := misplacedHint(k, "env"); hint != "" {
				err = fmt.Errorf("%w; %s", err, hint)
			}
			d.add(key, err)
			continue
		}
		j.Env[k] = s
	}
}

// decodeSweep reads [sweep]: each parameter is an array of values or an
// integer range, kept in the order the file lists them.
func (j *JobFile) decodeSweep(d *decoder, p toml.Primitive) {
	sub, ok := subTable(d, toml.Key{"sweep"}, p)
	if !ok {
		return
	}
	for _, name := range docOrder(d.md, "sweep", sub) {
		key := toml.Key{"sweep", name}
		d.prims[key.String()] = sub[name]
		if hint := misplacedHint(name, "sweep"); hint != "" {
			d.add(key, errors.New(hint))
			continue
		}
		values, suffix, err := sweepValues(d.raw(sub[name]))
		if err != nil {
			j.badParams = append(j.badParams, name)
			d.add(key, err)
			d.problems[len(d.problems)-1].Key += suffix
			continue
		}
		j.Sweep = append(j.Sweep, SweepParam{Name: name, Values: values})
	}
}

// docOrder returns the keys of table (a direct child of the top level)
// in the order the file writes them; the metadata remembers it.
func docOrder(md toml.MetaData, table string, sub map[string]toml.Primitive) []string {
	var out []string
	seen := map[string]bool{}
	for _, k := range md.Keys() {
		if len(k) == 2 && k[0] == table && !seen[k[1]] {
			if _, ok := sub[k[1]]; ok {
				seen[k[1]] = true
				out = append(out, k[1])
			}
		}
	}
	// Anything the metadata missed still counts, sorted after the rest.
	for _, k := range slices.Sorted(maps.Keys(sub)) {
		if !seen[k] {
			out = append(out, k)
		}
	}
	return out
}

// sweepValues turns a parameter's value (an array of scalars or a range
// table) into strings. suffix is "[i]" for a bad element of an array.
func sweepValues(raw any) (values []string, suffix string, err error) {
	switch v := raw.(type) {
	case []any:
		if len(v) == 0 {
			return nil, "", errors.New("no values; give at least one, e.g. [1, 2, 3]")
		}
		if len(v) > MaxJobTasks {
			return nil, "", fmt.Errorf("%d values: at most %d tasks in one job", len(v), MaxJobTasks)
		}
		out := make([]string, len(v))
		for i, e := range v {
			s, err := paramValue(e)
			if err != nil {
				return nil, "[" + strconv.Itoa(i) + "]", err
			}
			out[i] = s
		}
		return out, "", nil
	case map[string]any:
		out, err := rangeValues(v)
		return out, "", err
	}
	return nil, "", fmt.Errorf("%s; want an array of values, e.g. [1, 2, 3], or a range, e.g. { from = 1, to = 100 }", describe(raw))
}

// paramValue is a scalar as the text a placeholder is replaced with.
func paramValue(raw any) (string, error) {
	switch v := raw.(type) {
	case string:
		if strings.ContainsRune(v, 0) {
			return "", fmt.Errorf("%s contains a NUL byte", quoteShort(v))
		}
		return v, nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64), nil
	case bool:
		return strconv.FormatBool(v), nil
	}
	return "", fmt.Errorf("%s; want a string, a number or a boolean", describe(raw))
}

// rangeValues expands { from = A, to = B, step = S } (integers, B
// included, S > 0 and 1 by default).
func rangeValues(t map[string]any) ([]string, error) {
	var from, to, step int64 = 0, 0, 1
	var hasFrom, hasTo bool
	for _, k := range slices.Sorted(maps.Keys(t)) {
		n, isInt := t[k].(int64)
		switch {
		case k != "from" && k != "to" && k != "step":
			return nil, fmt.Errorf("a range has from, to and step, not %q", k)
		case !isInt:
			return nil, fmt.Errorf("range %s: %s; want an integer", k, describe(t[k]))
		case k == "from":
			from, hasFrom = n, true
		case k == "to":
			to, hasTo = n, true
		default:
			step = n
		}
	}
	switch {
	case !hasFrom || !hasTo:
		return nil, errors.New("a range needs from and to, e.g. { from = 1, to = 100 }")
	case step <= 0:
		return nil, fmt.Errorf("range step %d: want a positive step", step)
	case to < from:
		return nil, fmt.Errorf("range from %d to %d is empty: to must be at least from", from, to)
	}
	// Counted in unsigned arithmetic: to-from overflows int64 for ranges
	// across the whole integer line.
	if n := (uint64(to)-uint64(from))/uint64(step) + 1; n > MaxJobTasks || n == 0 {
		return nil, fmt.Errorf("range from %d to %d has more than %d values, the most tasks one job may have", from, to, MaxJobTasks)
	}
	var out []string
	for v := from; ; v += step {
		out = append(out, strconv.FormatInt(v, 10))
		if uint64(to)-uint64(v) < uint64(step) { // v <= to: the unsigned difference is exact
			return out, nil
		}
	}
}

// decodeTasks reads [[task]]: each entry is one task's parameter values.
func (j *JobFile) decodeTasks(d *decoder, p toml.Primitive) {
	raw := d.raw(p)
	var entries []map[string]toml.Primitive
	if !isArrayOfTables(raw) || d.md.PrimitiveDecode(p, &entries) != nil {
		d.add(toml.Key{"task"}, fmt.Errorf("%s; want one [[task]] table per task, each with its parameter values", describe(raw)))
		return
	}
	if len(entries) > MaxJobTasks {
		d.add(toml.Key{"task"}, fmt.Errorf("%d tasks: at most %d in one job", len(entries), MaxJobTasks))
		return
	}
	j.Tasks = make([]TaskParams, 0, len(entries))
	for i, e := range entries {
		t := TaskParams{}
		for _, name := range slices.Sorted(maps.Keys(e)) {
			key := indexKey("task", i) + "." + toml.Key{name}.String()
			d.prims[key] = e[name]
			v, err := paramValue(d.raw(e[name]))
			if hint := misplacedHint(name, "[task]"); hint != "" {
				err = errors.New(hint)
			}
			if err != nil {
				j.badParams = append(j.badParams, name)
				d.failed[key] = true
				d.problems = append(d.problems, &FieldError{File: d.file, Line: d.line(key), Key: key, Err: err})
				continue
			}
			t[name] = v
		}
		if len(e) > 0 {
			// A line of the entry, for problems of the entry as a whole. Not
			// the smallest: each line lookup is a pass over the file.
			d.prims[indexKey("task", i)] = e[slices.Min(slices.Collect(maps.Keys(e)))]
		}
		j.Tasks = append(j.Tasks, t)
	}
}

// isArrayOfTables reports whether raw is [[x]] tables or an array of
// inline tables.
func isArrayOfTables(raw any) bool {
	switch v := raw.(type) {
	case []map[string]any:
		return true
	case []any:
		for _, e := range v {
			if _, ok := e.(map[string]any); !ok {
				return false
			}
		}
		return len(v) > 0
	}
	return false
}

// jobKeyHelp maps keys people write by habit to what they meant.
var jobKeyHelp = map[string]string{
	"timeout":      `did you mean task_timeout (the limit per task) or wait_timeout (the wait for an idle peer)?`,
	"args":         `did you mean command (the whole argv, e.g. ["python3", "run.py", "{index}"])?`,
	"argv":         `did you mean command (the whole argv, e.g. ["python3", "run.py", "{index}"])?`,
	"cmd":          `did you mean command (the whole argv, e.g. ["python3", "run.py", "{index}"])?`,
	"executable":   `did you mean command (the whole argv, e.g. ["python3", "run.py", "{index}"])?`,
	"queue":        `write count = N, or a [sweep] table of parameter values`,
	"tasks":        `did you mean count = N, or [[task]] tables?`,
	"environment":  `did you mean [env]?`,
	"memory_bytes": `did you mean memory (e.g. "4GiB") in [requirements]?`,
}

// unknownJobKey explains an unknown key of the job file or of its
// [requirements], suggesting what was meant.
func unknownJobKey(t reflect.Type, key toml.Key) error {
	name := key[len(key)-1]
	if help, ok := jobKeyHelp[name]; ok {
		return fmt.Errorf("unknown key; %s", help)
	}
	known := jobKeys(t)
	if best := closest(name, known); best != "" {
		return fmt.Errorf("unknown key; did you mean %q?", best)
	}
	if len(key) == 1 && slices.Contains(jobKeys(reflect.TypeFor[JobRequirements]()), name) {
		return errors.New("unknown key here: it belongs in [requirements]")
	}
	if len(key) == 2 && slices.Contains(topJobKeys, name) {
		return errors.New("unknown key here: it is a top-level key, to write before any [table] (keys after a [table] line belong to that table)")
	}
	where := "the top level"
	if len(key) > 1 {
		where = "[" + key[:len(key)-1].String() + "]"
	}
	return fmt.Errorf("unknown key (the keys of %s are %s)", where, strings.Join(known, ", "))
}

// topJobKeys are the top-level keys of a job file.
var topJobKeys = jobKeys(reflect.TypeFor[JobFile]())

// jobKeys are the keys of a job file struct, in declaration order.
func jobKeys(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		if n := tomlName(t.Field(i)); n != "" && n != "-" {
			out = append(out, n)
		}
	}
	return out
}

// misplacedHint is non-empty when name, found inside table, is a
// top-level job file key. TOML puts every key after a [table] line into
// that table, so a key written below [sweep] lands in it; parameters may
// not take these names, so the mistake cannot pass unseen.
func misplacedHint(name, table string) string {
	if !slices.Contains(topJobKeys, name) {
		return ""
	}
	return fmt.Sprintf("%s is a top-level key: move it above the first [table] line (keys after [%s] belong to that table; parameters cannot have the names of job file keys)", name, table)
}
