package tray_test

import (
	"bufio"
	"errors"
	"fmt"
	"image"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/prop"

	"github.com/scavenge/scavenge/cmd/scavenge/tray"
)

// A session bus of the test's own (dbus-daemon, as dbus-run-session would
// start one) with a small StatusNotifierWatcher on it: the part of a
// desktop's tray host that items register with. The test then reads the
// tray's item and menu over D-Bus the way a panel does, and clicks.

const (
	watcherName  = "org.kde.StatusNotifierWatcher"
	watcherPath  = "/StatusNotifierWatcher"
	itemIface    = "org.kde.StatusNotifierItem"
	menuIface    = "com.canonical.dbusmenu"
	propsGetCall = "org.freedesktop.DBus.Properties.Get"
)

// startBus runs a private session bus and returns its address. A machine
// without dbus-daemon skips the test, unless CI is set: CI installs it.
func startBus(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("dbus-daemon")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("dbus-daemon not found (apt-get install dbus): %v", err)
		}
		t.Skipf("needs dbus-daemon (apt-get install dbus): %v", err)
	}
	cmd := exec.Command(bin, "--session", "--nofork", "--print-address=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = &linePrefixer{t: t, prefix: "[dbus-daemon] "}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting dbus-daemon: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the bus address from dbus-daemon: %v", err)
	}
	return strings.TrimSpace(line)
}

// connect opens a connection of the test's own to the bus at addr.
func connect(t *testing.T, addr string) *dbus.Conn {
	t.Helper()
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatalf("connecting to %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// watcher is a minimal StatusNotifierWatcher: it records who registered.
type watcher struct {
	mu    sync.Mutex
	items []string // "<sender unique name><object path>"
}

// RegisterStatusNotifierItem is the method items call; service is their
// object path (or bus name) and the sender is filled in by godbus.
func (w *watcher) RegisterStatusNotifierItem(sender dbus.Sender, service string) *dbus.Error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if strings.HasPrefix(service, "/") {
		service = string(sender) + service
	}
	w.items = append(w.items, service)
	return nil
}

func (w *watcher) RegisterStatusNotifierHost(service string) *dbus.Error { return nil }

func (w *watcher) registered() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.items)
}

