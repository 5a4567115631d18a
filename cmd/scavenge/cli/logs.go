package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/scavenge/scavenge/scavenger"
	"github.com/scavenge/scavenge/scavenger/client"
)

var logsCmd = &command{
	name:     "logs",
	synopsis: "[--home DIR] [-f] [--stdout | --stderr] [--json] JOB [TASK] | --daemon [-f] [-n N]",
	summary:  "print what a job's task printed, or follow it as it runs",
	help: `
Prints a task's output as the home keeps it: everything it printed, over
every attempt (a task run again after a preemption prints again). Its stdout
goes to stdout and its stderr to stderr; --stdout or --stderr prints only
that one, on stdout. A job of one task needs no TASK. For a job of many
tasks, TASK is the task's ID (0, 1, ...); without it, every task's output
is printed in turn, each under a "==> task N <==" header.

With -f, goes on printing what the task prints until it ends (a task still
queued prints nothing until it starts); Ctrl-C stops following, the task
goes on. Following needs a TASK when the job has many.

--json prints JSON lines, one per line of output:
  {"job": ID, "task": ID, "stream": "stdout"|"stderr", "offset": N, "line": TEXT}
offset is the byte offset of the line in that stream's log; line has no
newline (bytes that are not UTF-8 become U+FFFD, and lines longer than 64
KiB are split).

--daemon prints the daemon's own log instead: run as the systemd unit
(scavenge install), that is journalctl -u scavenge.service, with -f and
-n N (the last N lines) passed on. A daemon started any other way logs to
the stderr of whoever started it, and --daemon says so.`,
	run: runLogs,
}

func init() { register(logsCmd) }

// maxJSONLine is the longest line one --json record carries; longer lines
// are split, so a task printing without newlines cannot exhaust memory.
const maxJSONLine = 64 << 10

// logLineJSON is one record of `scavenge logs --json`.
type logLineJSON struct {
	Job    string `json:"job"`
	Task   string `json:"task"`
	Stream string `json:"stream"`
	Offset int64  `json:"offset"`
	Line   string `json:"line"`
}

func runLogs(ctx context.Context, e *env, args []string) error {
	fs := e.flagSet()
	home := addHomeFlag(fs)
	var follow bool
	fs.BoolVar(&follow, "follow", false, "go on printing what the task prints until it ends")
	fs.BoolVar(&follow, "f", false, "the same as --follow")
	onlyOut := fs.Bool("stdout", false, "print only the task's stdout")
	onlyErr := fs.Bool("stderr", false, "print only the task's stderr (on stdout, for pipes)")
	asJSON := fs.Bool("json", false, "print JSON lines {job, task, stream, offset, line}")
	daemon := fs.Bool("daemon", false, "print the daemon's own log (its systemd journal)")
	lines := fs.Int("n", 0, "with --daemon: only the last `N` lines")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *daemon {
		if len(pos) > 0 || *onlyOut || *onlyErr || *asJSON {
			return usagef("--daemon takes only -f and -n")
		}
		return defaultDaemonLogs.run(ctx, e, follow, *lines)
	}
	if len(pos) == 0 || len(pos) > 2 {
		return usagef("want JOB [TASK], got %d arguments", len(pos))
	}
	streams := []string{scavenger.StreamStdout, scavenger.StreamStderr}
	switch {
	case *onlyOut && *onlyErr:
		return usagef("--stdout and --stderr: give one of them, or neither for both")
	case *onlyOut:
		streams = streams[:1]
	case *onlyErr:
		streams = streams[1:]
	}
	dir, err := home.home(e)
	if err != nil {
		return err
	}
	c := newClient(dir)
	j, err := c.Job(ctx, pos[0])
	if err != nil {
		return err // the daemon's words name the job
	}
	tasks, err := logTasks(j, pos[1:], follow)
	if err != nil {
		return err
	}
	p := &logPrinter{e: e, c: c, job: j.ID, streams: streams, follow: follow, headers: len(tasks) > 1}
	if *asJSON {
		p.enc = json.NewEncoder(e.stdout)
	}
	for _, t := range tasks {
		if err := p.task(ctx, t); err != nil {
			if ctx.Err() != nil {
				return &codeError{code: exitInterrupted}
			}
			return err
		}
	}
	return nil
}

// logTasks picks the tasks whose logs to print: the one named, the only
// one, or every task of the job when not following.
func logTasks(j scavenger.Job, named []string, follow bool) ([]scavenger.Task, error) {
	if len(named) == 1 {
		for _, t := range j.Tasks {
			if t.ID == named[0] {
				return []scavenger.Task{t}, nil
			}
		}
		ids := make([]string, len(j.Tasks))
		for i, t := range j.Tasks {
			ids[i] = t.ID
		}
		return nil, &scavenger.NoTaskError{Job: j.ID, Task: named[0], Tasks: ids}
	}
	if follow && len(j.Tasks) > 1 {
		return nil, usagef("job %s has %d tasks: name the one to follow, e.g. 'scavenge logs -f %s %s'",
			j.ID, len(j.Tasks), j.ID, j.Tasks[0].ID)
	}
	return j.Tasks, nil
}

