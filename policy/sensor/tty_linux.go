package sensor

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ttyInput finds the owner's last input from terminal access times, as
// HTCondor's startd does: the kernel sets a terminal's access time when a
// program reads input typed on it (at most every 8 seconds, to avoid leaking
// keystroke timing). Output does not count, so a `tail -f` left running in a
// terminal does not keep the owner "active".
type ttyInput struct {
	utmpPath string // logged-in sessions
	devRoot  string // terminal lines are relative to this
	boot     func() (time.Time, error)
	log      *slog.Logger
}

// consoleBootGrace covers the creation of the console devices early in boot,
// which sets their access time without anyone typing.
const consoleBootGrace = time.Minute

func newTTYInput(o Options, log *slog.Logger) *ttyInput {
	t := &ttyInput{
		utmpPath: cmp.Or(o.utmpPath, "/var/run/utmp"),
		devRoot:  cmp.Or(o.devRoot, "/dev"),
		boot:     o.bootTime,
		log:      log,
	}
	if t.boot == nil {
		t.boot = bootTime
	}
	return t
}

// bootTime is when the system started, to the second.
func bootTime() (time.Time, error) {
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		return time.Time{}, fmt.Errorf("sysinfo: %w", err)
	}
	return time.Now().Add(-time.Duration(si.Uptime) * time.Second), nil
}

// latest returns the newest input on a terminal; ok is false when there
// is no terminal to watch.
func (t *ttyInput) latest() (a activity, ok bool, err error) {
	terms, err := t.terminals()
	if err != nil {
		return activity{}, false, err
	}
	boot, err := t.boot()
	if err != nil {
		return activity{}, false, err
	}
	var newest time.Time
	var source string
	for _, term := range terms {
		path := term.path
		fi, err := os.Stat(path)
		if err != nil {
			// A session whose terminal is gone (a stale utmp entry, or a
			// display like ":0" that is not a device) has nothing to say.
			t.log.Debug("terminal not readable", "path", path, "err", err)
			continue
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			continue
		}
		at := time.Unix(int64(st.Atim.Sec), int64(st.Atim.Nsec)) //nolint:unconvert // int32 on 32-bit Linux
		if !term.session && at.Before(boot.Add(consoleBootGrace)) {
			// A console nobody has typed on since boot: its time is
			// when the device was made, and reporting "keyboard used"
			// then would be false. A session's terminal is different:
			// it was made when someone logged in.
			continue
		}
		if at.After(newest) {
			newest, source = at, path
		}
	}
	if source == "" {
		return activity{}, false, nil
	}
	return activity{at: newest, source: "tty " + source}, true, nil
}

// terminal is a device to watch.
type terminal struct {
	path    string
	session bool // the terminal of a logged-in session, rather than a bare console
}

// terminals lists the devices to watch: the terminal of every session in
// utmp and the virtual consoles (/dev/tty1, ...), once each.
func (t *ttyInput) terminals() ([]terminal, error) {
	var terms []terminal
	seen := make(map[string]bool)
	add := func(p string, session bool) {
		if !seen[p] {
			seen[p] = true
			terms = append(terms, terminal{p, session})
		}
	}
	b, err := os.ReadFile(t.utmpPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// No login has ever been recorded since boot: no sessions.
	case err != nil:
		return nil, fmt.Errorf("reading sessions: %w", err)
	default:
		entries, err := parseUtmp(b)
		if err != nil {
			return nil, fmt.Errorf("reading sessions from %s: %w", t.utmpPath, err)
		}
		for _, e := range entries {
			// utmp is written by root, but a line like "../etc/x" must
			// still not send us outside the device directory.
			if e.Type == utmpUserProcess && filepath.IsLocal(e.Line) {
				add(filepath.Join(t.devRoot, e.Line), true)
			}
		}
	}
	consoles, err := filepath.Glob(filepath.Join(t.devRoot, "tty[0-9]*"))
	if err != nil {
		return nil, fmt.Errorf("listing consoles in %s: %w", t.devRoot, err)
	}
	for _, c := range consoles {
		if allDigits(strings.TrimPrefix(filepath.Base(c), "tty")) {
			add(c, false)
		}
	}
	return terms, nil
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}
