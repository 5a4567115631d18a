package tray_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/scavenge/scavenge/cmd/scavenge/tray"
	"github.com/scavenge/scavenge/config"
	"github.com/scavenge/scavenge/scavenger"
	"github.com/scavenge/scavenge/scavenger/client"
	"github.com/scavenge/scavenge/scavenger/localapi"
)

// TestTrayOverDBus runs a real daemon and `scavenge tray` on a private
// session bus, and checks what a panel would show and do: the icon, the
// tooltip and the menu for each state, clicks that pause and resume the
// daemon, the timed pause ending by itself, the daemon going away and
// coming back, and quitting.
func TestTrayOverDBus(t *testing.T) {
	addr := startBus(t)
	conn := connect(t, addr)

	home := filepath.Join(t.TempDir(), "trayhost")
	if code, out := run(t, nil, "init", "--home", home, "--listen", "/ip4/127.0.0.1/tcp/0", "--dedicated", "--name", "trayhost"); code != 0 {
		t.Fatalf("init: exit %d\n%s", code, out)
	}
	daemonEnv := []string{"TMPDIR=" + guestTmp(t)}
	d := startDaemon(t, home, daemonEnv)
	c := client.New(home)
	ctx := t.Context()

	// The tray starts before the panel's watcher, as an autostarted tray
	// may: it says so, and registers once the watcher is there. Its
	// xdg-open is the test's, which notes the URLs it is asked to open.
	browser := fakeBrowser(t)
	tr := start(t, "tray", []string{"DBUS_SESSION_BUS_ADDRESS=" + addr, "PATH=" + browser.dir + ":" + os.Getenv("PATH")},
		"tray", "--home", home, "--every", "200ms", "--snooze", "3s")
	waitFor(t, 15*time.Second, "the tray to warn that no tray host is there", func() (bool, string) {
		return strings.Contains(tr.out.String(), "no tray host on the session bus yet"), tr.out.String()
	})
	w := startWatcher(t, conn)
	s := registeredItem(t, conn, w)

	t.Log("idle: a dedicated machine lends its cores")
	st := s.waitState(t, "the idle icon", shows(tray.IconIdle, "idle, lending "))
	if st.title != "scavenge" || st.status != "Active" {
		t.Errorf("title %q status %q, want scavenge and Active", st.title, st.status)
	}
	wantTooltip(t, st, "idle, lending ", "dedicated machine")
	wantItems(t, st.menu, map[string]bool{
		"Idle: lending": false, "Pause for 3 seconds": true, "Pause until I resume": true, "Resume lending": false,
		"Guests: none": false, "Dashboard: set [dashboard] listen in scavenge.toml": false, "Quit tray": true,
	})

	t.Log("donating: a task of this machine's own runs here as a guest")
	job, err := c.Submit(ctx, scavenger.SubmitRequest{Argv: []string{"sleep", "120"}, AllowLocal: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Cancel(context.Background(), job, "test over") })
	st = s.waitState(t, "the donating icon and the guest's line", func(st state) bool {
		_, ok := find(st.menu, "sleep 120")
		return shows(tray.IconDonating, "donating")(st) && ok
	})
	wantTooltip(t, st, "donating 1 core to 1 task from trayhost; dedicated machine")
	guests, _ := find(st.menu, "Guests: 1 running")
	if len(guests.children) == 0 || !strings.Contains(guests.children[0].label, "from trayhost") ||
		!strings.Contains(guests.children[0].label, "on your return: stopped and re-run elsewhere") {
		t.Errorf("guests submenu: got %v, want the guest from trayhost and its fate on return", guests)
	}

	t.Log("pause until I resume")
	s.click(t, "Pause until I resume")
	waitDaemon(t, c, "paused by the tray", func(st scavenger.Status) bool {
		return st.Paused && strings.HasSuffix(st.Presence.Reason, "paused from the tray")
	})
	st = s.waitState(t, "the paused icon", shows(tray.IconPaused, "paused by the owner: paused from the tray"))
	wantItems(t, st.menu, map[string]bool{
		"Paused until you resume": false, "Pause until I resume": false, "Resume lending": true,
		"Quit tray (lending stays paused)": true,
	})

	t.Log("resume")
	s.click(t, "Resume lending")
	waitDaemon(t, c, "resumed", func(st scavenger.Status) bool { return !st.Paused })
	if err := c.Cancel(ctx, job, "test over"); err != nil {
		t.Fatal(err)
	}
	s.waitState(t, "the idle icon again", shows(tray.IconIdle, "idle, lending "))

	t.Log("pause for 3 seconds: the tray resumes the daemon by itself")
	s.click(t, "Pause for 3 seconds")
	waitDaemon(t, c, "snoozed", func(st scavenger.Status) bool {
		return st.Paused && strings.Contains(st.Presence.Reason, "snoozed from the tray until ")
	})
	s.waitState(t, "the snoozed menu", func(st state) bool {
		_, ok := find(st.menu, "Paused until ")
		return shows(tray.IconPaused, "paused until ", ", snoozed from the tray")(st) && ok
	})
	waitDaemon(t, c, "resumed when the snooze is over", func(st scavenger.Status) bool { return !st.Paused })
	s.waitState(t, "the idle icon after the snooze", shows(tray.IconIdle, "idle, lending "))

	t.Log("the daemon stops: offline; it starts again with the dashboard on: back, and the dashboard opens")
	d.stop(t)
	st = s.waitState(t, "the offline icon", shows(tray.IconOffline, "scavenge: daemon not running (home "+home+")"))
	wantItems(t, st.menu, map[string]bool{"Daemon not reachable": false, "Pause until I resume": false, "Resume lending": false})
	dashAddr := setDashboardListen(t, home)
	d = startDaemon(t, home, daemonEnv)
	st = s.waitState(t, "the idle icon and the dashboard after the restart", func(st state) bool {
		e, ok := find(st.menu, "Open dashboard")
		return shows(tray.IconIdle, "idle, lending ")(st) && ok && e.enabled
	})
	s.click(t, "Open dashboard")
	token, err := os.ReadFile(localapi.TokenPath(home))
	if err != nil {
		t.Fatal(err)
	}
	wantURL := "http://" + dashAddr + "/?token=" + strings.TrimSpace(string(token))
	opened := browser.waitOpened(t)
	if opened != wantURL {
		t.Errorf("the tray opened %q, want %q", opened, wantURL)
	}
	wantDashboardPage(t, opened)

	t.Log("a pause asked for outlives a daemon restart")
	s.click(t, "Pause until I resume")
	waitDaemon(t, c, "paused by the tray", func(st scavenger.Status) bool { return st.Paused })
	d.stop(t)
	s.waitState(t, "the offline icon", shows(tray.IconOffline, "daemon not running"))
	d = startDaemon(t, home, daemonEnv)
	waitDaemon(t, c, "paused again by the tray after the restart", func(st scavenger.Status) bool {
		return st.Paused && strings.HasSuffix(st.Presence.Reason, "paused from the tray")
	})

	t.Log("quit: the tray exits, the pause stays")
	s.click(t, "Quit tray")
	if code := tr.wait(t, 15*time.Second); code != 0 {
		t.Errorf("tray exited with %d after Quit, want 0", code)
	}
	if st, err := c.Status(ctx); err != nil || !st.Paused {
		t.Errorf("after the tray quit: paused %v, %v; want still paused", st.Paused, err)
	}
}