func startWatcher(t *testing.T, conn *dbus.Conn) *watcher {
	t.Helper()
	w := &watcher{}
	if err := conn.Export(w, watcherPath, watcherName); err != nil {
		t.Fatal(err)
	}
	_, err := prop.Export(conn, watcherPath, map[string]map[string]*prop.Prop{watcherName: {
		"IsStatusNotifierHostRegistered": {Value: true},
		"ProtocolVersion":                {Value: int32(0)},
		"RegisteredStatusNotifierItems":  {Value: []string{}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	reply, err := conn.RequestName(watcherName, dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("owning %s: reply %v, %v", watcherName, reply, err)
	}
	return w
}

// sni is a registered StatusNotifierItem as a panel sees it.
type sni struct {
	t    *testing.T
	conn *dbus.Conn
	dest string
	path dbus.ObjectPath
}

func (s *sni) get(name string) (dbus.Variant, error) {
	var v dbus.Variant
	err := s.conn.Object(s.dest, s.path).Call(propsGetCall, 0, itemIface, name).Store(&v)
	return v, err
}

// pixmap is one image of IconPixmap: ARGB32 in network byte order.
type pixmap struct {
	W, H int32
	Pix  []byte
}

// tooltipProp is the ToolTip property: icon name, icons, title, text.
type tooltipProp struct {
	Name  string
	Icons []pixmap
	Title string
	Text  string
}

// state is what a panel would show: the icon (which of the tray's five),
// the tooltip and the menu.
type state struct {
	icon    tray.Icon
	tooltip string
	status  string
	title   string
	menu    []menuEntry
}

func (st state) String() string {
	return fmt.Sprintf("icon %s, status %s, tooltip %q, menu %v", st.icon, st.status, st.tooltip, st.menu)
}

func (s *sni) state() (state, error) {
	var st state
	var errs []error
	read := func(name string, dst any) {
		v, err := s.get(name)
		if err == nil {
			err = v.Store(dst)
		}
		errs = append(errs, err)
	}
	var tip tooltipProp
	var icons []pixmap
	read("ToolTip", &tip)
	read("IconPixmap", &icons)
	read("Status", &st.status)
	read("Title", &st.title)
	if err := errors.Join(errs...); err != nil {
		return st, err
	}
	st.tooltip = tip.Title
	st.icon = -1
	if len(icons) == 1 {
		st.icon = whichIcon(icons[0])
	}
	var err error
	st.menu, err = s.menu()
	return st, err
}

// whichIcon finds the tray's icon a pixmap shows, -1 for none.
func whichIcon(p pixmap) tray.Icon {
	for i := tray.IconOffline; i <= tray.IconPaused; i++ {
		img := tray.Draw(i, int(p.W))
		if int(p.W) == img.Rect.Dx() && int(p.H) == img.Rect.Dy() && slices.Equal(p.Pix, argb(img)) {
			return i
		}
	}
	return -1
}

// argb converts an image the way the toolkit fills IconPixmap.
func argb(img image.Image) []byte {
	b := img.Bounds()
	out := make([]byte, 0, b.Dx()*b.Dy()*4)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, a := img.At(x, y).RGBA()
			out = append(out, byte(a), byte(r), byte(g), byte(bl))
		}
	}
	return out
}

// menuEntry is one item of the dbusmenu layout.
type menuEntry struct {
	id       int32
	label    string
	enabled  bool
	visible  bool
	children []menuEntry
}

func (m menuEntry) String() string {
	s := fmt.Sprintf("%q", m.label)
	if !m.enabled {
		s += "(disabled)"
	}
	if !m.visible {
		s += "(hidden)"
	}
	if len(m.children) > 0 {
		s += fmt.Sprint(m.children)
	}
	return s
}

// layout is the (ia{sv}av) of GetLayout.
type layout struct {
	ID       int32
	Props    map[string]dbus.Variant
	Children []dbus.Variant
}

func (s *sni) menu() ([]menuEntry, error) {
	v, err := s.get("Menu")
	if err != nil {
		return nil, err
	}
	var path dbus.ObjectPath
	if err := v.Store(&path); err != nil {
		return nil, err
	}
	var rev uint32
	var root layout
	err = s.conn.Object(s.dest, path).Call(menuIface+".GetLayout", 0, int32(0), int32(-1), []string{}).Store(&rev, &root)
	if err != nil {
		return nil, err
	}
	return entries(root)
}

func entries(l layout) ([]menuEntry, error) {
	var out []menuEntry
	for _, c := range l.Children {
		var sub layout
		if err := dbus.Store([]any{c.Value()}, &sub); err != nil {
			return nil, err
		}
		if t, ok := sub.Props["type"]; ok && t.Value() == "separator" {
			continue
		}
		e := menuEntry{id: sub.ID, enabled: true, visible: true}
		if v, ok := sub.Props["label"]; ok {
			e.label, _ = v.Value().(string)
		}
		if v, ok := sub.Props["enabled"]; ok {
			e.enabled, _ = v.Value().(bool)
		}
		if v, ok := sub.Props["visible"]; ok {
			e.visible, _ = v.Value().(bool)
		}
		kids, err := entries(sub)
		if err != nil {
			return nil, err
		}
		e.children = kids
		out = append(out, e)
	}
	return out, nil
}

// find returns the visible entry whose label starts with prefix.
func find(menu []menuEntry, prefix string) (menuEntry, bool) {
	for _, e := range menu {
		if e.visible && strings.HasPrefix(e.label, prefix) {
			return e, true
		}
		if e, ok := find(e.children, prefix); ok {
			return e, true
		}
	}
	return menuEntry{}, false
}

// click sends the "clicked" event a panel sends when the owner picks an item.
func (s *sni) click(t *testing.T, label string) {
	t.Helper()
	st, err := s.state()
	if err != nil {
		t.Fatalf("reading the menu: %v", err)
	}
	e, ok := find(st.menu, label)
	if !ok || !e.enabled {
		t.Fatalf("no enabled menu item %q in %v", label, st.menu)
	}
	v, _ := s.get("Menu")
	err = s.conn.Object(s.dest, v.Value().(dbus.ObjectPath)).Call(menuIface+".Event", 0,
		e.id, "clicked", dbus.MakeVariant(""), uint32(time.Now().Unix())).Err
	if err != nil {
		t.Fatalf("clicking %q: %v", label, err)
	}
	t.Logf("clicked %q", e.label)
}

// waitState waits until the item shows what want accepts.
func (s *sni) waitState(t *testing.T, what string, want func(state) bool) state {
	t.Helper()
	var st state
	waitFor(t, 15*time.Second, what, func() (bool, string) {
		var err error
		st, err = s.state()
		if err != nil {
			return false, err.Error()
		}
		return want(st), st.String()
	})
	t.Logf("tray: %s", st)
	return st
}
