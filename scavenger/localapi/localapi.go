// Package localapi is the daemon's local HTTP API: a versioned route table
// under /localapi/v0/, served on a Unix socket in the daemon's home directory
// (like Tailscale's ipn/localapi and Docker's socket). The CLI, the tray and
// tests are all clients of it through package client. The socket is private
// to the user running the daemon; a daemon run as root also opens a public
// socket where other local users may only read its state and pause or
// resume it (peercred.go). The dashboard page and Prometheus metrics are
// served here too, and over TCP behind a token (dashboard.go, metrics.go).
package localapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/scavenge/scavenge/scavenger"
)

// Prefix is the path every route lives under. A future incompatible API
// gets /localapi/v1/ beside it, so old clients fail with a clear 404.
const Prefix = "/localapi/v0/"

// MaxBodyBytes caps a request body: a submit request is a command line and
// a few paths, never close to this.
const MaxBodyBytes = 1 << 20

// Backend is what the API serves. *scavenger.Engine implements it; the
// interface exists so the handlers can be tested without a network.
type Backend interface {
	Status() scavenger.Status
	Peers() []scavenger.PeerInfo
	Jobs() ([]scavenger.Job, error)
	Job(id string) (scavenger.Job, error)
	Submit(ctx context.Context, req scavenger.SubmitRequest) (string, error)
	Watch(ctx context.Context, jobID string) (<-chan scavenger.Event, error)
	Logs(ctx context.Context, req scavenger.LogRequest) (io.ReadCloser, error)
	Cancel(jobID, reason string) error
	Pause(reason string)
	Resume()
}

var _ Backend = (*scavenger.Engine)(nil)

// SubmitResponse is the body of a successful POST jobs.
type SubmitResponse struct {
	ID string `json:"id"`
}

// ReasonRequest is the optional body of POST pause and POST jobs/{id}/cancel.
type ReasonRequest struct {
	Reason string `json:"reason,omitempty"`
}

// ErrorResponse is the body of every error reply.
type ErrorResponse struct {
	Error string `json:"error"`
}

// handler serves one route; a returned error becomes a JSON error reply.
type handler func(h *Handler, w http.ResponseWriter, r *http.Request) error

// routes is the API, in one place: path (relative to Prefix) -> method ->
// handler. Paths use net/http's pattern syntax for wildcards.
var routes = map[string]map[string]handler{
	"status":           {http.MethodGet: (*Handler).serveStatus},
	"peers":            {http.MethodGet: (*Handler).servePeers},
	"jobs":             {http.MethodGet: (*Handler).serveJobs, http.MethodPost: (*Handler).serveSubmit},
	"jobs/{id}":        {http.MethodGet: (*Handler).serveJob},
	"jobs/{id}/events": {http.MethodGet: (*Handler).serveEvents},
	"jobs/{id}/cancel": {http.MethodPost: (*Handler).serveCancel},
	// A task's log of one stream: ?stream=stdout|stderr&offset=N&follow=1.
	"jobs/{id}/tasks/{task}/log": {http.MethodGet: (*Handler).serveLog},
	"pause":                      {http.MethodPost: (*Handler).servePause},
	"resume":                     {http.MethodPost: (*Handler).serveResume},
	// Counters for the dashboard (JSON) and Prometheus (text): metrics.go.
	"stats":   {http.MethodGet: (*Handler).serveStats},
	"metrics": {http.MethodGet: (*Handler).serveMetrics},
	// The dashboard page's files: dashboard.go.
	"dashboard/{file...}": {http.MethodGet: (*Handler).serveDashboard},
}

// Handler is the local API's http.Handler.
type Handler struct {
	b   Backend
	log *slog.Logger
	mux *http.ServeMux
	// metrics is the Prometheus handler, built on the first scrape.
	metricsOnce sync.Once
	metrics     http.Handler
}

// New returns the API over b (normally the daemon's *scavenger.Engine).
func New(b Backend, logger *slog.Logger) *Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{b: b, log: logger.With("component", "localapi"), mux: http.NewServeMux()}
	for path, methods := range routes {
		h.mux.HandleFunc(Prefix+path, h.dispatch(methods))
	}
	// Everything else gets a JSON 404 rather than net/http's text one, so
	// clients can always decode an error.
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no such endpoint %s", r.URL.Path))
	})
	return h
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// dispatch picks the handler by method, answering 405 with Allow otherwise.
func (h *Handler) dispatch(methods map[string]handler) http.HandlerFunc {
	allowed := make([]string, 0, len(methods))
	for m := range methods {
		allowed = append(allowed, m)
	}
	slices.Sort(allowed)
	return func(w http.ResponseWriter, r *http.Request) {
		fn, ok := methods[r.Method]
		if !ok {
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s %s: method not allowed (use %s)", r.Method, r.URL.Path, strings.Join(allowed, " or ")))
			return
		}
		if err := fn(h, w, r); err != nil {
			status := http.StatusInternalServerError
			var se *statusError
			if errors.As(err, &se) {
				status = se.status
			}
			if status >= 500 {
				h.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
			} else {
				h.log.Debug("request refused", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
			}
			writeError(w, status, err.Error())
		}
	}
}

// statusError carries the HTTP status an error should be reported with.
type statusError struct {
	status int
	err    error
}

func (e *statusError) Error() string { return e.err.Error() }
func (e *statusError) Unwrap() error { return e.err }

func withStatus(status int, err error) error { return &statusError{status: status, err: err} }

// jobError maps the engine's errors about one job to statuses.
func jobError(err error, conflict int) error {
	if errors.Is(err, scavenger.ErrNotFound) {
		return withStatus(http.StatusNotFound, err)
	}
	return withStatus(conflict, err)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the client went away; nothing left to tell it
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, ErrorResponse{Error: msg})
}

// decodeBody strictly decodes a JSON request body into v: unknown fields,
// trailing data and bodies over MaxBodyBytes are refused. An empty body
// leaves v alone when optional is set.
func decodeBody(w http.ResponseWriter, r *http.Request, v any, optional bool) error {
	body := http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	data, err := io.ReadAll(body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return withStatus(http.StatusRequestEntityTooLarge, fmt.Errorf("request body exceeds %d bytes", tooBig.Limit))
		}
		return withStatus(http.StatusBadRequest, fmt.Errorf("reading request body: %w", err))
	}
	if len(bytes.TrimSpace(data)) == 0 {
		if optional {
			return nil
		}
		return withStatus(http.StatusBadRequest, errors.New("request body is empty: want a JSON object"))
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return withStatus(http.StatusBadRequest, fmt.Errorf("decoding request body: %w", err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return withStatus(http.StatusBadRequest, errors.New("decoding request body: unexpected data after the JSON object"))
	}
	return nil
}
