package cli

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version is this build's version; release builds set it with
// -ldflags "-X github.com/scavenge/scavenge/cmd/scavenge/cli.Version=v1.2.3".
var Version = "dev"

var versionCmd = &command{
	name:     "version",
	synopsis: "",
	summary:  "print the version of scavenge",
	run: func(ctx context.Context, e *env, args []string) error {
		fs := e.flagSet()
		pos, err := parse(fs, args)
		if err != nil {
			return err
		}
		if err := noArgs(pos); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "scavenge %s (%s, %s, %s/%s)\n", version(), buildRevision(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return nil
	},
}

// version prefers the module version the binary was installed at
// (go install ...@v1.2.3) over the "dev" default.
func version() string {
	if Version != "dev" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return Version
}

// buildRevision is the VCS commit the binary was built from, when known.
func buildRevision() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown commit"
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev == "" {
		return "unknown commit"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	return "commit " + rev + dirty
}
