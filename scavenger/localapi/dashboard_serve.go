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
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return LoadOrCreateToken(path) // another process just made it
	}
	if err != nil {
		return "", fmt.Errorf("dashboard token: %w", err)
	}
	if _, err := f.WriteString(tok + "\n"); err != nil {
		f.Close()
		return "", fmt.Errorf("dashboard token: writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("dashboard token: writing %s: %w", path, err)
	}
	return tok, nil
}

// DashboardURL is the address to open for a listener on addr with token.
func DashboardURL(addr, token string) string {
	return "http://" + addr + "/?token=" + token
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
