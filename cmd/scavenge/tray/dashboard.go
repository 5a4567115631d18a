package tray

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"

	"github.com/scavenge/scavenge/config"
	"github.com/scavenge/scavenge/scavenger/localapi"
)

// The menu's "Open dashboard": the daemon serves its page over HTTP when
// [dashboard] listen is set, to holders of <home>/dashboard.token. The
// tray opens the URL with that token in the desktop's browser, or says in
// the item's label why it cannot.

// dashLink is where the dashboard is, or why the tray cannot open it.
type dashLink struct {
	url   string // with the token; never logged
	why   string // when url is "": what the owner can do about it
	again bool   // worth reading again at the next poll (the token is not there yet)
}

// readDashboard finds the dashboard's URL from the config (or the error
// loading it) and the token file of home.
func readDashboard(home string, c config.Config, cerr error) dashLink {
	if cerr != nil {
		if errors.Is(cerr, fs.ErrPermission) {
			return dashLink{why: "the config is the daemon's user's only"}
		}
		return dashLink{why: "config not readable"}
	}
	listen := c.Dashboard.Listen
	if listen == "" {
		return dashLink{why: "set [dashboard] listen in " + config.FileName}
	}
	if _, port, err := net.SplitHostPort(listen); err != nil || port == "0" {
		return dashLink{why: "[dashboard] listen needs a fixed port"}
	}
	path := localapi.TokenPath(home)
	tok, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrPermission):
		return dashLink{why: localapi.TokenName + " is the daemon's user's only"}
	case errors.Is(err, fs.ErrNotExist):
		// A daemon starting for the first time answers on its socket
		// a moment before it writes the token.
		return dashLink{why: "no " + localapi.TokenName + " yet (the daemon makes it)", again: true}
	case err != nil:
		return dashLink{why: localapi.TokenName + " not readable"}
	}
	t := strings.TrimSpace(string(tok))
	if t == "" {
		return dashLink{why: localapi.TokenName + " is empty"}
	}
	return dashLink{url: localapi.DashboardURL(listen, t)}
}

// item is the menu entry for l; it opens the page only while the daemon
// answers.
func (l dashLink) item(online bool) item {
	switch {
	case l.url != "":
		return item{label: labelDashboard, enabled: online}
	case l.why != "":
		return item{label: "Dashboard: " + l.why}
	}
	return item{label: labelDashboard} // the config is not read yet
}

// openURL opens url in the desktop's browser and waits for the opener to
// return (xdg-open may wait for a browser it started: call it apart).
func openURL(url string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	case "darwin":
		cmd = exec.Command("open", url)
	default:
		cmd = exec.Command("xdg-open", url)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		// Its output may repeat the URL: the token stays out of the log.
		msg := strings.ReplaceAll(strings.TrimSpace(string(out)), url, "<dashboard URL>")
		return fmt.Errorf("%s: %w: %s", cmd.Args[0], err, msg)
	}
	return nil
}
