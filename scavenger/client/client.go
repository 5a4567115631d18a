// Package client is the typed client of a scavenge daemon's local API (see
// package localapi), in the style of Tailscale's client/local: the CLI, the
// tray and tests talk to the daemon only through it.
package client

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/scavenge/scavenge/scavenger"
	"github.com/scavenge/scavenge/scavenger/localapi"
)

// startPoll is how often a call retries while waiting for a daemon to start.
const startPoll = 50 * time.Millisecond

// maxErrorBody caps how much of an error reply is read.
const maxErrorBody = 64 << 10

// maxEventLine caps one NDJSON event line: output events carry at most a
// wire chunk, base64-encoded, and a finished event carries a job record.
const maxEventLine = 8 << 20

// Client talks to the daemon whose home directory is Home. The zero value is
// not usable; use New.
type Client struct {
	// Home is the daemon's home directory; it names the daemon in errors.
	Home string
	// Socket is the Unix socket; New sets it to <Home>/scavenge.sock.
	Socket string
	// PublicSocket is tried when Socket may not be reached (EACCES: the
	// home of a daemon run by another user, normally root); New sets it
	// to localapi.PublicSocketPath(Home). There the daemon answers only
	// what any local user may ask: status, peers, pause and resume.
	PublicSocket string
	// Dial connects to the daemon. Tests may replace it (before the first
	// call) to reach an API served some other way.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// StartWait is how long a call keeps trying when no daemon listens
	// yet: `scavenge daemon &` followed at once by another command must
	// not race the daemon's start. Zero fails at once.
	StartWait time.Duration

	once sync.Once
	hc   *http.Client
}

// New returns a client of the daemon whose home directory is home.
func New(home string) *Client {
	return &Client{Home: home, Socket: localapi.SocketPath(home), PublicSocket: localapi.PublicSocketPath(home)}
}

// ErrNoDaemon is matched (errors.Is) by the error of any call made when no
// daemon listens on the socket.
var ErrNoDaemon = errors.New("no daemon")

// NoDaemonError says that no daemon runs for a home and how to start one.
type NoDaemonError struct {
	Home string
	Err  error // the dial error
}

func (e *NoDaemonError) Error() string {
	// scavenge.toml is the config file every home has (config.FileName).
	if _, err := os.Stat(filepath.Join(e.Home, "scavenge.toml")); errors.Is(err, fs.ErrNotExist) {
		return fmt.Sprintf("no scavenge home at %s: create it with `scavenge init --home %s`, then start `scavenge daemon --home %s`",
			e.Home, shellQuote(e.Home), shellQuote(e.Home))
	}
	return fmt.Sprintf("no daemon at %s: start it with `scavenge daemon --home %s`", e.Home, shellQuote(e.Home))
}

// Is makes errors.Is(err, ErrNoDaemon) true.
func (e *NoDaemonError) Is(target error) bool { return target == ErrNoDaemon }

func (e *NoDaemonError) Unwrap() error { return e.Err }

// APIError is an error reply of the daemon.
type APIError struct {
	Status  int    // HTTP status
	Message string // the daemon's words
}

func (e *APIError) Error() string { return e.Message }

// Unwrap maps 404 to scavenger.ErrNotFound, so callers can test for an
// unknown job with errors.Is as they would against the engine.
func (e *APIError) Unwrap() error {
	if e.Status == http.StatusNotFound {
		return scavenger.ErrNotFound
	}
	return nil
}

func (c *Client) httpClient() *http.Client {
	c.once.Do(func() {
		dial := c.Dial
		if dial == nil {
			dial = dialFallback(c.Socket, c.PublicSocket)
		}
		c.hc = &http.Client{Transport: &http.Transport{
			DialContext:        dial,
			DisableCompression: true,
			MaxIdleConns:       4,
		}}
	})
	return c.hc
}

// dialFallback dials socket, or public when socket is out of this user's
// reach (the daemon's home is not theirs).
func dialFallback(socket, public string) func(ctx context.Context, _, _ string) (net.Conn, error) {
	var d net.Dialer
	return func(ctx context.Context, _, _ string) (net.Conn, error) {
		conn, err := d.DialContext(ctx, "unix", socket)
		if err == nil || public == "" || !errors.Is(err, fs.ErrPermission) {
			return conn, err
		}
		conn, perr := d.DialContext(ctx, "unix", public)
		if perr == nil {
			return conn, nil
		}
		// Not a "no daemon" error: one may well run, as another user
		// that opened no public socket.
		return nil, fmt.Errorf("%w; nor can it be reached on the public socket (only a daemon run as root opens one): %v", err, perr)
	}
}

// do sends a request and returns the response when its status is 2xx; the
// caller closes its body. Other statuses become *APIError.
func (c *Client) do(ctx context.Context, method, path string, in any) (*http.Response, error) {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return nil, fmt.Errorf("encoding %s %s: %w", method, path, err)
		}
	}
	deadline := time.Now().Add(c.StartWait)
	var resp *http.Response
	for {
		// The host is a placeholder: the transport always dials the socket.
		req, err := http.NewRequestWithContext(ctx, method, "http://local-scavenge"+localapi.Prefix+path, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		if in != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err = c.httpClient().Do(req)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if !isNoListener(err) {
			return nil, fmt.Errorf("daemon at %s: %w", c.Home, err)
		}
		if time.Now().After(deadline) {
			return nil, &NoDaemonError{Home: c.Home, Err: err}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(startPoll):
		}
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var e localapi.ErrorResponse
	if json.Unmarshal(data, &e) != nil || e.Error == "" {
		e.Error = fmt.Sprintf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(data)))
	}
	return nil, &APIError{Status: resp.StatusCode, Message: e.Error}
}

