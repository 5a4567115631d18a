package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/scavenge/scavenge/config"
	"github.com/scavenge/scavenge/policy"
)

var policyCmd = &command{
	name:     "policy",
	synopsis: "check [--home DIR] [FILE]",
	summary:  "check a config file and explain its donation policy in plain words",
	help: `
'scavenge policy check' loads the config file (FILE, else <home>/scavenge.toml)
as the daemon would, and explains in plain words when this machine donates,
what happens to guests when the owner comes back, and how much it lends.
Errors name the file, line and key, and exit with status 1.`,
	run: runPolicy,
}

func init() { register(policyCmd) }

// policyNow is the clock of the "right now" line; tests set it.
var policyNow = time.Now

func runPolicy(ctx context.Context, e *env, args []string) error {
	path, help, err := checkedPath(e, args)
	if err != nil || help {
		return err
	}
	c, err := config.Load(path)
	if err != nil {
		return fmt.Errorf("%s is not valid:\n%w", path, err)
	}
	p, err := policyFromConfig(c)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	fmt.Fprintf(e.stdout, "%s is valid. Its policy:\n\n", path)
	fmt.Fprintln(e.stdout, wrapText(p.Explain(), 78))
	fmt.Fprintln(e.stdout)
	fmt.Fprintln(e.stdout, wrapText(lendingWords(p, c), 78))
	if len(p.Windows) > 0 {
		now := policyNow()
		where := "outside"
		if p.InHours(now) {
			where = "inside"
		}
		fmt.Fprintf(e.stdout, "\nRight now (%s) is %s the donation hours.\n", now.Format("Mon 15:04 MST"), where)
	}
	return nil
}

// configPath is the file a config-reading command works on: the one named
// on the command line, else the home's scavenge.toml.
// checkedPath parses `<command> check [--home DIR] [FILE]`, the one
// subcommand of config and policy, and returns the file to check; help is
// true when usage was asked for and printed.
func checkedPath(e *env, args []string) (path string, help bool, err error) {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		fs := e.flagSet()
		addHomeFlag(fs)
		if len(args) == 0 {
			fs.SetOutput(e.stderr)
			fs.Usage()
			return "", false, usagef("missing subcommand: the only one is 'check'")
		}
		fs.SetOutput(e.stdout)
		fs.Usage()
		return "", true, nil
	}
	if args[0] != "check" {
		return "", false, usagef("unknown subcommand %q: the only one is 'check'", args[0])
	}
	fs := e.flagSet()
	home := addHomeFlag(fs)
	pos, err := parse(fs, args[1:])
	if err != nil {
		return "", false, err
	}
	path, err = configPath(e, home, pos)
	return path, false, err
}

func configPath(e *env, home *homeFlag, pos []string) (string, error) {
	switch len(pos) {
	case 0:
		dir, err := home.home(e)
		if err != nil {
			return "", err
		}
		return filepath.Join(dir, config.FileName), nil
	case 1:
		return filepath.Abs(pos[0])
	}
	return "", usagef("give at most one config file, got %d arguments", len(pos))
}

// lendingWords says what the rest of the config adds to the policy: whether
// the machine lends at all, how much, and how often it looks at the owner.
func lendingWords(p policy.Policy, c config.Config) string {
	d := c.Donor
	if !d.Enabled {
		return "Donating is turned off (donor.enabled = false): no guest runs here until it is turned on."
	}
	cpus := "all cores"
	if d.CPUs > 0 {
		cpus = "at most " + strconv.Itoa(d.CPUs) + " core"
		if d.CPUs > 1 {
			cpus += "s"
		}
	}
	mem := "half of the memory"
	if d.Memory > 0 {
		mem = policy.HumanBytes(uint64(d.Memory)) + " of memory"
	}
	s := "Lends " + cpus + " and " + mem + "."
	if !p.Dedicated {
		s += " The owner's presence is checked every " + humanDuration(c.Policy.SampleEvery.Duration()) + "."
	}
	return s
}

// wrapText breaks text into lines of at most width columns at spaces.
func wrapText(text string, width int) string {
	var b strings.Builder
	n := 0
	for _, w := range strings.Fields(text) {
		switch {
		case n == 0:
		case n+1+len(w) > width:
			b.WriteByte('\n')
			n = 0
		default:
			b.WriteByte(' ')
			n++
		}
		b.WriteString(w)
		n += len(w)
	}
	return b.String()
}
