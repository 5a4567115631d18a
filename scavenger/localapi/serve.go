package localapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// DefaultPauseReason is what peers are told when the owner paused without
// saying why; declines read "paused: <reason>".
const DefaultPauseReason = "owner ran scavenge pause"

// SocketName is the local API's socket file in the daemon's home directory.
const SocketName = "scavenge.sock"

// SocketPath is the socket of the daemon whose home is home.
func SocketPath(home string) string { return filepath.Join(home, SocketName) }

// ErrDaemonRunning is returned by Listen when another daemon already
// answers on the socket.
var ErrDaemonRunning = errors.New("a daemon is already running")

// shutdownGrace bounds how long Serve waits for requests in flight once ctx
// ends; event streams end at once because their context is ctx.
const shutdownGrace = 5 * time.Second

// ListenAndServe is Listen and Serve: it serves h on the Unix socket at
// path until ctx ends.
func ListenAndServe(ctx context.Context, path string, h http.Handler, logger *slog.Logger) error {
	ln, err := Listen(path)
	if err != nil {
		return err
	}
	return Serve(ctx, ln, h, logger)
}

// Serve serves h on ln (from Listen) until ctx ends, then closes ln and
// removes its socket file. A daemon listens first thing and serves once it
// is built: clients that connect in between wait in the listen backlog
// instead of being told that no daemon runs.
func Serve(ctx context.Context, ln *net.UnixListener, h http.Handler, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	log := logger.With("component", "localapi")
	path := ln.Addr().String()
	var fresh freshConns
	srv := &http.Server{
		ConnState: fresh.track,
		// Who connected is asked once per connection and checked on
		// every request (peercred.go).
		ConnContext:       withPeer,
		Handler:           authorize(h, daemonUID()),
		ReadHeaderTimeout: 10 * time.Second,
		// Requests share ctx, so event streams end when the daemon stops
		// instead of holding Shutdown up.
		BaseContext: func(net.Listener) context.Context { return ctx },
		ErrorLog:    slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("local API listening", "socket", path)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		os.Remove(path)
		return fmt.Errorf("local API on %s: %w", path, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	fresh.closeAll()
	err := srv.Shutdown(sctx)
	if err != nil {
		srv.Close()
	}
	<-errc
	// The listener unlinks the socket on close; make sure even if it did not.
	if rerr := os.Remove(path); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
		log.Warn("removing socket", "socket", path, "err", rerr)
	}
	log.Info("local API stopped", "socket", path)
	if err != nil {
		return fmt.Errorf("local API on %s: shutdown: %w", path, err)
	}
	return nil
}

// freshConns are the connections that have not sent a request yet. HTTP
// clients dial ahead of need and keep a spare connection idle on their side;
// net/http's Shutdown counts such a connection as busy for its first 5 s
// (longer than shutdownGrace), so Serve closes them itself when it stops:
// they carry nothing.
type freshConns struct {
	mu    sync.Mutex
	conns map[net.Conn]bool
}

// track is the server's ConnState hook.
func (f *freshConns) track(c net.Conn, st http.ConnState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if st != http.StateNew {
		delete(f.conns, c)
		return
	}
	if f.conns == nil {
		f.conns = map[net.Conn]bool{}
	}
	f.conns[c] = true
}

func (f *freshConns) closeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.conns {
		c.Close()
	}
	clear(f.conns)
}

// Listen opens the Unix socket at path with mode 0600, first removing a
// stale socket file. It refuses to touch a path that is not a socket, or a
// socket a live daemon answers on.
func Listen(path string) (*net.UnixListener, error) { return listenMode(path, 0o600) }

// listenMode is Listen with the socket's mode.
func listenMode(path string, mode fs.FileMode) (*net.UnixListener, error) {
	if err := removeStale(path); err != nil {
		return nil, err
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("local API: listen on %s: %w", path, err)
	}
	if err := os.Chmod(path, mode); err != nil {
		ln.Close()
		return nil, fmt.Errorf("local API: chmod %s: %w", path, err)
	}
	return ln, nil
}

// removeStale removes a socket file nobody listens on.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("local API: %w", err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("local API: %s exists and is not a socket; remove it if it is not needed", path)
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("%w: %s answers (stop that daemon first)", ErrDaemonRunning, path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("local API: checking %s for a running daemon: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("local API: removing stale socket: %w", err)
	}
	return nil
}

// PublicDir holds the public sockets of daemons run as root (see
// ListenPublic). A variable so that tests can use a directory of their own.
var PublicDir = "/run/scavenge"

// PublicSocketPath is the public socket of the daemon whose home is home:
// one per home, named by a hash of its absolute path (socket paths are
// limited to about 100 bytes, homes are not).
func PublicSocketPath(home string) string {
	if abs, err := filepath.Abs(home); err == nil {
		home = abs
	}
	sum := sha256.Sum256([]byte(filepath.Clean(home)))
	return filepath.Join(PublicDir, "scavenge-"+hex.EncodeToString(sum[:8])+".sock")
}

// ListenPublic opens the public socket at path (PublicSocketPath), mode
// 0666 in a directory only the daemon's user can write, so that users
// other than the daemon's can reach it. The home directory stays 0700: it
// holds the identity, the swarm key and other users' jobs, and a home any
// user may traverse would expose every file someone creates there with
// looser modes. Every request is authorized by the caller's uid (see
// peercred.go), so on this socket other users get only the status, the
// peers, pause and resume. It refuses where the OS cannot tell who
// connects.
func ListenPublic(path string) (*net.UnixListener, error) {
	if !PeerCredSupported {
		return nil, fmt.Errorf("local API: public socket %s: this OS cannot tell which user connects", path)
	}
	if err := safeDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	return listenMode(path, 0o666)
}

// safeDir makes dir (0755) or checks that it belongs to the daemon's user
// and nobody else may write in it: whoever could would be able to put a
// socket of theirs in the daemon's place.
func safeDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("local API: public socket directory: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("local API: public socket directory: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("local API: public socket directory %s is not a directory", dir)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("local API: public socket directory %s is writable by others (mode %o): make it 0755", dir, fi.Mode().Perm())
	}
	if uid, ok := fileOwner(fi); ok && uid != daemonUID() {
		return fmt.Errorf("local API: public socket directory %s belongs to uid %d, not the daemon's (%d)", dir, uid, daemonUID())
	}
	return nil
}
