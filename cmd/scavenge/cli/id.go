package cli

import (
	"context"
	"fmt"
)

var idCmd = &command{
	name:     "id",
	synopsis: "[--home DIR] [--json]",
	summary:  "print the running daemon's peer addresses, for --bootstrap",
	help: `
Asks the running daemon for its full multiaddrs, each ending in /p2p/<peer ID>,
one a line. Any of them can be given to 'scavenge init --bootstrap' on
another machine of the swarm.`,
	run: runID,
}

// idJSON is `scavenge id --json`.
type idJSON struct {
	ID    string   `json:"id"`
	Name  string   `json:"name"`
	Addrs []string `json:"addrs"`
}

func runID(ctx context.Context, e *env, args []string) error {
	fs := e.flagSet()
	home := addHomeFlag(fs)
	asJSON := fs.Bool("json", false, "print an object with the peer ID, name and addresses")
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
	st, err := newClient(dir).Status(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(e.stdout, idJSON{ID: st.ID, Name: st.Name, Addrs: st.Addrs})
	}
	if len(st.Addrs) == 0 {
		return fmt.Errorf("peer %s has no listen addresses (check node.listen in %s)", st.ID, dir)
	}
	for _, a := range st.Addrs {
		fmt.Fprintln(e.stdout, a)
	}
	return nil
}
