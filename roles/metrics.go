package roles

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
)

// Version is reported by logsys_build_info.
var Version = "dev"

// roleMetrics are the pipeline metrics every role exports.
type roleMetrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	events   *prometheus.CounterVec
	breaker  *prometheus.GaugeVec
	lag      *prometheus.GaugeVec
	// also are more registries served on this role's /metrics (in
	// logsys all: the CA's with the gateway's); set before Run.
	also prometheus.Gatherers
}

// newRoleMetrics registers the role metrics, the Go and process collectors
// and logsys_build_info on a fresh registry.
func newRoleMetrics(role string) *roleMetrics {
	reg := prometheus.NewRegistry()
	m := &roleMetrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logsys_http_requests_total", Help: "HTTP requests served, by route and status code.",
		}, []string{"role", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "logsys_http_request_duration_seconds", Help: "HTTP request latency.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"role", "route"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logsys_events_total", Help: "Log events by role and result.",
		}, []string{"role", "result"}),
		breaker: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "logsys_circuit_breaker_state", Help: "Circuit breaker state: 0 closed, 1 half-open, 2 open.",
		}, []string{"target"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "logsys_consumer_lag_records", Help: "Records between the consumer's position and the partition end.",
		}, []string{"topic", "partition"}),
	}
	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "logsys_build_info", Help: "Build information; always 1.",
	}, []string{"role", "version"})
	info.WithLabelValues(role, Version).Set(1)
	reg.MustRegister(m.requests, m.duration, m.events, m.breaker, m.lag, info,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// handler serves /metrics: the role's registry and those in also.
func (m *roleMetrics) handler() http.Handler {
	all := prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		return append(prometheus.Gatherers{m.reg}, m.also...).Gather()
	})
	return promhttp.HandlerFor(all, promhttp.HandlerOpts{Registry: m.reg})
}

// statusRecorder captures the status code written by a handler.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

// instrument counts and times requests to route. The series of each
// status code is looked up once, on its first request.
func (m *roleMetrics) instrument(role, route string, h http.Handler) http.Handler {
	dur := m.duration.WithLabelValues(role, route)
	var byCode sync.Map // int -> prometheus.Counter
	count := func(code int) prometheus.Counter {
		if c, ok := byCode.Load(code); ok {
			return c.(prometheus.Counter)
		}
		c, _ := byCode.LoadOrStore(code, m.requests.WithLabelValues(role, route, strconv.Itoa(code)))
		return c.(prometheus.Counter)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(rec, r)
		dur.Observe(time.Since(start).Seconds())
		count(rec.code).Inc()
	})
}

// eventCount is logsys_events_total{role, result}, looked up on first use
// (the series appears with its first event, as before).
func (m *roleMetrics) eventCount(role, result string) func() prometheus.Counter {
	return sync.OnceValue(func() prometheus.Counter { return m.events.WithLabelValues(role, result) })
}