// browser is an xdg-open of the test's: it writes the URL it gets to a file.
type browser struct {
	dir, log string
}

func fakeBrowser(t *testing.T) browser {
	t.Helper()
	b := browser{dir: t.TempDir()}
	b.log = filepath.Join(b.dir, "opened")
	script := "#!/bin/sh\nprintf '%s\\n' \"$1\" >> '" + b.log + "'\n"
	if err := os.WriteFile(filepath.Join(b.dir, "xdg-open"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return b
}

// waitOpened waits for one URL to be opened and returns it.
func (b browser) waitOpened(t *testing.T) string {
	t.Helper()
	var lines []string
	waitFor(t, 15*time.Second, "the tray to run xdg-open", func() (bool, string) {
		data, err := os.ReadFile(b.log)
		lines = strings.Fields(string(data))
		return len(lines) > 0, errString(err)
	})
	if len(lines) != 1 {
		t.Errorf("xdg-open ran %d times (%q), want once", len(lines), lines)
	}
	return lines[0]
}

// setDashboardListen turns the dashboard on in home's config, on a free
// loopback port, and returns its address.
func setDashboardListen(t *testing.T, home string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	path := filepath.Join(home, config.FileName)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const off = "\nlisten = \"\"\n" // [dashboard]'s; [node]'s is a list
	if strings.Count(string(b), off) != 1 {
		t.Fatalf("%s: want one line %q", path, strings.TrimSpace(off))
	}
	b = []byte(strings.Replace(string(b), off, "\nlisten = \""+addr+"\"\n", 1))
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return addr
}

// wantDashboardPage opens url as a browser would: the token becomes a
// cookie and the page and its API answer.
func wantDashboardPage(t *testing.T, url string) {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	base := strings.Split(url, "?")[0]
	for _, c := range []struct{ url, want string }{
		{url, "<title>scavenge dashboard</title>"},          // sets the cookie
		{base + "localapi/v0/status", `"name": "trayhost"`}, // the page's API, by the cookie
	} {
		resp, err := hc.Get(c.url)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), c.want) {
			t.Errorf("GET %s: %d %.300s; want 200 with %s", strings.Split(c.url, "?")[0], resp.StatusCode, body, c.want)
		}
	}
}

