package config

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// maxFileSize bounds what Load reads: a config file is a few kilobytes, and
// anything far bigger is a mistake (the wrong path) rather than a config.
const maxFileSize = 1 << 20

// Load reads the config file at path. Keys the file leaves out keep their
// Default values. The file must say `version = 1`; unknown keys, values of
// the wrong type, bad durations and sizes, and everything Validate rejects
// are errors. All problems are reported at once, joined with errors.Join,
// each a *FieldError naming the file, the line and the dotted key, e.g.
//
//	/tmp/a/scavenge.toml:12: donor.lease: "3 parsecs" is not a duration (use e.g. "30s", "10m", "1h30m")
//
// A missing file gives an error that satisfies errors.Is(err, fs.ErrNotExist).
func Load(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("reading config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return Config{}, fmt.Errorf("reading config: %w", err)
	}
	return Parse(path, data)
}

// Parse is Load for a file already in memory; name is the file name used in
// error messages.
func Parse(name string, data []byte) (Config, error) {
	if len(data) > maxFileSize {
		return Config{}, &FieldError{File: name, Err: fmt.Errorf("larger than %d bytes: is this really a config file?", maxFileSize)}
	}
	c := Default()
	d := &decoder{file: name, prims: map[string]toml.Primitive{}, failed: map[string]bool{}}

	var top map[string]toml.Primitive
	md, err := toml.Decode(string(data), &top)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return Config{}, &FieldError{File: name, Line: parseErrorLine(data, pe), Err: fmt.Errorf("bad TOML: %s", pe.Message)}
		}
		return Config{}, &FieldError{File: name, Err: fmt.Errorf("bad TOML: %w", err)}
	}
	d.md = md

	// The version decides how the rest is read, so it is checked first, and
	// a file of another version stops here: its keys would only add noise.
	if p, ok := top["version"]; !ok {
		// Line 1 is where the missing key belongs.
		d.failed["version"] = true
		d.problems = append(d.problems, &FieldError{File: name, Line: 1, Key: "version",
			Err: fmt.Errorf("missing: add `version = %d` at the top of the file", Version)})
	} else {
		delete(top, "version")
		d.prims["version"] = p
		line := d.lineOf(p)
		v, ok := d.raw(p).(int64)
		switch {
		case !ok:
			d.add(toml.Key{"version"}, fmt.Errorf("%s; want the integer %d", describe(d.raw(p)), Version))
		case v > Version:
			return Config{}, &FieldError{File: name, Line: line, Key: "version",
				Err: fmt.Errorf("%d is newer than this build of scavenge reads (version %d): upgrade scavenge", v, Version)}
		case v != Version:
			return Config{}, &FieldError{File: name, Line: line, Key: "version",
				Err: fmt.Errorf("%d is not a config version: this build reads version %d", v, Version)}
		}
	}

	d.table(nil, top, reflect.ValueOf(&c).Elem())

	for _, fe := range c.validate() {
		base, _, _ := strings.Cut(fe.Key, "[")
		if d.failed[base] {
			continue // already reported as undecodable; its value is not the user's
		}
		fe.File, fe.Line = name, d.line(base)
		if _, inFile := d.prims[base]; !inFile {
			// The value is a default that clashes with what the file says
			// elsewhere; without this the user would hunt for a missing line.
			fe.Err = fmt.Errorf("%w (this is the default: the file does not set it)", fe.Err)
		}
		d.problems = append(d.problems, fe)
	}
	if len(d.problems) > 0 {
		return Config{}, d.err()
	}
	return c, nil
}

// decoder walks the parsed file against the Config struct. BurntSushi's own
// struct decoding stops at the first bad value and cannot say on which line
// an unknown key is, so the file is decoded as toml.Primitive values one
// table at a time: each key is then matched to its field by hand, unknown
// keys are caught at once (what MetaData.Undecoded would report), and every
// bad value is recorded instead of ending the walk.
type decoder struct {
	file     string
	md       toml.MetaData
	prims    map[string]toml.Primitive // dotted key -> value, for every key in the file
	failed   map[string]bool           // dotted keys already reported
	problems []*FieldError
}

// add records a problem at key.
func (d *decoder) add(key toml.Key, err error) {
	d.failed[key.String()] = true
	d.problems = append(d.problems, &FieldError{File: d.file, Line: d.line(key.String()), Key: key.String(), Err: err})
}

// line returns the line of a dotted key in the file, or 0 if it is not
// there. Lines are looked up only for problems: each lookup costs a pass
// over the file text inside BurntSushi.
func (d *decoder) line(key string) int {
	p, ok := d.prims[key]
	if !ok {
		return 0
	}
	return d.lineOf(p)
}