// logPrinter prints the logs of one job's tasks.
type logPrinter struct {
	e       *env
	c       *client.Client
	job     string
	streams []string
	follow  bool
	headers bool          // many tasks: each task's output under a header
	enc     *json.Encoder // --json: records go here, on stdout
	encMu   sync.Mutex
	// printed is set per writer (stdout, stderr) once a header was printed
	// there: the next one is set off by a blank line.
	printed map[io.Writer]bool
}

// task prints the selected streams of one task's log. Followed streams are
// read at once, so the task's stdout and stderr show as it prints them.
func (p *logPrinter) task(ctx context.Context, t scavenger.Task) error {
	if !p.follow {
		for _, s := range p.streams {
			if err := p.stream(ctx, t, s); err != nil {
				return err
			}
		}
		return nil
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, s := range p.streams {
		g.Go(func() error { return p.stream(gctx, t, s) })
	}
	return g.Wait()
}

// stream copies one stream of a task's log to where it goes.
func (p *logPrinter) stream(ctx context.Context, t scavenger.Task, stream string) error {
	log, err := p.c.Logs(ctx, scavenger.LogRequest{JobID: p.job, TaskID: t.ID, Stream: stream, Follow: p.follow})
	if err != nil {
		return err
	}
	defer log.Close()
	w, flush := p.sink(t, stream)
	_, err = io.Copy(w, log)
	if ferr := flush(); err == nil {
		err = ferr
	}
	return err
}

// sink is where one stream of a task's log is written, and what to call
// at its end.
func (p *logPrinter) sink(t scavenger.Task, stream string) (io.Writer, func() error) {
	if p.enc != nil {
		jl := &jsonLines{p: p, rec: logLineJSON{Job: p.job, Task: t.ID, Stream: stream}}
		return jl, jl.flush
	}
	w := p.e.stdout
	if stream == scavenger.StreamStderr && len(p.streams) == 2 {
		w = p.e.stderr
	}
	if !p.headers {
		return w, func() error { return nil }
	}
	return &headedWriter{p: p, w: w, header: taskHeader(t)}, func() error { return nil }
}

// taskHeader heads a task's output when several tasks' are printed.
func taskHeader(t scavenger.Task) string {
	state := string(t.State)
	if x := taskExitText(t); x != "-" {
		state += ", exit " + x
	}
	return fmt.Sprintf("==> task %s (%s) <==", t.ID, state)
}

// headedWriter writes a header before the first bytes of a section, so a
// task that printed nothing on a stream takes no room there.
type headedWriter struct {
	p      *logPrinter
	w      io.Writer
	header string
	done   bool
}

func (h *headedWriter) Write(b []byte) (int, error) {
	if !h.done && len(b) > 0 {
		h.done = true
		if h.p.printed == nil {
			h.p.printed = map[io.Writer]bool{}
		}
		sep := ""
		if h.p.printed[h.w] {
			sep = "\n"
		}
		h.p.printed[h.w] = true
		if _, err := fmt.Fprintf(h.w, "%s%s\n", sep, h.header); err != nil {
			return 0, err
		}
	}
	return h.w.Write(b)
}

// jsonLines turns one stream of a log into --json records, a line each.
type jsonLines struct {
	p   *logPrinter
	rec logLineJSON // Job, Task and Stream set; Offset of buf's first byte
	buf []byte      // a line not yet ended
}

func (j *jsonLines) Write(b []byte) (int, error) {
	j.buf = append(j.buf, b...)
	for {
		i := bytes.IndexByte(j.buf, '\n')
		switch {
		case i >= 0 && i <= maxJSONLine:
			if err := j.emit(j.buf[:i], i+1); err != nil {
				return 0, err
			}
		case len(j.buf) >= maxJSONLine: // and no newline within the limit
			if err := j.emit(j.buf[:maxJSONLine], maxJSONLine); err != nil {
				return 0, err
			}
		default:
			return len(b), nil
		}
	}
}

// emit writes line as a record and drops n bytes (the line and its
// newline) from the buffer.
func (j *jsonLines) emit(line []byte, n int) error {
	r := j.rec
	r.Line = string(line)
	j.p.encMu.Lock()
	err := j.p.enc.Encode(r)
	j.p.encMu.Unlock()
	j.rec.Offset += int64(n)
	j.buf = j.buf[:copy(j.buf, j.buf[n:])]
	return err
}

// flush emits a last line that has no newline.
func (j *jsonLines) flush() error {
	if len(j.buf) == 0 {
		return nil
	}
	return j.emit(j.buf, len(j.buf))
}