// isNoListener reports whether a dial found no daemon: no socket file, or
// one nobody listens on (the daemon died without removing it).
func isNoListener(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED)
}

// call does a request and decodes its JSON reply into out (if not nil).
func (c *Client) call(ctx context.Context, method, path string, in, out any) error {
	resp, err := c.do(ctx, method, path, in)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decoding the daemon's reply to %s %s: %w", method, path, err)
	}
	return nil
}

// Status reports what the daemon is doing: its ID and addresses, presence,
// slots and guests.
func (c *Client) Status(ctx context.Context) (scavenger.Status, error) {
	var s scavenger.Status
	err := c.call(ctx, http.MethodGet, "status", nil, &s)
	return s, err
}

// Peers lists the fresh offers the daemon knows.
func (c *Client) Peers(ctx context.Context) ([]scavenger.PeerInfo, error) {
	var p []scavenger.PeerInfo
	err := c.call(ctx, http.MethodGet, "peers", nil, &p)
	return p, err
}

// Jobs lists the daemon's jobs, newest first.
func (c *Client) Jobs(ctx context.Context) ([]scavenger.Job, error) {
	var j []scavenger.Job
	err := c.call(ctx, http.MethodGet, "jobs", nil, &j)
	return j, err
}

// Job returns one job; an unknown ID matches scavenger.ErrNotFound.
func (c *Client) Job(ctx context.Context, id string) (scavenger.Job, error) {
	var j scavenger.Job
	err := c.call(ctx, http.MethodGet, "jobs/"+url.PathEscape(id), nil, &j)
	return j, err
}

// Submit queues a job and returns its ID.
func (c *Client) Submit(ctx context.Context, req scavenger.SubmitRequest) (string, error) {
	var r localapi.SubmitResponse
	if err := c.call(ctx, http.MethodPost, "jobs", req, &r); err != nil {
		return "", err
	}
	return r.ID, nil
}

// Cancel stops a job.
func (c *Client) Cancel(ctx context.Context, id, reason string) error {
	return c.call(ctx, http.MethodPost, "jobs/"+url.PathEscape(id)+"/cancel", localapi.ReasonRequest{Reason: reason}, nil)
}

// Pause stops this machine donating until Resume.
func (c *Client) Pause(ctx context.Context, reason string) (scavenger.Status, error) {
	var s scavenger.Status
	err := c.call(ctx, http.MethodPost, "pause", localapi.ReasonRequest{Reason: reason}, &s)
	return s, err
}

// Resume lifts Pause.
func (c *Client) Resume(ctx context.Context) (scavenger.Status, error) {
	var s scavenger.Status
	err := c.call(ctx, http.MethodPost, "resume", struct{}{}, &s)
	return s, err
}

// Events streams a job's events, past ones first, until EventFinished, an
// error or the end of ctx. An error (including the stream ending before the
// job finished, as when the daemon stops) is yielded once, last.
func (c *Client) Events(ctx context.Context, id string) iter.Seq2[scavenger.Event, error] {
	return func(yield func(scavenger.Event, error) bool) {
		resp, err := c.do(ctx, http.MethodGet, "jobs/"+url.PathEscape(id)+"/events", nil)
		if err != nil {
			yield(scavenger.Event{}, err)
			return
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 0, 64<<10), maxEventLine)
		for sc.Scan() {
			line := sc.Bytes()
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			var ev scavenger.Event
			if err := json.Unmarshal(line, &ev); err != nil {
				yield(scavenger.Event{}, fmt.Errorf("decoding an event of job %s: %w", id, err))
				return
			}
			if !yield(ev, nil) || ev.Type == scavenger.EventFinished {
				return
			}
		}
		err = sc.Err()
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		yield(scavenger.Event{}, fmt.Errorf("events of job %s ended before it finished: %w", id, err))
	}
}

// Logs opens one stream of a task's log (req.Stream: stdout, the default,
// or stderr) from req.Offset. Reading it gives what the task printed so far
// and then io.EOF; with req.Follow it goes on with what the task prints
// until the task is final. When the log breaks off first (the daemon
// stopped), Read returns an error naming the offset to resume from. An
// unknown job or task matches scavenger.ErrNotFound. Close the log when
// done; ending ctx ends a followed log.
func (c *Client) Logs(ctx context.Context, req scavenger.LogRequest) (io.ReadCloser, error) {
	q := url.Values{}
	if req.Stream != "" {
		q.Set("stream", req.Stream)
	}
	if req.Offset != 0 {
		q.Set("offset", strconv.FormatInt(req.Offset, 10))
	}
	if req.Follow {
		q.Set("follow", "true")
	}
	path := "jobs/" + url.PathEscape(req.JobID) + "/tasks/" + url.PathEscape(req.TaskID) + "/log"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	resp, err := c.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return nil, err
	}
	return &logBody{ctx: ctx, body: resp.Body, req: req, off: req.Offset}, nil
}

// logBody is a log's response body that says where a broken log stopped.
type logBody struct {
	ctx  context.Context
	body io.ReadCloser
	req  scavenger.LogRequest
	off  int64 // of the next byte
}

func (l *logBody) Read(p []byte) (int, error) {
	n, err := l.body.Read(p)
	l.off += int64(n)
	if err == nil || errors.Is(err, io.EOF) {
		return n, err
	}
	if l.ctx.Err() != nil {
		return n, l.ctx.Err()
	}
	stream := cmp.Or(l.req.Stream, scavenger.StreamStdout)
	return n, fmt.Errorf("%s of job %s task %s broke off at byte %d (the daemon stopped?): %w", stream, l.req.JobID, l.req.TaskID, l.off, err)
}

func (l *logBody) Close() error { return l.body.Close() }

// shellQuote quotes s for a POSIX shell when it needs it, so the hint in
// NoDaemonError can be pasted as it is.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+=:,@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
