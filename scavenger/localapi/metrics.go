package localapi

import (
	"errors"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/scavenge/scavenge/policy"
	"github.com/scavenge/scavenge/scavenger"
)

// The Prometheus endpoint: GET /localapi/v0/metrics on the socket and
// /metrics on the dashboard listener. The series are read from the
// engine's Stats at scrape time, so the engine keeps one set of counters
// and nothing here can drift from what the dashboard shows. The registry
// is our own: libp2p registers its series in the global one, and they are
// not this endpoint's business.

// StatsBackend is a Backend that also reports counters; the engine is one.
// It is a separate interface so backends without counters still serve the
// rest of the API.
type StatsBackend interface {
	Stats() scavenger.Stats
}

var _ StatsBackend = (*scavenger.Engine)(nil)

// presenceStates are the policy's states, each a scavenge_presence_state
// series that is 1 for the current state and 0 for the others.
var presenceStates = []policy.State{
	policy.StateOwnerActive, policy.StateIdle, policy.StateDonating,
	policy.StateOwnerBack, policy.StatePaused, policy.StateOutsideHours,
}

var (
	descState    = prometheus.NewDesc("scavenge_presence_state", "1 for the owner policy's current state, 0 for the others.", []string{"state"}, nil)
	descGuests   = prometheus.NewDesc("scavenge_guests", "Tasks of other peers running on this machine.", nil, nil)
	descPeers    = prometheus.NewDesc("scavenge_peers", "Other peers whose offers are fresh.", nil, nil)
	descTasks    = prometheus.NewDesc("scavenge_tasks_total", "Guest tasks on this machine by what happened to them.", []string{"event"}, nil)
	descCPU      = prometheus.NewDesc("scavenge_cpu_seconds_total", "CPU seconds donated to other peers' tasks, and received by this home's tasks.", []string{"direction"}, nil)
	descCkpt     = prometheus.NewDesc("scavenge_checkpoints_total", "Checkpoints of guests on this machine by outcome: images sent home, checkpoints failed, guests resumed here, images that could not be resumed here.", []string{"result"}, nil)
	descReaction = prometheus.NewDesc("scavenge_reaction_seconds", "Time from a presence decision to its guest action being applied.", nil, nil)
)

// statsCollector turns a Stats snapshot into metrics.
type statsCollector struct {
	stats func() scavenger.Stats
}

func (c statsCollector) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(c, ch) }

func (c statsCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.stats()
	for _, s := range presenceStates {
		v := 0.0
		if string(s) == st.State {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(descState, prometheus.GaugeValue, v, string(s))
	}
	ch <- prometheus.MustNewConstMetric(descGuests, prometheus.GaugeValue, float64(st.Guests))
	ch <- prometheus.MustNewConstMetric(descPeers, prometheus.GaugeValue, float64(st.Peers))
	ch <- prometheus.MustNewConstMetric(descTasks, prometheus.CounterValue, float64(st.TasksRun), "run")
	ch <- prometheus.MustNewConstMetric(descTasks, prometheus.CounterValue, float64(st.TasksPreempted), "preempted")
	ch <- prometheus.MustNewConstMetric(descTasks, prometheus.CounterValue, float64(st.TasksMigrated), "migrated")
	for result, v := range map[string]uint64{"sent": st.Checkpoints.Sent, "failed": st.Checkpoints.Failed,
		"resumed": st.Checkpoints.Resumed, "resume_failed": st.Checkpoints.ResumeFailed} {
		ch <- prometheus.MustNewConstMetric(descCkpt, prometheus.CounterValue, float64(v), result)
	}
	ch <- prometheus.MustNewConstMetric(descCPU, prometheus.CounterValue, st.CPUDonatedSeconds, "donated")
	ch <- prometheus.MustNewConstMetric(descCPU, prometheus.CounterValue, st.CPUReceivedSeconds, "received")
	buckets := make(map[float64]uint64, len(st.Reaction.Bounds))
	for i, b := range st.Reaction.Bounds {
		buckets[b] = st.Reaction.Counts[i]
	}
	ch <- prometheus.MustNewConstHistogram(descReaction, st.Reaction.Count, st.Reaction.Sum, buckets)
}

// NewMetricsHandler serves the Prometheus text format of sb's counters
// from a registry of its own.
func NewMetricsHandler(sb StatsBackend) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(statsCollector{stats: sb.Stats})
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

// statsBackend is h's backend as a StatsBackend, or an error for one
// without counters.
func (h *Handler) statsBackend() (StatsBackend, error) {
	sb, ok := h.b.(StatsBackend)
	if !ok {
		return nil, withStatus(http.StatusNotFound, errors.New("this daemon keeps no counters"))
	}
	return sb, nil
}

func (h *Handler) serveStats(w http.ResponseWriter, r *http.Request) error {
	sb, err := h.statsBackend()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, sb.Stats())
	return nil
}

func (h *Handler) serveMetrics(w http.ResponseWriter, r *http.Request) error {
	sb, err := h.statsBackend()
	if err != nil {
		return err
	}
	h.metricsOnce.Do(func() { h.metrics = NewMetricsHandler(sb) })
	h.metrics.ServeHTTP(w, r)
	return nil
}
