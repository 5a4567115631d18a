package cli

import (
	"cmp"
	"context"
	"fmt"

	"github.com/scavenge/scavenge/scavenger"
	"github.com/scavenge/scavenge/scavenger/localapi"
)

var pauseCmd = &command{
	name:     "pause",
	synopsis: "[--home DIR] [--reason TEXT]",
	summary:  "stop lending this machine until 'scavenge resume'",
	help: `
The owner's override: this machine stops donating now. Its offer says
"paused" with the reason, claims are declined with it, and guests get the
on-return action of the config (kill: stopped, and their homes re-run them
elsewhere). Jobs submitted here are not affected.`,
	run: runPause,
}

var resumeCmd = &command{
	name:     "resume",
	synopsis: "[--home DIR]",
	summary:  "lend this machine again after 'scavenge pause'",
	run:      runResume,
}

func runPause(ctx context.Context, e *env, args []string) error {
	fs := e.flagSet()
	home := addHomeFlag(fs)
	reason := fs.String("reason", localapi.DefaultPauseReason, "what peers are told, as `TEXT`")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := noArgs(pos); err != nil {
		return err
	}
	dir, err := home.home(e)
	if err != nil {
		return err
	}
	st, err := newClient(dir).Pause(ctx, *reason)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s is paused: %s\n", st.Name, *reason)
	printGuestsNote(e, st)
	return nil
}

func runResume(ctx context.Context, e *env, args []string) error {
	fs := e.flagSet()
	home := addHomeFlag(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := noArgs(pos); err != nil {
		return err
	}
	dir, err := home.home(e)
	if err != nil {
		return err
	}
	st, err := newClient(dir).Resume(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s resumed: %s\n", st.Name, presenceLine(st))
	return nil
}

// presenceLine says in a few words whether the machine donates and why.
func presenceLine(st scavenger.Status) string {
	// The policy's own word (owner-back, outside-hours) says more than the
	// offer's.
	s := cmp.Or(st.Presence.Detail, string(st.Presence.State))
	if st.Presence.Donating && !st.Paused {
		s += ", donating"
	} else {
		s += ", not donating"
	}
	if st.Presence.Reason != "" {
		s += " (" + st.Presence.Reason + ")"
	}
	return s
}

// guestsLine says what guests get while this machine does not donate.
func guestsLine(p scavenger.Presence) string {
	s := string(cmp.Or(p.Action, scavenger.GuestRun))
	if p.Action == scavenger.GuestRun {
		s = "run on"
	}
	if p.GuestNote != "" {
		s += " (" + p.GuestNote + ")"
	}
	return s
}

func printGuestsNote(e *env, st scavenger.Status) {
	for _, g := range st.Guests {
		what := g.Action
		if what == "" {
			what = "still running"
		}
		fmt.Fprintf(e.stdout, "  guest %s/%s from %s: %s\n", g.JobID, g.TaskID, shortID(g.HomePeer), what)
	}
}
