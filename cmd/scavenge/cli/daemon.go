package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"

	"golang.org/x/sync/errgroup"

	"github.com/scavenge/scavenge/config"
	"github.com/scavenge/scavenge/peer"
	"github.com/scavenge/scavenge/policy/sensor"
	"github.com/scavenge/scavenge/scavenger"
	"github.com/scavenge/scavenge/scavenger/client"
	"github.com/scavenge/scavenge/scavenger/executor"
	"github.com/scavenge/scavenge/scavenger/localapi"
)

var daemonCmd = &command{
	name:     "daemon",
	synopsis: "[--home DIR]",
	summary:  "run this machine's peer in the foreground",
	help: `
Runs the daemon in the foreground until SIGINT or SIGTERM: the peer (its
offers and the swarm), the donor side (guests from other peers, while this
machine is idle), the home side (jobs submitted here) and the local API on
<home>/scavenge.sock that the other commands use. It logs to stderr.

On a stop it stops its guests, removes the socket and closes the job
database; jobs and their results stay in the home directory.`,
	run: runDaemon,
}

// dbName is the job database in the home directory. bbolt locks it, which
// is also what keeps a second daemon off the same home.
const dbName = "jobs.db"

func runDaemon(ctx context.Context, e *env, args []string) error {
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
	c, err := loadHomeConfig(dir)
	if err != nil {
		return err
	}
	log, err := newLogger(e.stderr, c.Log)
	if err != nil {
		return err
	}
	// A daemon already serving this home is the usual way to get here by
	// mistake; say so before opening ports and the database.
	if st, err := client.New(dir).Status(ctx); err == nil {
		return fmt.Errorf("a daemon (peer %s) is already running for %s", st.ID, dir)
	}
	// Listen first: commands run right after `scavenge daemon &` then wait
	// in the socket's backlog for the daemon to be ready, instead of being
	// told no daemon runs.
	ln, err := localapi.Listen(localapi.SocketPath(dir))
	if err != nil {
		return err
	}
	// A daemon run as root also answers the desktop's user, whose tray
	// cannot enter the 0700 home, on a public socket that grants others
	// only status, peers, pause and resume (localapi/peercred.go).
	var pub *net.UnixListener
	if localapi.PeerCredSupported && os.Geteuid() == 0 {
		if pub, err = localapi.ListenPublic(localapi.PublicSocketPath(dir)); err != nil {
			ln.Close()
			return err
		}
	}
	return serveDaemon(ctx, dir, c, ln, pub, log)
}

// loadHomeConfig loads <home>/scavenge.toml with its paths made absolute.
func loadHomeConfig(home string) (config.Config, error) {
	path := filepath.Join(home, config.FileName)
	c, err := config.Load(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, fmt.Errorf("no config at %s: create one with `scavenge init --home %s`", path, shellQuote(home))
	}
	if err != nil {
		return c, fmt.Errorf("invalid config (see `scavenge config check --home %s`):\n%w", shellQuote(home), err)
	}
	return c.Resolve(home), nil
}

