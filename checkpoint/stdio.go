package checkpoint

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// StdioKeys returns what the dumped root process had open as stdin, stdout
// and stderr, as criu inherit-fd keys ("pipe:[1234]", "tmp/out.log"): give
// RestoreOptions.Inherit a file for a key to reattach that stream, such as
// the new pipe the daemon reads the guest's output from. A key is "" when
// the fd was closed.
func StdioKeys(imagesDir string) ([3]string, error) {
	var keys [3]string
	path := filepath.Join(imagesDir, StdioFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return keys, fmt.Errorf("stdio of the dumped process: %w", err)
	}
	if err := json.Unmarshal(b, &keys); err != nil {
		return keys, fmt.Errorf("stdio of the dumped process: %s: %w", path, err)
	}
	return keys, nil
}

// writeStdio records the stdio of pid into imagesDir/StdioFile; it must run
// before the dump, which by default kills the process.
func writeStdio(pid int, imagesDir string) error {
	var keys [3]string
	for fd := range keys {
		link, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/fd/" + strconv.Itoa(fd))
		if err != nil {
			continue // closed: nothing to reattach
		}
		keys[fd] = inheritKey(link)
	}
	b, err := json.Marshal(keys)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(imagesDir, StdioFile), b, 0o600)
}

// inheritKey turns a /proc/<pid>/fd link into criu's inherit-fd key: pipes
// and sockets as they are, files by their path without the leading slash
// (criu names files relative to the root).
func inheritKey(link string) string {
	if strings.HasPrefix(link, "/") {
		return strings.TrimPrefix(link, "/")
	}
	return link
}
