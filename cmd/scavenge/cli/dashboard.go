package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"

	"github.com/scavenge/scavenge/config"
	"github.com/scavenge/scavenge/scavenger/localapi"
)

var dashboardCmd = &command{
	name:     "dashboard",
	synopsis: "[--home DIR]",
	summary:  "print the URL of this machine's dashboard page",
	help: `
The daemon serves a page showing this machine's state over the last hours,
the guests running here, your jobs with their progress, the peers and the CPU
hours donated and received, plus Prometheus metrics at /metrics.

It is served over HTTP when [dashboard] listen is set in scavenge.toml (e.g.
"127.0.0.1:9470"). Every request needs the token in <home>/dashboard.token:
the printed URL carries it once, then the browser keeps it in a cookie;
scrapers send "Authorization: Bearer <token>". Without a listen address the
page is only on the daemon's socket, at /localapi/v0/dashboard/.`,
	run: runDashboard,
}

func init() { register(dashboardCmd) }

func runDashboard(ctx context.Context, e *env, args []string) error {
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
	if c.Dashboard.Listen == "" {
		fmt.Fprintf(e.stdout, "the dashboard has no HTTP address: set listen = \"127.0.0.1:9470\" under [dashboard] in %s and restart the daemon\n", filepath.Join(dir, config.FileName))
		fmt.Fprintf(e.stdout, "on the socket: curl --unix-socket %s http://local%s\n", localapi.SocketPath(dir), localapi.DashboardPath)
		return nil
	}
	if _, port, err := net.SplitHostPort(c.Dashboard.Listen); err == nil && port == "0" {
		return fmt.Errorf("%s: dashboard.listen %q has no fixed port: the daemon's log says which one it took (\"dashboard listening\"); set one to get a URL here", filepath.Join(dir, config.FileName), c.Dashboard.Listen)
	}
	tok, err := os.ReadFile(localapi.TokenPath(dir))
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no %s yet: the daemon creates it when it starts", localapi.TokenPath(dir))
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, localapi.DashboardURL(c.Dashboard.Listen, string(trimNL(tok))))
	return nil
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// listenDashboard makes sure the token exists and, when listen is set,
// takes the address and returns the function that serves the dashboard on
// it (nil without an address). A listen address in use stops the daemon:
// the user asked for it.
func listenDashboard(home, listen string, api *localapi.Handler, log *slog.Logger) (func(context.Context) error, error) {
	tok, err := localapi.LoadOrCreateToken(localapi.TokenPath(home))
	if err != nil {
		return nil, err
	}
	if listen == "" {
		return nil, nil
	}
	ln, err := localapi.ListenDashboard(listen)
	if err != nil {
		return nil, err
	}
	var h http.Handler = localapi.NewDashboard(api, tok)
	log.Info("dashboard", "url", "http://"+ln.Addr().String()+"/ (token in "+localapi.TokenPath(home)+")")
	return func(ctx context.Context) error { return localapi.ServeDashboard(ctx, ln, h, log) }, nil
}
