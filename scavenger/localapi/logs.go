package localapi

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/scavenge/scavenge/scavenger"
)

// logChunk is the most of a log one write sends; each write is flushed, so
// a followed log reaches the client as it grows.
const logChunk = 64 << 10

// serveLog streams one stream of a task's log as raw bytes from an offset.
// A response that ends normally holds the whole log from the offset (with
// follow: up to the task's end). When the log cannot go on (the daemon
// stops while the task runs, a read fails) the connection is cut instead,
// so the client sees a broken body and never mistakes it for the end.
func (h *Handler) serveLog(w http.ResponseWriter, r *http.Request) error {
	req, err := logRequest(r.PathValue("id"), r.PathValue("task"), r.URL.Query())
	if err != nil {
		return withStatus(http.StatusBadRequest, err)
	}
	log, err := h.b.Logs(r.Context(), req)
	if err != nil {
		// The request is checked above: what is left is the job's or the
		// daemon's fault.
		return jobError(err, http.StatusInternalServerError)
	}
	defer log.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	// Headers now: a followed task may print nothing for a long time.
	if err := rc.Flush(); err != nil {
		return nil // the client is gone
	}
	buf := make([]byte, logChunk)
	for {
		n, err := log.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return nil
			}
			if ferr := rc.Flush(); ferr != nil {
				return nil
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if r.Context().Err() == nil {
				h.log.Warn("task log broke off", "job", req.JobID, "task", req.TaskID, "stream", req.Stream, "err", err)
			}
			panic(http.ErrAbortHandler) // cut the connection: see above
		}
	}
}

// logRequest reads the query of a log request: stream (stdout, the
// default, or stderr), offset (bytes, default 0) and follow (a boolean).
func logRequest(job, task string, q url.Values) (scavenger.LogRequest, error) {
	req := scavenger.LogRequest{JobID: job, TaskID: task, Stream: q.Get("stream")}
	switch req.Stream {
	case "":
		req.Stream = scavenger.StreamStdout
	case scavenger.StreamStdout, scavenger.StreamStderr:
	default:
		return req, fmt.Errorf("query stream=%q: want %s or %s", req.Stream, scavenger.StreamStdout, scavenger.StreamStderr)
	}
	if v := q.Get("offset"); v != "" {
		off, err := strconv.ParseInt(v, 10, 64)
		if err != nil || off < 0 {
			return req, fmt.Errorf("query offset=%q: want a byte count, 0 or more", v)
		}
		req.Offset = off
	}
	if v := q.Get("follow"); v != "" {
		f, err := strconv.ParseBool(v)
		if err != nil {
			return req, fmt.Errorf("query follow=%q: want true or false", v)
		}
		req.Follow = f
	}
	return req, nil
}