// TestNoSessionBus checks that without a session bus the tray stops at
// once with a message saying so, instead of waiting forever.
func TestNoSessionBus(t *testing.T) {
	dir := t.TempDir()
	silent := filepath.Join(dir, "silent.sock")
	ln, err := net.Listen("unix", silent)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // accepts and never answers, like a wedged bus
		var held []net.Conn
		for {
			c, err := ln.Accept()
			if err != nil {
				for _, c := range held {
					c.Close()
				}
				return
			}
			held = append(held, c)
		}
	}()
	tests := []struct {
		name string
		env  []string
		want string
	}{
		{"unset", []string{"DBUS_SESSION_BUS_ADDRESS=", "XDG_RUNTIME_DIR=" + dir}, "couldn't determine address of session bus"},
		{"gone", []string{"DBUS_SESSION_BUS_ADDRESS=unix:path=" + filepath.Join(dir, "gone")}, "no such file or directory"},
		{"silent", []string{"DBUS_SESSION_BUS_ADDRESS=unix:path=" + silent}, "no D-Bus session bus"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := start(t, "tray", tt.env, "tray", "--home", dir)
			code := p.wait(t, 30*time.Second)
			out := p.out.String()
			if code != 1 || !strings.Contains(out, "no D-Bus session bus") || !strings.Contains(out, tt.want) ||
				!strings.Contains(out, "dbus-run-session") {
				t.Errorf("got exit %d and %q; want 1 and a message about the missing session bus (%q)", code, out, tt.want)
			}
		})
	}
}

// registeredItem waits for the tray to register with the watcher and
// returns its item.
func registeredItem(t *testing.T, conn *dbus.Conn, w *watcher) *sni {
	t.Helper()
	var item string
	waitFor(t, 20*time.Second, "the tray to register its item with the watcher", func() (bool, string) {
		items := w.registered()
		if len(items) == 0 {
			return false, "no item"
		}
		item = items[0]
		return true, item
	})
	i := strings.Index(item, "/")
	if i <= 0 {
		t.Fatalf("registered item %q: want <bus name>/<path>", item)
	}
	return &sni{t: t, conn: conn, dest: item[:i], path: dbus.ObjectPath(item[i:])}
}

// startDaemon runs `scavenge daemon` and waits until it answers.
func startDaemon(t *testing.T, home string, env []string) *proc {
	t.Helper()
	d := start(t, "daemon", env, "daemon", "--home", home)
	c := client.New(home)
	waitFor(t, 30*time.Second, "the daemon to answer", func() (bool, string) {
		select {
		case <-d.done:
			t.Fatalf("the daemon exited at start:\n%s", d.out.String())
		default:
		}
		_, err := c.Status(context.Background())
		return err == nil, errString(err)
	})
	return d
}

func waitDaemon(t *testing.T, c *client.Client, what string, cond func(scavenger.Status) bool) {
	t.Helper()
	waitFor(t, 15*time.Second, "the daemon "+what, func() (bool, string) {
		st, err := c.Status(context.Background())
		if err != nil {
			return false, err.Error()
		}
		return cond(st), "paused " + boolString(st.Paused) + ": " + st.Presence.Reason
	})
}

// guestTmp is a TMPDIR for the daemon, where it makes guests' task
// directories: reachable by the guest user, as /tmp is.
func guestTmp(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "scavenge-tray-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	return dir
}

// shows accepts a state with icon i and a tooltip containing every part.
// (Icon and tooltip are two properties, read one after the other: a
// check on one alone may see the other from before a change.)
func shows(i tray.Icon, parts ...string) func(state) bool {
	return func(st state) bool {
		for _, p := range parts {
			if !strings.Contains(st.tooltip, p) {
				return false
			}
		}
		return st.icon == i
	}
}

func wantTooltip(t *testing.T, st state, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(st.tooltip, p) {
			t.Errorf("tooltip %q lacks %q", st.tooltip, p)
		}
	}
	if strings.ContainsAny(st.tooltip, "\n\r") {
		t.Errorf("tooltip %q is more than one line", st.tooltip)
	}
}

// wantItems checks that an item starting with each label is there and
// enabled or not.
func wantItems(t *testing.T, menu []menuEntry, want map[string]bool) {
	t.Helper()
	for label, enabled := range want {
		e, ok := find(menu, label)
		switch {
		case !ok:
			t.Errorf("menu %v has no item %q", menu, label)
		case e.enabled != enabled:
			t.Errorf("menu item %q: enabled %v, want %v", e.label, e.enabled, enabled)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

func boolString(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
