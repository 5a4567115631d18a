package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"time"

	"github.com/scavenge/scavenge/peer/wire"
)

// discoveryResult is how fast a newcomer learns a swarm's idle peers, per
// way of learning them.
type discoveryResult struct {
	Peers  int             `json:"peers"`
	Rounds int             `json:"rounds"`
	WaitMs float64         `json:"wait_ms"` // how long each wait may take
	Modes  []discoveryMode `json:"modes"`
}

type discoveryMode struct {
	Mode string `json:"mode"`
	// Formed says whether the first peer saw every other peer idle within
	// the wait, FormedSeconds how long after the last peer started, and
	// FormedSeen how many it saw.
	Formed        bool    `json:"formed"`
	FormedSeconds float64 `json:"formed_seconds,omitempty"`
	FormedSeen    int     `json:"formed_seen"`
	// Rounds are the newcomers, one after another.
	Rounds []discoveryRound `json:"rounds"`
	// SeeAll summarizes the rounds that saw all peers: from the newcomer's
	// start (peer.New) to its Offers holding every idle peer of the swarm.
	SeeAll latency `json:"new_peer_sees_all"`
}

// discoveryRound is one newcomer: the time it took to see all the swarm's
// peers idle, or (Ms 0) how many it saw before the wait ran out.
type discoveryRound struct {
	Ms   float64 `json:"ms,omitempty"`
	Seen int     `json:"seen"`
}

// discoveryModes are the ways a newcomer can learn offers.
var discoveryModes = []struct {
	flag, name string
	noPubsub   bool
}{
	{"pubsub", "gossipsub + DHT", false},
	{"dht", "DHT only (gossipsub off)", true},
}

func discoveryBenchmark() benchmark {
	var peers, rounds int
	var wait time.Duration
	var mode string
	return benchmark{
		help: `Starts a swarm of idle peers (libp2p nodes only, no engine), all
bootstrapping from the first, and times newcomers from their start until
they see every idle peer: with gossipsub and the DHT, then with the DHT
alone. A wait that runs out reports how many peers were seen.`,
		flags: func(fs *flag.FlagSet) {
			fs.IntVar(&peers, "peers", 50, "idle peers in the swarm")
			fs.IntVar(&rounds, "rounds", 3, "newcomers to time, one after another, per mode")
			fs.DurationVar(&wait, "wait", time.Minute, "longest wait for the swarm to form, and for each newcomer")
			fs.StringVar(&mode, "mode", "all", "pubsub, dht or all")
		},
		check: func() error {
			if peers < 1 || rounds < 1 || wait <= 0 {
				return fmt.Errorf("--peers %d --rounds %d --wait %s: want at least 1 peer and round and a positive wait", peers, rounds, wait)
			}
			if mode != "all" && mode != "pubsub" && mode != "dht" {
				return fmt.Errorf("--mode %q: want pubsub, dht or all", mode)
			}
			return nil
		},
		run: func(ctx context.Context, log *slog.Logger) (benchResult, error) {
			r := &discoveryResult{Peers: peers, Rounds: rounds, WaitMs: ms(wait)}
			for _, m := range discoveryModes {
				if mode != "all" && mode != m.flag {
					continue
				}
				res, err := measureDiscovery(ctx, log, peers, rounds, wait, m.noPubsub)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", m.name, err)
				}
				res.Mode = m.name
				r.Modes = append(r.Modes, res)
			}
			return r, nil
		},
	}
}

