package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/scavenge/scavenge/scavenger"
)

// firstOfferWait is how long `scavenge peers` waits for a first offer when
// the daemon knows none: a few offer heartbeats.
const firstOfferWait = 3 * time.Second

var peersCmd = &command{
	name:     "peers",
	synopsis: "[--home DIR] [--json]",
	summary:  "list the peers of the swarm and what they offer",
	help: `
Lists the other peers whose offers the daemon holds: their state (idle: takes
work; busy: every slot taken; owner: its owner uses it; paused: its owner
said 'scavenge pause'), free slots, free memory, platform, how old the offer
is and why the peer is in its state. When no peer is known yet, it waits a
few seconds for the first offers (not with --json).`,
	run: runPeers,
}

func runPeers(ctx context.Context, e *env, args []string) error {
	fs := e.flagSet()
	home := addHomeFlag(fs)
	asJSON := fs.Bool("json", false, "print the offers as JSON")
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
	c := newClient(dir)
	peers, err := c.Peers(ctx)
	if err != nil {
		return err
	}
	if len(peers) == 0 && !*asJSON {
		// Right after `scavenge daemon &` the daemon has not heard any
		// offer yet; give the first heartbeats a moment before saying so.
		// Scripts using --json poll themselves and get the answer at once.
		deadline := time.Now().Add(firstOfferWait)
		for len(peers) == 0 && time.Now().Before(deadline) {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
			if peers, err = c.Peers(ctx); err != nil {
				return err
			}
		}
	}
	if *asJSON {
		if peers == nil {
			peers = []scavenger.PeerInfo{}
		}
		return writeJSON(e.stdout, peers)
	}
	if len(peers) == 0 {
		fmt.Fprintln(e.stdout, "no peers yet: offers arrive within seconds of joining; check node.bootstrap and the swarm key if none come")
		return nil
	}
	printPeers(e, peers)
	return nil
}

func printPeers(e *env, peers []scavenger.PeerInfo) {
	tw := newTable(e.stdout)
	row(tw, "PEER", "NAME", "STATE", "FREE CPUS", "MEMORY", "OS/ARCH", "AGE", "REASON")
	for _, p := range peers {
		row(tw,
			shortID(p.Peer),
			p.Name,
			string(p.State),
			fmt.Sprintf("%d/%d", p.FreeCPUs, p.CPUs),
			humanBytes(p.FreeMemoryBytes),
			p.OS+"/"+p.Arch,
			humanDuration(p.Age()),
			p.Reason,
		)
	}
	tw.Flush()
}
