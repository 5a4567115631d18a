// Package cli is the scavenge command: one file per subcommand, each parsing
// its own flags with the standard library's flag package. Commands other
// than `daemon` are clients of a running daemon's local API (package
// scavenger/client); daemon.go is the one place where config, peer, policy
// and the engine are wired together.
//
// Exit codes: 0 success, 1 an error, 2 a usage error, 130 interrupted;
// `scavenge submit` exits with the remote task's own exit code.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// Exit codes shared by every command.
const (
	exitOK          = 0
	exitError       = 1
	exitUsage       = 2
	exitInterrupted = 130 // 128 + SIGINT, as shells report a Ctrl-C
)

// env is one run of a command: what it may touch of the process (tests
// give their own) and which command it is.
type env struct {
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
	cmd    *command
}

// command is one subcommand. It has either run (the usual shape: flags
// parsed with e.flagSet, errors returned) or main (a raw entry point that
// returns its exit code, for commands that are programs of their own).
type command struct {
	name     string
	synopsis string // after "scavenge <name> ", e.g. "[flags] -- command [args...]"
	summary  string // one line for `scavenge help`
	help     string // paragraphs for `scavenge <name> -h`
	hidden   bool   // left out of `scavenge help` (internal helpers)
	run      func(ctx context.Context, e *env, args []string) error
	main     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

// commands are the subcommands; `scavenge help` lists them in this order.
var commands []*command

// The table is filled in init, as helpCmd refers to the table itself. Its
// commands come before any registered ones, whichever init runs first.
func init() {
	commands = append([]*command{
		initCmd,
		daemonCmd,
		idCmd,
		peersCmd,
		submitCmd,
		statusCmd,
		pauseCmd,
		resumeCmd,
		configCmd,
		versionCmd,
		helpCmd,
	}, commands...)
}

// register adds a command defined in a file of its own outside the table
// above (the demo, benchmarks): call it from that file's init function.
// Registered commands are listed after the table's, in registration order.
func register(c *command) {
	if lookup(c.name) != nil {
		panic("cli: command " + c.name + " registered twice")
	}
	commands = append(commands, c)
}

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// Run runs the command line args (without the program name) and returns the
// process's exit code. ctx is cancelled on SIGINT and SIGTERM.
func Run(ctx context.Context, args []string) int {
	return run(ctx, &env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}, args)
}

func run(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 {
		printUsage(e.stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help":
		printUsage(e.stdout)
		return exitOK
	case "-version", "--version":
		name = "version"
	}
	c := lookup(name)
	if c == nil {
		fmt.Fprintf(e.stderr, "scavenge: unknown command %q\n", name)
		if s := suggest(name); s != "" {
			fmt.Fprintf(e.stderr, "Did you mean %q?\n", s)
		}
		fmt.Fprintln(e.stderr, "Run 'scavenge help' for the list of commands.")
		return exitUsage
	}
	if c.main != nil {
		return c.main(ctx, args[1:], e.stdout, e.stderr)
	}
	e.cmd = c
	return exitCode(e, c, c.run(ctx, e, args[1:]))
}

// exitCode reports err the way its type asks and returns the exit code.
func exitCode(e *env, c *command, err error) int {
	var ue *usageError
	var ee *codeError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK // the flag package printed the usage
	case errors.As(err, &ue):
		if ue.msg != "" {
			fmt.Fprintf(e.stderr, "scavenge %s: %s\n", c.name, ue.msg)
			fmt.Fprintf(e.stderr, "Run 'scavenge %s -h' for usage.\n", c.name)
		}
		return exitUsage
	case errors.As(err, &ee):
		if ee.err != nil {
			fmt.Fprintf(e.stderr, "scavenge: %v\n", ee.err)
		}
		return ee.code
	default:
		fmt.Fprintf(e.stderr, "scavenge: %v\n", err)
		return exitError
	}
}

// usageError is a command line that makes no sense; msg "" means the flag
// package already said what was wrong.
type usageError struct{ msg string }

func (u *usageError) Error() string { return u.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// codeError ends the command with code, printing err when it is not nil.
type codeError struct {
	code int
	err  error
}

func (x *codeError) Error() string {
	if x.err == nil {
		return fmt.Sprintf("exit status %d", x.code)
	}
	return x.err.Error()
}

func (x *codeError) Unwrap() error { return x.err }

func printUsage(w io.Writer) {
	fmt.Fprint(w, `scavenge borrows idle computers of your office for your commands, and lends
yours when you are away.

Usage: scavenge <command> [flags] [args]

Commands:
`)
	width := 0
	for _, c := range commands {
		if !c.hidden {
			width = max(width, len(c.name))
		}
	}
	for _, c := range commands {
		if !c.hidden {
			fmt.Fprintf(w, "  %-*s  %s\n", width, c.name, c.summary)
		}
	}
	fmt.Fprint(w, `
Every command takes --home DIR, the daemon's home directory (default
$SCAVENGE_HOME, else `+displayDefaultHome()+`).
Run 'scavenge <command> -h' for a command's flags.

Quick start on one machine:
  scavenge init --home /tmp/a --listen /ip4/127.0.0.1/tcp/0 --dedicated
  scavenge daemon --home /tmp/a &
  scavenge id --home /tmp/a
  scavenge init --home /tmp/b --listen /ip4/127.0.0.1/tcp/0 \
      --swarm-key /tmp/a/swarm.key --bootstrap <a line printed by 'scavenge id'>
  scavenge daemon --home /tmp/b &
  scavenge submit --home /tmp/b -- sh -c 'echo "ran on $SCAVENGE_HOST_PEER"'
`)
}

// suggest returns the visible command closest to a mistyped name, if any is
// close enough to be what the user meant.
func suggest(name string) string {
	best, bestD := "", 3 // more than two edits away is another word
	for _, c := range commands {
		if c.hidden {
			continue
		}
		if len(name) >= 2 && strings.HasPrefix(c.name, name) {
			return c.name
		}
		if d := distance(name, c.name); d < bestD {
			best, bestD = c.name, d
		}
	}
	return best
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

var helpCmd = &command{
	name:     "help",
	synopsis: "[command]",
	summary:  "show help for scavenge or one of its commands",
	run: func(ctx context.Context, e *env, args []string) error {
		if len(args) == 0 {
			printUsage(e.stdout)
			return nil
		}
		c := lookup(args[0])
		if c == nil {
			return usagef("unknown command %q", args[0])
		}
		if c.main != nil {
			c.main(ctx, []string{"-h"}, e.stdout, e.stdout)
			return nil
		}
		return c.run(ctx, &env{stdout: e.stdout, stderr: e.stdout, getenv: e.getenv, cmd: c}, []string{"-h"})
	},
}