// measureDiscovery starts a swarm of peers bare nodes (no engine) that
// offer themselves idle, all bootstrapping from the first, waits until the
// first sees all the others, then times rounds newcomers. A wait that runs
// out is a result (how many were seen), not an error.
func measureDiscovery(ctx context.Context, log *slog.Logger, peers, rounds int, wait time.Duration, noPubsub bool) (_ discoveryMode, err error) {
	var res discoveryMode
	sw, err := newInprocSwarm(ctx, "scavenge-bench-", log)
	if err != nil {
		return res, err
	}
	defer func() { err = joinClose(err, sw) }()

	var swarm []*inprocPeer
	var bootstrap []string
	for i := range peers {
		m, err := sw.add(ctx, inprocSpec{
			Name:          fmt.Sprintf("peer%d", i+1),
			Bootstrap:     bootstrap,
			Bare:          true,
			DisablePubsub: noPubsub,
		})
		if err != nil {
			return res, err
		}
		if i == 0 {
			bootstrap = m.node.Addrs()
		}
		m.node.SetOffer(idleOffer(m.name))
		swarm = append(swarm, m)
	}
	took, seen, err := waitIdleFor(ctx, wait, swarm[0], swarm[1:])
	if err != nil {
		return res, err
	}
	res.Formed, res.FormedSeconds, res.FormedSeen = seen == peers-1, took.Seconds(), seen

	var times []time.Duration
	for r := range rounds {
		start := time.Now()
		m, err := sw.add(ctx, inprocSpec{
			Name:          fmt.Sprintf("newcomer%d", r+1),
			Bootstrap:     bootstrap,
			Bare:          true,
			DisablePubsub: noPubsub,
		})
		if err != nil {
			return res, err
		}
		_, seen, err := waitIdleFor(ctx, wait-time.Since(start), m, swarm)
		if err != nil {
			return res, fmt.Errorf("round %d: %w", r+1, err)
		}
		round := discoveryRound{Seen: seen}
		if seen == len(swarm) {
			d := time.Since(start)
			round.Ms = ms(d)
			times = append(times, d)
		}
		res.Rounds = append(res.Rounds, round)
	}
	res.SeeAll = summarize(times)
	return res, nil
}

// waitIdleFor is waitIdle bounded by limit: when the limit passes it returns
// how many of want were seen and no error.
func waitIdleFor(ctx context.Context, limit time.Duration, from *inprocPeer, want []*inprocPeer) (time.Duration, int, error) {
	wctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	took, err := waitIdle(wctx, from, want)
	var ni *notIdleError
	switch {
	case err == nil:
		return took, len(want), nil
	case ctx.Err() == nil && errors.As(err, &ni):
		return limit, ni.seen(), nil
	default:
		return 0, 0, err
	}
}

// idleOffer is what an idle two-slot donor says; the node fills in the
// rest and signs it.
func idleOffer(name string) wire.Offer {
	return wire.Offer{
		Name:            name,
		State:           wire.StateIdle,
		Reason:          "benchmark",
		CPUs:            2,
		FreeCPUs:        2,
		MemoryBytes:     1 << 30,
		FreeMemoryBytes: 1 << 30,
		OS:              runtime.GOOS,
		Arch:            runtime.GOARCH,
		OnReturn:        "kill",
	}
}

func (r *discoveryResult) print(w io.Writer) {
	wait := time.Duration(r.WaitMs * float64(time.Millisecond))
	fmt.Fprintf(w, "discovery: a new peer joins a swarm of %d idle peers; time from its start until it sees all %d\n",
		r.Peers, r.Peers)
	fmt.Fprintf(w, "(all in this process, loopback TCP, private swarm key; every peer bootstraps from the first;\n")
	fmt.Fprintf(w, "%d newcomers one after another; each wait gives up after %s)\n\n", r.Rounds, wait)
	tw := newTable(w)
	row(tw, "mode", "p50", "min", "max", "saw all", "swarm formed")
	for _, m := range r.Modes {
		formed := fmt.Sprintf("in %.1f s", m.FormedSeconds)
		if !m.Formed {
			formed = fmt.Sprintf("no: the first peer saw %d of %d in %s", m.FormedSeen, r.Peers-1, wait)
		}
		p50, lo, hi := "-", "-", "-"
		if m.SeeAll.N > 0 {
			p50, lo, hi = fmt.Sprintf("%.0f ms", m.SeeAll.P50), fmt.Sprintf("%.0f ms", m.SeeAll.Min), fmt.Sprintf("%.0f ms", m.SeeAll.Max)
		}
		sawAll := fmt.Sprintf("%d of %d rounds", m.SeeAll.N, len(m.Rounds))
		var short []string
		for _, rd := range m.Rounds {
			if rd.Ms == 0 {
				short = append(short, fmt.Sprintf("%d", rd.Seen))
			}
		}
		if len(short) > 0 {
			sawAll += fmt.Sprintf(" (others saw %s of %d)", strings.Join(short, ", "), r.Peers)
		}
		row(tw, m.Mode, p50, lo, hi, sawAll, formed)
	}
	tw.Flush()
}
