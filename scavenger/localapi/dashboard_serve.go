package localapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// TokenName is the dashboard's token file in the daemon's home directory.
const TokenName = "dashboard.token"

// TokenPath is the token file of the daemon whose home is home.
func TokenPath(home string) string { return filepath.Join(home, TokenName) }

// LoadOrCreateToken reads the token at path, creating it (0600, 32 random
// bytes in hex) when missing, so the URL a user bookmarked keeps working
// across restarts. Delete the file to change the token.
func LoadOrCreateToken(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		tok := strings.TrimSpace(string(data))
		if len(tok) < 16 {
			return "", fmt.Errorf("dashboard token %s: %d characters is too short; delete the file for a new one", path, len(tok))
		}
		return tok, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("dashboard token: %w", err)
	}
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand panics rather)
	tok := hex.EncodeToString(b)
	// Written whole to a temporary file and then linked into place, so a
	// process reading at the same time never sees it empty, and of two
	// creating it at once one wins and the other reads its token.
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*") // mode 0600
	if err != nil {
		return "", fmt.Errorf("dashboard token: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, err = f.WriteString(tok + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("dashboard token: writing %s: %w", tmp, err)
	}
	switch err := os.Link(tmp, path); {
	case errors.Is(err, fs.ErrExist):
		return LoadOrCreateToken(path) // another process just made it
	case err != nil:
		// A file system without hard links: rename is still atomic for
		// readers, only a concurrent creator could see its token replaced.
		if err := os.Rename(tmp, path); err != nil {
			return "", fmt.Errorf("dashboard token: %w", err)
		}
	}
	return tok, nil
}

// DashboardURL is the address to open on this machine for a listener on
// addr with token. A listener on every interface (allow_remote, e.g.
// ":9470" or "0.0.0.0:9470") is opened through loopback: a browser cannot
// connect to the unspecified address everywhere.
func DashboardURL(addr, token string) string {
	if host, port, err := net.SplitHostPort(addr); err == nil {
		ip := net.ParseIP(host)
		switch {
		case host == "" || (ip != nil && ip.IsUnspecified() && ip.To4() != nil):
			addr = net.JoinHostPort("127.0.0.1", port)
		case ip != nil && ip.IsUnspecified():
			addr = net.JoinHostPort("::1", port)
		}
	}
	return "http://" + addr + "/?token=" + url.QueryEscape(token)
}

// ListenDashboard opens the dashboard's TCP listener on addr (host:port).
func ListenDashboard(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dashboard: listen on %s (dashboard.listen): %w", addr, err)
	}
	return ln, nil
}

// ServeDashboard serves h on ln until ctx ends.
func ServeDashboard(ctx context.Context, ln net.Listener, h http.Handler, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	log := logger.With("component", "dashboard")
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("dashboard listening", "addr", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("dashboard on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		srv.Close()
	}
	<-errc
	if err != nil {
		return fmt.Errorf("dashboard on %s: shutdown: %w", ln.Addr(), err)
	}
	return nil
}
