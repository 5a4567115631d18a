package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/scavenge/scavenge/config"
	"github.com/scavenge/scavenge/scavenger/client"
)

// flagSet returns an empty flag set for the command being run, whose usage
// message is the command's help.
func (e *env) flagSet() *flag.FlagSet {
	c := e.cmd
	fs := flag.NewFlagSet("scavenge "+c.name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() { printCommandUsage(fs.Output(), c, fs) }
	return fs
}

// parse parses args into fs. Flags may come after positional arguments
// (`scavenge status JOB --json`) unless a "--" ends the flags first; the
// positional arguments are returned in order.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &usageError{} // the flag package printed the problem and the usage
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// parseCommand is parse for commands that run a command line: flags stop at
// the first argument that is not one, so `scavenge submit ls -l` runs `ls -l`.
func parseCommand(fs *flag.FlagSet, args []string) ([]string, error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, &usageError{}
	}
	return fs.Args(), nil
}

// noArgs refuses positional arguments a command does not take.
func noArgs(pos []string) error {
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	return nil
}

// printCommandUsage prints "usage:", the command's help and its flags, with
// GNU-style double dashes (the flag package accepts both).
func printCommandUsage(w io.Writer, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: scavenge %s %s\n", c.name, c.synopsis)
	if c.help != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.help))
	}
	var n int
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n == 0 {
		return
	}
	fmt.Fprintln(w, "\nFlags:")
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fs.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		if arg != "" {
			arg = " " + arg
		}
		if _, isBool := f.Value.(interface{ IsBoolFlag() bool }); isBool {
			arg = ""
		}
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "0s" {
			usage += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(tw, "  --%s%s\t%s\n", f.Name, arg, usage)
	})
	tw.Flush()
}

// daemonStartWait is how long a command waits for a daemon that is not
// listening yet, so that `scavenge daemon &` followed at once by another
// command works. The daemon listens within milliseconds of starting.
var daemonStartWait = time.Second

// newClient is the local API client of the daemon at home.
func newClient(home string) *client.Client {
	c := client.New(home)
	c.StartWait = daemonStartWait
	return c
}

// homeFlag is --home: the daemon's home directory.
type homeFlag struct{ dir string }

func addHomeFlag(fs *flag.FlagSet) *homeFlag {
	h := &homeFlag{}
	fs.StringVar(&h.dir, "home", "", "the daemon's home `DIR` (default $SCAVENGE_HOME, else "+displayDefaultHome()+")")
	return h
}

// resolve returns the home directory as an absolute path, and whether the
// user chose it (--home or SCAVENGE_HOME) as something other than the
// default.
func (h *homeFlag) resolve(e *env) (dir string, chosen bool, err error) {
	dir = h.dir
	if dir == "" {
		dir = e.getenv("SCAVENGE_HOME")
	}
	def, defErr := defaultHome()
	if dir == "" {
		if defErr != nil {
			return "", false, fmt.Errorf("no home directory: set --home or SCAVENGE_HOME (%w)", defErr)
		}
		return def, false, nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", false, fmt.Errorf("home %s: %w", dir, err)
	}
	return abs, defErr != nil || abs != def, nil
}

// home is resolve without the "chosen" bit.
func (h *homeFlag) home(e *env) (string, error) {
	dir, _, err := h.resolve(e)
	return dir, err
}

// defaultHome is <user config dir>/scavenge, e.g. ~/.config/scavenge.
func defaultHome() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "scavenge"), nil
}

func displayDefaultHome() string {
	dir, err := defaultHome()
	if err != nil {
		return "~/.config/scavenge"
	}
	if h, err := os.UserHomeDir(); err == nil && strings.HasPrefix(dir, h+string(filepath.Separator)) {
		return "~" + dir[len(h):]
	}
	return dir
}

// listFlag is a flag that may be repeated; each use adds one value.
type listFlag []string

func (l *listFlag) String() string {
	if l == nil || len(*l) == 0 {
		return ""
	}
	return strings.Join(*l, ",")
}

func (l *listFlag) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// sizeFlag is a byte count written like the config file's sizes ("2GiB").
type sizeFlag uint64

func (s *sizeFlag) String() string {
	if s == nil || *s == 0 {
		return ""
	}
	return config.Size(*s).String()
}

func (s *sizeFlag) Set(v string) error {
	var z config.Size
	if err := z.UnmarshalText([]byte(v)); err != nil {
		return err
	}
	*s = sizeFlag(z)
	return nil
}
