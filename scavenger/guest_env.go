package scavenger

import (
	"fmt"
	"sort"
	"strings"
)

// A guest inherits nothing from the daemon: its environment is this fixed
// base, the SCAVENGE_* variables that tell it where it runs, and what the
// submitter asked for. The daemon's own variables (its home, proxy
// credentials, session bus) never leak into another user's task.

// guestPath is the search path a guest gets unless its spec sets PATH.
const guestPath = "/usr/local/bin:/usr/bin:/bin"

// reservedEnvPrefix marks the variables the donor sets: a spec may not set
// them, so a task can trust SCAVENGE_HOST_PEER to be the donor's word.
const reservedEnvPrefix = "SCAVENGE_"

// guestIDs names the task and both ends of it for the guest's environment.
type guestIDs struct {
	JobID, TaskID      string
	HomePeer, HostPeer string
}

// guestEnv builds a guest's complete environment, sorted, as "K=V" strings.
// spec may override PATH, HOME, TMPDIR and LANG but no SCAVENGE_ variable.
func guestEnv(ids guestIDs, taskDir string, spec map[string]string) ([]string, error) {
	env := map[string]string{
		"PATH":               guestPath,
		"HOME":               taskDir,
		"TMPDIR":             taskDir,
		"LANG":               "C.UTF-8",
		"SCAVENGE_JOB_ID":    ids.JobID,
		"SCAVENGE_TASK_ID":   ids.TaskID,
		"SCAVENGE_HOME_PEER": ids.HomePeer,
		"SCAVENGE_HOST_PEER": ids.HostPeer,
	}
	keys := make([]string, 0, len(spec))
	for k := range spec {
		keys = append(keys, k)
	}
	sort.Strings(keys) // the same spec always gets the same error
	for _, k := range keys {
		if strings.HasPrefix(k, reservedEnvPrefix) {
			return nil, fmt.Errorf("env %s is reserved", k)
		}
		env[k] = spec[k]
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out, nil
}
