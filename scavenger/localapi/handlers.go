package localapi

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/scavenge/scavenge/scavenger"
)

func (h *Handler) serveStatus(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, h.b.Status())
	return nil
}

func (h *Handler) servePeers(w http.ResponseWriter, r *http.Request) error {
	peers := h.b.Peers()
	if peers == nil {
		peers = []scavenger.PeerInfo{} // [] rather than null for scripts
	}
	writeJSON(w, http.StatusOK, peers)
	return nil
}

func (h *Handler) serveJobs(w http.ResponseWriter, r *http.Request) error {
	jobs, err := h.b.Jobs()
	if err != nil {
		return err
	}
	if jobs == nil {
		jobs = []scavenger.Job{}
	}
	writeJSON(w, http.StatusOK, jobs)
	return nil
}

func (h *Handler) serveJob(w http.ResponseWriter, r *http.Request) error {
	job, err := h.b.Job(r.PathValue("id"))
	if err != nil {
		return jobError(err, http.StatusInternalServerError)
	}
	writeJSON(w, http.StatusOK, job)
	return nil
}

func (h *Handler) serveSubmit(w http.ResponseWriter, r *http.Request) error {
	var req scavenger.SubmitRequest
	if err := decodeBody(w, r, &req, false); err != nil {
		return err
	}
	if len(req.Tasks) == 0 && (len(req.Argv) == 0 || req.Argv[0] == "") {
		return withStatus(http.StatusBadRequest, errors.New("argv is empty: nothing to run"))
	}
	id, err := h.b.Submit(r.Context(), req)
	if err != nil {
		return withStatus(http.StatusBadRequest, err)
	}
	h.log.Debug("job submitted", "job", id, "argv", req.Argv)
	writeJSON(w, http.StatusOK, SubmitResponse{ID: id})
	return nil
}

// serveEvents streams a job's events as NDJSON, one flushed line per event,
// replaying its past first. The response ends after EventFinished, or when
// the client goes away or the daemon stops (the request context ends).
func (h *Handler) serveEvents(w http.ResponseWriter, r *http.Request) error {
	events, err := h.b.Watch(r.Context(), r.PathValue("id"))
	if err != nil {
		return jobError(err, http.StatusInternalServerError)
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	// Send the headers now: a job waiting for a peer may produce nothing for
	// a long time, and the client should know the stream is open.
	if err := rc.Flush(); err != nil {
		return nil // the client is gone; Watch ends with the request context
	}
	enc := json.NewEncoder(w)
	for ev := range events {
		if err := enc.Encode(ev); err != nil {
			return nil
		}
		if err := rc.Flush(); err != nil {
			return nil
		}
	}
	return nil
}

func (h *Handler) serveCancel(w http.ResponseWriter, r *http.Request) error {
	var req ReasonRequest
	if err := decodeBody(w, r, &req, true); err != nil {
		return err
	}
	if req.Reason == "" {
		req.Reason = "cancelled by the user"
	}
	id := r.PathValue("id")
	if err := h.b.Cancel(id, req.Reason); err != nil {
		return jobError(err, http.StatusConflict)
	}
	h.log.Debug("job cancelled", "job", id, "reason", req.Reason)
	writeJSON(w, http.StatusOK, struct{}{})
	return nil
}

func (h *Handler) servePause(w http.ResponseWriter, r *http.Request) error {
	var req ReasonRequest
	if err := decodeBody(w, r, &req, true); err != nil {
		return err
	}
	if req.Reason == "" {
		req.Reason = DefaultPauseReason
	}
	h.b.Pause(req.Reason)
	h.log.Debug("paused", "reason", req.Reason)
	writeJSON(w, http.StatusOK, h.b.Status())
	return nil
}

func (h *Handler) serveResume(w http.ResponseWriter, r *http.Request) error {
	if err := decodeBody(w, r, &struct{}{}, true); err != nil {
		return err
	}
	h.b.Resume()
	h.log.Debug("resumed")
	writeJSON(w, http.StatusOK, h.b.Status())
	return nil
}
