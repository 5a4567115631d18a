package executor

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrNotFound is wrapped by Start's error when the command is not an
// executable file in the guest's PATH.
var ErrNotFound = errors.New("executable file not found in guest PATH")

// defaultGuestPath is searched when the guest's environment has no PATH, as
// execvp(3) does. It is not added to the guest's environment.
const defaultGuestPath = "/usr/bin:/bin"

// lookPath resolves the guest's command the way its shell would: names with
// a directory part are taken relative to the task directory, bare names are
// searched in the guest's PATH (never the daemon's), whose relative entries
// are also taken relative to the task directory.
func lookPath(name string, env []string, dir string) (string, error) {
	if hasDirPart(name) {
		p := name
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		var firstErr error
		for _, c := range candidates(p, env) {
			err := checkExecutable(c)
			if err == nil {
				return c, nil
			}
			if firstErr == nil {
				firstErr = err
			}
		}
		return "", firstErr
	}
	pathList, ok := envValue(env, "PATH")
	if !ok {
		pathList = defaultGuestPath
	}
	for _, d := range filepath.SplitList(pathList) {
		if !filepath.IsAbs(d) {
			d = filepath.Join(dir, d) // "" and "." mean the task directory
		}
		for _, c := range candidates(filepath.Join(d, name), env) {
			if checkExecutable(c) == nil {
				return c, nil
			}
		}
	}
	return "", fmt.Errorf("%w (PATH=%s)", ErrNotFound, pathList)
}

// checkExecutable says why path cannot be executed, or nil.
func checkExecutable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !isExecutable(fi) {
		return fmt.Errorf("%s: not an executable file", path)
	}
	return nil
}