// err joins the problems in file order; problems without a line (values
// left at a default that clash with the file) come last.
func (d *decoder) err() error {
	slices.SortStableFunc(d.problems, func(a, b *FieldError) int {
		la, lb := a.Line, b.Line
		if la == 0 {
			la = int(^uint(0) >> 1)
		}
		if lb == 0 {
			lb = int(^uint(0) >> 1)
		}
		if la != lb {
			return cmp.Compare(la, lb)
		}
		return strings.Compare(a.Key, b.Key)
	})
	errs := make([]error, len(d.problems))
	for i, p := range d.problems {
		errs[i] = p
	}
	return errors.Join(errs...)
}

// table decodes the keys of one TOML table into the struct dst.
func (d *decoder) table(prefix toml.Key, prims map[string]toml.Primitive, dst reflect.Value) {
	// Keys in sorted order: map order is random, and a walk that differs
	// from run to run makes coverage-guided fuzzing chase its own tail.
	for _, name := range slices.Sorted(maps.Keys(prims)) {
		p := prims[name]
		key := append(slices.Clip(prefix), name)
		d.prims[key.String()] = p
		f, ok := fieldByTag(dst, name)
		if !ok {
			d.add(key, unknownKey(dst.Type(), prefix, name))
			continue
		}
		if f.Kind() == reflect.Struct {
			raw := d.raw(p)
			var sub map[string]toml.Primitive
			if _, isTable := raw.(map[string]any); !isTable {
				d.add(key, fmt.Errorf("%s; want a table ([%s])", describe(raw), key))
				continue
			}
			if err := d.md.PrimitiveDecode(p, &sub); err != nil {
				d.add(key, err) // cannot happen for a table; reported rather than lost
				continue
			}
			d.table(key, sub, f)
			continue
		}
		if suffix, err := setLeaf(f, d.raw(p)); err != nil {
			d.add(key, err)
			if suffix != "" {
				d.problems[len(d.problems)-1].Key += suffix
			}
		}
	}
}

// raw returns p's value as BurntSushi parsed it: string, int64, float64,
// bool, a date/time, []any, map[string]any or []map[string]any.
func (d *decoder) raw(p toml.Primitive) any {
	var v any
	if err := d.md.PrimitiveDecode(p, &v); err != nil {
		return nil // decoding into an empty interface does not fail
	}
	return v
}

// lineProbe is decoded into only to learn a key's line: BurntSushi keeps
// each key's position privately but puts it in the ParseError of a failing
// Unmarshaler. It is the one public road to the line of an arbitrary key.
type lineProbe struct{}

var errProbe = errors.New("line probe")

func (lineProbe) UnmarshalTOML(any) error { return errProbe }

// lineOf returns the line where p's key is set, or 0 if unknown. A table
// made implicitly by dotted keys ("a.b = 1") has no line of its own; it gets
// the first line of its keys.
func (d *decoder) lineOf(p toml.Primitive) int {
	var pe toml.ParseError
	if err := d.md.PrimitiveDecode(p, &lineProbe{}); errors.As(err, &pe) && pe.Position.Line > 0 {
		return pe.Position.Line
	}
	var sub map[string]toml.Primitive
	if _, ok := d.raw(p).(map[string]any); !ok || d.md.PrimitiveDecode(p, &sub) != nil {
		return 0
	}
	first := 0
	for _, name := range slices.Sorted(maps.Keys(sub)) {
		if l := d.lineOf(sub[name]); l > 0 && (first == 0 || l < first) {
			first = l
		}
	}
	return first
}

// fieldByTag finds the field of struct v whose toml tag is name.
func fieldByTag(v reflect.Value, name string) (reflect.Value, bool) {
	t := v.Type()
	for i := range t.NumField() {
		if tomlName(t.Field(i)) == name {
			return v.Field(i), true
		}
	}
	return reflect.Value{}, false
}

// tomlName is the key of a struct field in the file.
func tomlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
	return name
}

