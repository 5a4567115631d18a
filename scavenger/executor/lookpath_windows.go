package executor

import (
	"io/fs"
	"path/filepath"
	"strings"
)

// hasDirPart reports whether name is a path rather than a command name.
func hasDirPart(name string) bool { return strings.ContainsAny(name, `/\:`) }

// candidates lists the files path may name: path itself when it has an
// extension, else path with each extension of the guest's PATHEXT.
func candidates(path string, env []string) []string {
	if filepath.Ext(path) != "" {
		return []string{path}
	}
	exts, ok := envValue(env, "PATHEXT")
	if !ok {
		exts = ".com;.exe;.bat;.cmd"
	}
	var out []string
	for _, e := range filepath.SplitList(exts) {
		if e != "" {
			out = append(out, path+strings.ToLower(e))
		}
	}
	return out
}

// isExecutable reports whether fi is a regular file: Windows has no execute
// bit, the extension decides.
func isExecutable(fi fs.FileInfo) bool { return fi.Mode().IsRegular() }

// envValue returns the last value of key in env; Windows variable names are
// case-insensitive.
func envValue(env []string, key string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && strings.EqualFold(k, key) {
			return v, true
		}
	}
	return "", false
}
