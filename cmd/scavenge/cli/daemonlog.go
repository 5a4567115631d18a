package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"

	"github.com/scavenge/scavenge/cmd/scavenge/cli/service"
)

// The daemon's own log: where it goes and how `scavenge logs --daemon`
// finds it. The daemon writes to stderr; run as the systemd unit, stderr is
// a stream to journald, which stamps each line with its own time and reads
// a syslog priority "<N>" at the start of each line (sd-daemon(3)).

// journalStreamEnv is set by systemd to "DEVICE:INODE" of the stream it
// connected stdout/stderr to.
const journalStreamEnv = "JOURNAL_STREAM"

// toJournal reports whether w is the journal's stream. The variable is
// inherited by children whose stderr may be elsewhere (a shell started by
// a unit, `2>file`), so the stream must be the very one systemd named.
func toJournal(w io.Writer, getenv func(string) string) bool {
	v := getenv(journalStreamEnv)
	f, ok := w.(*os.File)
	if v == "" || !ok {
		return false
	}
	devS, inoS, ok := strings.Cut(v, ":")
	if !ok {
		return false
	}
	dev, err1 := strconv.ParseUint(devS, 10, 64)
	ino, err2 := strconv.ParseUint(inoS, 10, 64)
	if err1 != nil || err2 != nil {
		return false
	}
	fdev, fino, ok := fileDevIno(f)
	return ok && fdev == dev && fino == ino
}

// journalHandler is a slog handler (text or JSON) for journald: no time,
// since the journal stamps every line, and a priority prefix per level so
// that `journalctl -p warning` and the colours work.
type journalHandler struct {
	inner slog.Handler
	out   *priorityWriter
}

// newJournalHandler writes records to w as the journal wants them.
func newJournalHandler(w io.Writer, json bool, opts slog.HandlerOptions) slog.Handler {
	opts.ReplaceAttr = dropTime(opts.ReplaceAttr)
	out := &priorityWriter{w: w}
	var inner slog.Handler
	if json {
		inner = slog.NewJSONHandler(out, &opts)
	} else {
		inner = slog.NewTextHandler(out, &opts)
	}
	return &journalHandler{inner: inner, out: out}
}

func (h *journalHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

// Handle writes one record under the writer's lock, so the priority it
// sets is the one its own line gets (slog's handlers write a record in one
// Write).
func (h *journalHandler) Handle(ctx context.Context, r slog.Record) error {
	h.out.mu.Lock()
	defer h.out.mu.Unlock()
	h.out.prio = priority(r.Level)
	return h.inner.Handle(ctx, r)
}

func (h *journalHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &journalHandler{inner: h.inner.WithAttrs(as), out: h.out}
}

func (h *journalHandler) WithGroup(name string) slog.Handler {
	return &journalHandler{inner: h.inner.WithGroup(name), out: h.out}
}

// priorityWriter prefixes each write with "<prio>"; journalHandler holds
// mu while setting prio and writing.
type priorityWriter struct {
	mu   sync.Mutex
	w    io.Writer
	prio int
}

func (p *priorityWriter) Write(b []byte) (int, error) {
	line := make([]byte, 0, len(b)+3)
	line = append(line, '<')
	line = strconv.AppendInt(line, int64(p.prio), 10)
	line = append(line, '>')
	if _, err := p.w.Write(append(line, b...)); err != nil {
		return 0, err
	}
	return len(b), nil
}

// priority is the syslog priority of a level: err, warning, info, debug.
func priority(l slog.Level) int {
	switch {
	case l >= slog.LevelError:
		return 3
	case l >= slog.LevelWarn:
		return 4
	case l >= slog.LevelInfo:
		return 6
	default:
		return 7
	}
}

// dropTime wraps a ReplaceAttr so the record's time is left out.
func dropTime(next func([]string, slog.Attr) slog.Attr) func([]string, slog.Attr) slog.Attr {
	return func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		if next != nil {
			return next(groups, a)
		}
		return a
	}
}

// daemonLogs is `scavenge logs --daemon`: the journal of the systemd unit
// when there is one; fields are the OS edges, replaced in tests.
type daemonLogs struct {
	unitPath   string // the unit `scavenge install` writes
	journalctl string // the command's name, looked up in PATH
}

// defaultDaemonLogs looks where `scavenge install` puts things.
var defaultDaemonLogs = daemonLogs{unitPath: service.UnitPath, journalctl: "journalctl"}

// errNoDaemonLog says where the log of a daemon not run by systemd is.
var errNoDaemonLog = errors.New("this daemon's log is not kept by a service manager here")

// run prints the daemon's log: journalctl's output, as it comes.
func (d daemonLogs) run(ctx context.Context, e *env, follow bool, lines int) error {
	if _, err := os.Stat(d.unitPath); err != nil {
		return fmt.Errorf("%w: there is no systemd unit %s (see `scavenge install`), so the daemon logs to the stderr of whoever started it: the terminal of `scavenge daemon`, or wherever its stderr was sent (2>>FILE)", errNoDaemonLog, d.unitPath)
	}
	bin, err := exec.LookPath(d.journalctl)
	if err != nil {
		return fmt.Errorf("%w: the unit %s exists but %s is not installed (%v); the log is wherever the service manager sends the unit's stderr", errNoDaemonLog, d.unitPath, d.journalctl, err)
	}
	args := []string{"-u", service.UnitName, "--no-pager"}
	if follow {
		args = append(args, "-f")
	}
	if lines > 0 {
		args = append(args, "-n", strconv.Itoa(lines))
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = e.stdout, e.stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return &codeError{code: exitInterrupted}
		}
		return fmt.Errorf("%s %s: %w", d.journalctl, strings.Join(args, " "), err)
	}
	return nil
}
