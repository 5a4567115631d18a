package localapi

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
)

// Who may do what on the local API. The daemon's socket in its home is
// reachable only by the daemon's user (and root); a daemon run as root also
// listens on a public socket (PublicSocketPath) so that the person at the
// keyboard, a different user, can see what their machine does and take it
// back. Every request is authorized by the uid the kernel reports for the
// connection (SO_PEERCRED, LOCAL_PEERCRED), whichever socket it came in on:
//
//   - the daemon's own user and root may do everything;
//   - any other local user may only use the routes in othersMay: read the
//     state and the peers, pause and resume. Jobs, their logs and
//     everything else hold other users' work and are refused with 403.
//
// Routes missing from othersMay are refused to other users, so a route
// added later is private until someone decides otherwise here.

// othersMay are the requests, "METHOD path" with path relative to Prefix,
// that a local user other than the daemon's may make.
var othersMay = map[string]bool{
	http.MethodGet + " status": true,
	http.MethodGet + " peers":  true,
	// The person at the keyboard owns the machine: they may stop
	// donating and start again, whoever runs the daemon.
	http.MethodPost + " pause":  true,
	http.MethodPost + " resume": true,
}

// PeerCredSupported reports whether this OS tells the daemon who is at the
// other end of a connection. Where it does not (Windows), every connection
// is trusted as before: only the socket's file permissions guard it, and
// no public socket is opened.
const PeerCredSupported = peerCredSupported

// peerKey is the context key of a connection's peer.
type peerKey struct{}

// peer is who is at the other end of a connection.
type peer struct {
	uid int
	err error // set when the OS could not tell: such a peer may do nothing
}

// withPeer is the server's ConnContext hook: it asks the kernel once per
// connection who connected.
func withPeer(ctx context.Context, c net.Conn) context.Context {
	if !peerCredSupported {
		return ctx
	}
	uid, err := peerUID(c)
	return context.WithValue(ctx, peerKey{}, peer{uid: uid, err: err})
}

// authorize refuses requests the connection's user may not make; owner is
// the daemon's uid.
func authorize(h http.Handler, owner int) http.Handler {
	if !peerCredSupported {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := allowed(r, owner); err != nil {
			writeError(w, http.StatusForbidden, err.Error())
			return
		}
		h.ServeHTTP(w, r)
	})
}

// allowed is nil when the request's user may make it, else why not.
func allowed(r *http.Request, owner int) error {
	p, ok := r.Context().Value(peerKey{}).(peer)
	if !ok {
		return fmt.Errorf("%s %s: forbidden: the daemon could not tell which user connected", r.Method, r.URL.Path)
	}
	if p.err != nil {
		return fmt.Errorf("%s %s: forbidden: the daemon could not tell which user connected: %w", r.Method, r.URL.Path, p.err)
	}
	if p.uid == owner || p.uid == 0 {
		return nil
	}
	if rel, ok := strings.CutPrefix(r.URL.Path, Prefix); ok && othersMay[r.Method+" "+rel] {
		return nil
	}
	return fmt.Errorf("%s %s: forbidden for user %d: users other than the daemon's (uid %d) and root may only see its status and peers and pause or resume it; jobs and their logs belong to the daemon's user",
		r.Method, r.URL.Path, p.uid, owner)
}

// daemonUID is the uid requests are authorized against.
func daemonUID() int { return os.Geteuid() }
