//go:build !windows

package executor

import (
	"io/fs"
	"strings"
)

// hasDirPart reports whether name is a path rather than a command name.
func hasDirPart(name string) bool { return strings.ContainsRune(name, '/') }

// candidates lists the files path may name: on Unix, just path.
func candidates(path string, _ []string) []string { return []string{path} }

// isExecutable reports whether fi is a regular file someone may execute.
// The guest's own permission is checked by exec itself.
func isExecutable(fi fs.FileInfo) bool { return fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 }

// envValue returns the last value of key in env, as the kernel's execve
// consumers (and os/exec's deduplication) see it.
func envValue(env []string, key string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}