// setLeaf stores a parsed TOML value in a field that is not a table. For a
// list it returns the index of the bad element as a key suffix ("[2]").
func setLeaf(f reflect.Value, raw any) (suffix string, err error) {
	switch p := f.Addr().Interface().(type) {
	case *Duration:
		s, ok := raw.(string)
		if !ok {
			return "", fmt.Errorf("%s; want a duration string (%s)", describe(raw), durationForms)
		}
		return "", p.UnmarshalText([]byte(s))
	case *Size:
		switch v := raw.(type) {
		case string:
			return "", p.UnmarshalText([]byte(v))
		case int64:
			if v < 0 {
				return "", fmt.Errorf("%d is negative; want a size (%s)", v, sizeForms)
			}
			*p = Size(v)
			return "", nil
		}
		return "", fmt.Errorf("%s; want a size (%s)", describe(raw), sizeForms)
	}
	switch f.Kind() {
	case reflect.String:
		s, ok := raw.(string)
		if !ok {
			return "", fmt.Errorf("%s; want a string", describe(raw))
		}
		f.SetString(s)
		return "", nil
	case reflect.Bool:
		b, ok := raw.(bool)
		if !ok {
			return "", fmt.Errorf("%s; want true or false", describe(raw))
		}
		f.SetBool(b)
		return "", nil
	case reflect.Int:
		n, ok := raw.(int64)
		if !ok {
			return "", fmt.Errorf("%s; want an integer", describe(raw))
		}
		if f.OverflowInt(n) {
			return "", fmt.Errorf("%d is out of range", n)
		}
		f.SetInt(n)
		return "", nil
	case reflect.Float64:
		switch v := raw.(type) {
		case float64:
			f.SetFloat(v)
			return "", nil
		case int64:
			f.SetFloat(float64(v))
			return "", nil
		}
		return "", fmt.Errorf("%s; want a number", describe(raw))
	case reflect.Slice:
		if f.Type().Elem().Kind() != reflect.String {
			break
		}
		arr, ok := raw.([]any)
		if !ok {
			return "", fmt.Errorf("%s; want an array of strings, e.g. [\"a\", \"b\"]", describe(raw))
		}
		out := make([]string, 0, len(arr))
		for i, e := range arr {
			s, ok := e.(string)
			if !ok {
				return fmt.Sprintf("[%d]", i), fmt.Errorf("%s; want a string", describe(e))
			}
			out = append(out, s)
		}
		f.Set(reflect.ValueOf(out))
		return "", nil
	}
	// Only a new kind of field in the schema gets here; the schema tests
	// decode every field, so this is found before it ships.
	panic(fmt.Sprintf("config: no decoder for field type %s", f.Type()))
}

// describe names a parsed TOML value and its type for an error message.
func describe(raw any) string {
	switch v := raw.(type) {
	case string:
		return quoteShort(v) + " is a string"
	case int64:
		return fmt.Sprintf("%d is an integer", v)
	case float64:
		return fmt.Sprintf("%v is a float", v)
	case bool:
		return fmt.Sprintf("%v is a boolean", v)
	case time.Time:
		return fmt.Sprintf("%s is a date-time", v.Format(time.RFC3339Nano))
	case []any:
		return "got an array"
	case map[string]any:
		return "got a table"
	case []map[string]any:
		return "got an array of tables"
	case nil:
		return "got nothing"
	}
	return fmt.Sprintf("%v is a %T", raw, raw)
}

// unknownKey explains an unknown key and suggests the key that was meant:
// a near spelling in the same table, or the table the key belongs to.
func unknownKey(t reflect.Type, prefix toml.Key, name string) error {
	var known []string
	for i := range t.NumField() {
		known = append(known, tomlName(t.Field(i)))
	}
	if best := closest(name, known); best != "" {
		return fmt.Errorf("unknown key; did you mean %q?", best)
	}
	if elsewhere := findKey(reflect.TypeFor[Config](), nil, name); elsewhere != nil && !slices.Equal(elsewhere[:len(elsewhere)-1], prefix) {
		if len(elsewhere) == 1 {
			return fmt.Errorf("unknown key here: %q is a top-level key, before any [table]", name)
		}
		return fmt.Errorf("unknown key here: it belongs in [%s]", elsewhere[:len(elsewhere)-1])
	}
	where := "the top level"
	if len(prefix) > 0 {
		where = "[" + prefix.String() + "]"
	}
	return fmt.Errorf("unknown key (the keys of %s are %s)", where, strings.Join(known, ", "))
}

// findKey returns the full key of the first field named name anywhere in t.
func findKey(t reflect.Type, prefix toml.Key, name string) toml.Key {
	for i := range t.NumField() {
		f := t.Field(i)
		key := append(slices.Clip(prefix), tomlName(f))
		if tomlName(f) == name {
			return key
		}
		if f.Type.Kind() == reflect.Struct {
			if k := findKey(f.Type, key, name); k != nil {
				return k
			}
		}
	}
	return nil
}

// closest returns the candidate that name is most likely a typo of, or "".
func closest(name string, candidates []string) string {
	norm := func(s string) string { return strings.ReplaceAll(strings.ToLower(s), "-", "_") }
	best, bestDist := "", 0
	for _, c := range candidates {
		if norm(c) == norm(name) {
			return c
		}
		// One slip in a short key, two in a longer one; more than that and
		// the suggestion is a guess, not a correction.
		limit := 1
		if len(c) > 4 {
			limit = 2
		}
		if d := editDistance(name, c); d <= limit && (best == "" || d < bestDist) {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return max(len(a), len(b)) // no typo is that long; keep fuzzed input cheap
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// parseErrorLine is the line of a TOML syntax error. BurntSushi counts a
// newline that ends a line as the start of the next one ("[donor" followed
// by a newline is reported on the line below), so the line is recounted from
// the byte offset when that is known.
func parseErrorLine(data []byte, pe toml.ParseError) int {
	if s := pe.Position.Start; s > 0 && s <= len(data) {
		return 1 + bytes.Count(data[:s], []byte{'\n'})
	}
	return pe.Position.Line
}