// serveDaemon builds the peer, the executor, the engine, the local API on
// ln and the presence loop from c, and runs them until ctx ends or one
// fails. It closes ln (removing the socket) whatever happens.
func serveDaemon(ctx context.Context, home string, c config.Config, ln, pub *net.UnixListener, log *slog.Logger) (err error) {
	served := false
	defer func() {
		if !served {
			ln.Close() // unlinks the socket: a client waiting in it gets an error, not a hang
			if pub != nil {
				pub.Close()
			}
		}
	}()
	key, err := peer.LoadOrCreateIdentity(c.Node.Identity)
	if err != nil {
		return err
	}
	var psk []byte
	if !c.Node.Public {
		if psk, err = peer.LoadSwarmKey(c.Node.SwarmKey); err != nil {
			return err
		}
	}
	node, err := peer.New(ctx, peer.Options{
		Identity:   key,
		SwarmKey:   psk,
		Listen:     c.Node.Listen,
		Bootstrap:  c.Node.Bootstrap,
		MDNS:       c.Node.MDNS,
		DHTMode:    c.Node.DHTMode,
		OfferEvery: c.Node.OfferEvery.Duration(),
		OfferTTL:   c.Node.OfferTTL.Duration(),
		Logger:     log,
	})
	if err != nil {
		return fmt.Errorf("peer: %w", err)
	}
	defer func() {
		if cerr := node.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("closing peer: %w", cerr))
		}
	}()

	workDir := c.Donor.WorkDir
	if workDir == "" {
		// Per peer, so that several daemons on one machine (tests, trying
		// it out) do not share task directories and caches.
		workDir = filepath.Join(os.TempDir(), "scavenge-"+shortID(node.ID()))
	}
	// A daemon that is not root cannot switch users: the executor then runs
	// guests as the daemon's own user, and warns what that means.
	crb := criuBackend(c, log)
	ex, err := executor.New(executor.Options{GuestUser: c.Donor.GuestUser, Logger: log, CRIU: crb})
	if err != nil {
		return err
	}
	backends, err := checkpointBackends(ex, crb)
	switch {
	case err != nil:
		log.Info("criu checkpoints unavailable", "criu", crb.Path(), "err", err)
	case crb != nil:
		log.Info("criu checkpoints available", "criu", crb.Path())
	}
	pol, err := policyFromConfig(c)
	if err != nil {
		return err
	}
	// The sensor counts guests' CPU as not the owner's; it asks the engine
	// for them, which exists by the time the first sample is taken.
	var eng *scavenger.Engine
	sens := sensor.New(sensor.Options{Logger: log, ExcludePIDs: func() []int {
		if eng == nil {
			return nil
		}
		return guestPIDs(eng)
	}})
	defer sens.Close()
	eng, err = scavenger.New(scavenger.Options{
		Policy:      pol,
		Sensor:      sens,
		SampleEvery: c.Policy.SampleEvery.Duration(),
		Mesh:        node,
		Executor:    ex,
		Logger:      log,
		Name:        c.Name,
		DBPath:      filepath.Join(home, dbName),
		HomeDir:     home,
		Donor: scavenger.DonorOptions{
			Enabled:         c.Donor.Enabled,
			CPUs:            c.Donor.CPUs,
			MemoryBytes:     uint64(c.Donor.Memory),
			Labels:          c.Donor.Labels,
			AcceptFrom:      c.Donor.AcceptFrom,
			WorkDir:         workDir,
			Lease:           c.Donor.Lease.Duration(),
			MaxInput:        int64(c.Donor.MaxInput),
			MaxOutput:       int64(c.Donor.MaxOutput),
			Checkpoint:      backends,
			CheckpointEvery: c.Donor.CheckpointEvery.Duration(),
		},
		Home: scavenger.HomeOptions{
			AllowLocal:  c.Home.AllowLocal,
			WaitTimeout: c.Home.WaitTimeout.Duration(),
			Retries:     c.Home.Retries,
		},
	})
	if err != nil {
		return err
	}

	dlog := log.With("component", "daemon")
	dlog.Info("daemon starting", "home", home, "peer", node.ID(), "name", c.Name, "work_dir", workDir, "guest_user", c.Donor.GuestUser, "root", os.Geteuid() == 0)
	// The dashboard's token exists and its address is taken before anything
	// answers: a tray that sees the daemon finds the token, and a busy
	// address stops the daemon before it starts.
	api := localapi.New(eng, log)
	serveDashboard, err := listenDashboard(home, c.Dashboard.Listen, api, log)
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return node.Run(gctx) })
	g.Go(func() error { return eng.Run(gctx) })
	g.Go(func() error {
		<-gctx.Done()
		if ctx.Err() != nil {
			dlog.Info("stopping on a signal")
		}
		return nil
	})
	served = true
	g.Go(func() error { return localapi.Serve(gctx, ln, api, log) })
	if pub != nil {
		g.Go(func() error { return localapi.Serve(gctx, pub, api, log) })
	}
	if serveDashboard != nil {
		g.Go(func() error { return serveDashboard(gctx) })
	}
	err = g.Wait()
	if err != nil {
		dlog.Error("daemon stopped", "err", err)
		return err
	}
	dlog.Info("daemon stopped")
	return nil
}

// guestPIDs are the processes whose CPU use is not the owner's.
func guestPIDs(eng *scavenger.Engine) []int {
	guests := eng.Status().Guests
	pids := make([]int, 0, len(guests))
	for _, g := range guests {
		if g.Pid > 0 {
			pids = append(pids, g.Pid)
		}
	}
	return pids
}

// newLogger is the daemon's log on w, as the config's [log] says.
func newLogger(w io.Writer, c config.Log) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.Level)); err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	if toJournal(w, os.Getenv) { // run by systemd: see daemonlog.go
		return slog.New(newJournalHandler(w, c.Format == "json", *opts)), nil
	}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}
