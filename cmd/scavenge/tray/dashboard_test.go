package tray

import (
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/scavenge/scavenge/config"
	"github.com/scavenge/scavenge/scavenger"
	"github.com/scavenge/scavenge/scavenger/client"
	"github.com/scavenge/scavenge/scavenger/localapi"
)

func TestReadDashboard(t *testing.T) {
	withToken := t.TempDir()
	if err := os.WriteFile(localapi.TokenPath(withToken), []byte("0123456789abcdef0123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	emptyToken := t.TempDir()
	if err := os.WriteFile(localapi.TokenPath(emptyToken), []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	noToken := t.TempDir()
	listen := func(addr string) config.Config {
		c := config.Default()
		c.Dashboard.Listen = addr
		return c
	}
	tests := []struct {
		name  string
		home  string
		c     config.Config
		cerr  error
		want  dashLink
		label string
	}{
		{"listening", withToken, listen("127.0.0.1:9470"), nil,
			dashLink{url: "http://127.0.0.1:9470/?token=0123456789abcdef0123"}, "Open dashboard"},
		{"on every interface", withToken, listen("0.0.0.0:9470"), nil,
			dashLink{url: "http://127.0.0.1:9470/?token=0123456789abcdef0123"}, "Open dashboard"},
		{"off", withToken, listen(""), nil,
			dashLink{why: "set [dashboard] listen in scavenge.toml"}, "Dashboard: set [dashboard] listen in scavenge.toml"},
		{"any port", withToken, listen("127.0.0.1:0"), nil,
			dashLink{why: "[dashboard] listen needs a fixed port"}, "Dashboard: [dashboard] listen needs a fixed port"},
		{"no token yet", noToken, listen("127.0.0.1:9470"), nil,
			dashLink{why: "no dashboard.token yet (the daemon makes it)", again: true}, "Dashboard: no dashboard.token yet (the daemon makes it)"},
		{"empty token", emptyToken, listen("127.0.0.1:9470"), nil,
			dashLink{why: "dashboard.token is empty"}, "Dashboard: dashboard.token is empty"},
		{"config for root only", withToken, config.Config{}, fmt.Errorf("config: %w", os.ErrPermission),
			dashLink{why: "the config is the daemon's user's only"}, "Dashboard: the config is the daemon's user's only"},
		{"config broken", withToken, config.Config{}, errors.New("scavenge.toml:3: frob: unknown key"),
			dashLink{why: "config not readable"}, "Dashboard: config not readable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := readDashboard(tt.home, tt.c, tt.cerr)
			if got != tt.want {
				t.Errorf("readDashboard = %+v, want %+v", got, tt.want)
			}
			it := got.item(true)
			if it.label != tt.label || it.enabled != (tt.want.url != "") {
				t.Errorf("item %+v, want %q enabled %v", it, tt.label, tt.want.url != "")
			}
		})
	}

	if os.Geteuid() != 0 { // root reads any file
		locked := t.TempDir()
		p := localapi.TokenPath(locked)
		if err := os.WriteFile(p, []byte("0123456789abcdef0123\n"), 0o000); err != nil {
			t.Fatal(err)
		}
		if got := readDashboard(locked, listen("127.0.0.1:9470"), nil); got.why != "dashboard.token is the daemon's user's only" {
			t.Errorf("unreadable token: %+v", got)
		}
	}
}

// TestRenderDashboard: the item opens the page only while the daemon
// answers, and says why not otherwise.
func TestRenderDashboard(t *testing.T) {
	link := dashLink{url: "http://127.0.0.1:9470/?token=x"}
	online := snapshot{st: scavenger.Status{CPUs: 2, Presence: scavenger.Presence{Donating: true}}, dash: link}
	if v := render(online); v.dashboard != (item{label: labelDashboard, enabled: true}) {
		t.Errorf("online: %+v", v.dashboard)
	}
	offline := snapshot{err: &client.NoDaemonError{Home: "/h"}, dash: link}
	if v := render(offline); v.dashboard != (item{label: labelDashboard}) {
		t.Errorf("offline: %+v, want it disabled", v.dashboard)
	}
	unread := snapshot{st: online.st}
	if v := render(unread); v.dashboard != (item{label: labelDashboard}) {
		t.Errorf("before the config is read: %+v, want it disabled", v.dashboard)
	}
	off := snapshot{st: online.st, dash: dashLink{why: "set [dashboard] listen in " + config.FileName}}
	if v := render(off); v.dashboard.enabled || v.dashboard.label != "Dashboard: set [dashboard] listen in scavenge.toml" {
		t.Errorf("no listener: %+v", v.dashboard)
	}
}

// TestOpenDashboardClick drives the app: a click opens the URL with the
// opener of Options.
func TestOpenDashboardClick(t *testing.T) {
	home := t.TempDir()
	if err := os.WriteFile(localapi.TokenPath(home), []byte("0123456789abcdef0123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := config.Default()
	c.Dashboard.Listen = "127.0.0.1:9470"
	opened := make(chan string, 1)
	a := newApp(Options{Home: home, Open: func(u string) error { opened <- u; return nil }}.withDefaults(), nil, nil)
	a.dash = readDashboard(home, c, nil)
	a.online = true
	a.do(t.Context(), actDashboard)
	select {
	case u := <-opened:
		if u != "http://127.0.0.1:9470/?token=0123456789abcdef0123" {
			t.Errorf("opened %q", u)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the click opened nothing")
	}
}
