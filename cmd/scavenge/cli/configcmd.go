package cli

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/scavenge/scavenge/config"
)

var configCmd = &command{
	name:     "config",
	synopsis: "check [--home DIR] [FILE]",
	summary:  "check a config file and print the effective config",
	help: `
'scavenge config check' loads the config file (FILE, else <home>/scavenge.toml)
as the daemon would: unknown keys, bad values, bad durations and sizes are
errors naming the file, line and key. When it is valid, it prints the
effective config: every key, with the defaults the file leaves out and its
paths made absolute.`,
	run: runConfig,
}

func runConfig(ctx context.Context, e *env, args []string) error {
	path, help, err := checkedPath(e, args)
	if err != nil || help {
		return err
	}
	c, err := config.Load(path)
	if err != nil {
		return fmt.Errorf("%s is not valid:\n%w", path, err)
	}
	// Relative paths are relative to the folder holding the file.
	c = c.Resolve(filepath.Dir(path))
	fmt.Fprintf(e.stdout, "# %s is valid. Effective config:\n", path)
	fmt.Fprint(e.stdout, config.Format(c))
	return nil
}
