package executor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/scavenge/scavenge/scavenger"
)

// prepare validates spec and hands its directory to the guest user.
func (e *Executor) prepare(spec scavenger.ExecSpec) (*launch, error) {
	if err := checkLimits(spec.Limits); err != nil {
		return nil, err
	}
	dir, err := resolveDir(spec.Dir)
	if err != nil {
		return nil, err
	}
	hide, err := resolveHidden(spec.Hide, dir)
	if err != nil {
		return nil, err
	}
	if e.guest != nil {
		// The inputs were written by the daemon (root); the guest must be
		// able to read them and write its outputs next to them.
		if err := chownTree(dir, e.guest); err != nil {
			return nil, err
		}
	}
	env := spec.Env
	if env == nil {
		env = []string{} // a nil Env would make os/exec inherit the daemon's
	}
	return &launch{argv: spec.Argv, dir: dir, env: env, hide: hide}, nil
}

// resolveDir returns dir as an absolute path without symlinks, checking it
// is a directory.
func resolveDir(dir string) (string, error) {
	if dir == "" {
		return "", errors.New("no task directory")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("task directory %s: %w", dir, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", fmt.Errorf("task directory %s: %w", dir, err)
	}
	fi, err := os.Stat(real)
	if err != nil {
		return "", fmt.Errorf("task directory %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("task directory %s: not a directory", dir)
	}
	return real, nil
}

// resolveHidden makes the hidden paths absolute and free of symlinks (a
// mount over a symlink would mask its target's parent, not the path), drops
// those that do not exist (nothing to hide) and sorts them shortest first, so
// an outer path is masked before anything inside it.
func resolveHidden(paths []string, dir string) ([]string, error) {
	var out []string
	for _, p := range paths {
		if p == "" {
			continue
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, fmt.Errorf("hidden path %s: %w", p, err)
		}
		real, err := filepath.EvalSymlinks(abs)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("hidden path %s: %w", p, err)
		}
		if real == dir {
			return nil, fmt.Errorf("task directory %s is a hidden path", dir)
		}
		out = append(out, real)
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) < len(out[j]) })
	return out, nil
}

// within reports whether path lies strictly inside dir, and the path
// relative to dir.
func within(dir, path string) (string, bool) {
	rel, err := filepath.Rel(dir, path)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", false
	}
	return rel, true
}
