package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// maxInputProblems is how many tasks one inputs[i] problem is spelled out
// for; a missing part-{index}.bin in a 1000-task sweep is one mistake, not
// a thousand.
const maxInputProblems = 5

// CheckInputs looks at the input files of every task of x (the expansion
// of j): each must be a readable regular file, and no two inputs of one
// task may have the same base name (they are copied into the task
// directory by base name). Every problem is a *FieldError at the inputs[i]
// that made the file, naming the task for per-task inputs:
//
//	/home/ann/render.toml:6: inputs[1]: task 7: /home/ann/parts/part-7.bin does not exist
func (j *JobFile) CheckInputs(x Expansion) error {
	c := inputChecker{j: j, seen: map[string]error{}, count: map[int]int{}}
	shared := map[string]int{} // base name -> inputs index
	for k, p := range x.Inputs {
		from := x.sharedFrom[k]
		if err := c.stat(p); err != nil {
			c.add(from, "", err)
			continue
		}
		if other, dup := shared[filepath.Base(p)]; dup {
			c.add(from, "", fmt.Errorf("%s and %s would both be %s in the task directory", j.Inputs[other], j.Inputs[from], filepath.Base(p)))
			continue
		}
		shared[filepath.Base(p)] = from
	}
	for _, t := range x.Tasks {
		names := map[string]string{}
		for base, from := range shared {
			names[base] = j.Inputs[from]
		}
		task := fmt.Sprintf("task %d: ", t.Index)
		for k, p := range t.Inputs {
			from := t.inputFrom[k]
			if err := c.stat(p); err != nil {
				c.add(from, task, err)
				continue
			}
			if other, dup := names[filepath.Base(p)]; dup {
				c.add(from, task, fmt.Errorf("%s and %s would both be %s in the task directory", other, p, filepath.Base(p)))
				continue
			}
			names[filepath.Base(p)] = p
		}
	}
	return c.err()
}

// inputChecker gathers the problems of CheckInputs.
type inputChecker struct {
	j     *JobFile
	seen  map[string]error // path -> its stat result, for inputs shared by name
	count map[int]int      // inputs index -> problems found
	probs []*FieldError
}

// stat checks one file once.
func (c *inputChecker) stat(p string) error {
	if err, ok := c.seen[p]; ok {
		return err
	}
	err := checkInputFile(p)
	c.seen[p] = err
	return err
}

// add records a problem of inputs[from], spelling out the first few.
func (c *inputChecker) add(from int, task string, err error) {
	c.count[from]++
	if c.count[from] > maxInputProblems {
		return
	}
	c.probs = append(c.probs, c.j.problem(indexKey("inputs", from), fmt.Errorf("%s%w", task, err)))
}

// err joins the problems, with a count of those left out.
func (c *inputChecker) err() error {
	var errs []error
	for _, p := range c.probs {
		errs = append(errs, p)
	}
	for from := range len(c.j.Inputs) {
		if n := c.count[from]; n > maxInputProblems {
			errs = append(errs, c.j.problem(indexKey("inputs", from), fmt.Errorf("and %s with the same problem", plural(n-maxInputProblems, "more task"))))
		}
	}
	return errors.Join(errs...)
}

// checkInputFile requires p to be a readable regular file.
func checkInputFile(p string) error {
	fi, err := os.Stat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s does not exist", p)
	case err != nil:
		return err // names the path
	case fi.IsDir():
		return fmt.Errorf("%s is a directory; inputs are files (list them, or pack them into an archive)", p)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%s is not a regular file", p)
	}
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("%s cannot be read: %w", p, errors.Unwrap(err))
	}
	return f.Close()
}

// plural is "1 task" or "2 tasks".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
