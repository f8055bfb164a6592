package tlsx

import (
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Sides of a handshake (the `side` label).
const (
	SideServer = "server"
	SideClient = "client"
)

// Metrics records TLS handshake and certificate metrics on a chosen
// registry. A nil *Metrics is valid and records nothing.
type Metrics struct {
	duration   *prometheus.HistogramVec
	failures   *prometheus.CounterVec
	reloads    *prometheus.CounterVec
	rejections *prometheus.CounterVec
	closed     *prometheus.CounterVec
	expiry     *expiryCollector
	crl        *crlCollector
}

// NewMetrics creates the logsys_tls_* metrics and registers them on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "logsys_tls_handshake_duration_seconds",
			Help:    "Duration of successful TLS handshakes.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"side", "listener", "resumed"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logsys_tls_handshake_failures_total",
			Help: "Failed TLS handshakes by reason: no_cert (no client certificate), unknown_ca (chain not to our environment's current anchors, also on resumption), " +
				"expired, revoked (serial on the CRL), crl_stale (our CRL is past nextUpdate+crl_grace: every peer refused), " +
				"unauthorized (other environment, host name, usage or identity), protocol (version, suite, group, ALPN, malformed message), " +
				"other (handshake timeout, connection reset or closed mid-handshake, unmatched alerts). See docs/security.md.",
		}, []string{"side", "listener", "reason"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logsys_tls_reloads_total",
			Help: "Reloads of certificate sources by result (success, failure).",
		}, []string{"source", "result"}),
		rejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logsys_tls_reload_rejections_total",
			Help: "Material refused by a certificate source, which kept the previous one, by reason: read, key_pair, leaf, trust_bundle, " +
				"crl (missing, unparseable, unsigned, no number or nextUpdate, none from the current intermediate), crl_stale, crl_number (went backwards or reused).",
		}, []string{"source", "reason"}),
		closed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logsys_tls_connections_closed_total",
			Help: "Live TLS connections closed by logsys by reason: revoked, untrusted (chain or identity no longer accepted), expired (peer NotAfter), " +
				"crl_stale, max_age (server side), rotated (client side: our certificate was replaced).",
		}, []string{"side", "listener", "reason"}),
		expiry: &expiryCollector{
			desc: prometheus.NewDesc("logsys_tls_certificate_expiry_seconds",
				"Seconds until a loaded certificate's NotAfter (negative once expired).",
				[]string{"source", "kind", "identity_or_subject", "serial"}, nil),
			sources: map[*Source]struct{}{},
		},
	}
	m.crl = &crlCollector{desc: prometheus.NewDesc("logsys_tls_crl_next_update_seconds",
		"Seconds until a loaded CRL's nextUpdate (negative once passed: health is DOWN, and after crl_grace every handshake is refused).",
		[]string{"source", "issuer"}, nil), sources: m.expiry}
	for _, c := range []prometheus.Collector{m.duration, m.failures, m.reloads, m.rejections, m.closed, m.expiry, m.crl} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// initListener creates the zero-valued failure series of a listener so
// that rates are defined before the first failure.
func (m *Metrics) initListener(side, listener string) {
	if m == nil {
		return
	}
	for _, r := range allReasons {
		m.failures.WithLabelValues(side, listener, string(r))
	}
}

// ObserveHandshake records a successful handshake.
func (m *Metrics) ObserveHandshake(side, listener string, resumed bool, d time.Duration) {
	if m == nil {
		return
	}
	m.duration.WithLabelValues(side, listener, strconv.FormatBool(resumed)).Observe(d.Seconds())
}

// HandshakeFailed records a failed handshake.
func (m *Metrics) HandshakeFailed(side, listener string, r Reason) {
	if m == nil {
		return
	}
	m.failures.WithLabelValues(side, listener, string(r)).Inc()
}

// initConns creates the zero-valued close series of a listener or dialer.
func (m *Metrics) initConns(side, listener string) {
	if m == nil {
		return
	}
	for _, r := range allCloseReasons {
		m.closed.WithLabelValues(side, listener, string(r))
	}
}

func (m *Metrics) connClosed(side, listener string, r CloseReason) {
	if m == nil {
		return
	}
	m.closed.WithLabelValues(side, listener, string(r)).Inc()
}

// rejected counts a refused reload.
func (m *Metrics) rejected(source string, r RejectReason) {
	if m == nil {
		return
	}
	m.reloads.WithLabelValues(source, "failure").Inc()
	m.rejections.WithLabelValues(source, string(r)).Inc()
}

func (m *Metrics) reloaded(source string, err error) {
	if m == nil {
		return
	}
	result := "success"
	if err != nil {
		result = "failure"
	}
	m.reloads.WithLabelValues(source, result).Inc()
}

func (m *Metrics) addSource(s *Source) {
	if m == nil {
		return
	}
	m.expiry.mu.Lock()
	m.expiry.sources[s] = struct{}{}
	m.expiry.mu.Unlock()
	// Both series exist from the start, so that rates and alerts on
	// reload failures are defined before the first reload.
	m.reloads.WithLabelValues(s.cfg.Name, "success")
	m.reloads.WithLabelValues(s.cfg.Name, "failure")
	for _, r := range allRejectReasons {
		m.rejections.WithLabelValues(s.cfg.Name, string(r))
	}
}

// RemoveSource stops exporting the expiry of s's certificates.
func (m *Metrics) RemoveSource(s *Source) {
	if m == nil {
		return
	}
	m.expiry.mu.Lock()
	delete(m.expiry.sources, s)
	m.expiry.mu.Unlock()
}

// expiryCollector computes seconds-to-expiry at scrape time from the
// sources' current material, so the gauge never goes stale.
type expiryCollector struct {
	desc    *prometheus.Desc
	mu      sync.Mutex
	sources map[*Source]struct{}
}

func (c *expiryCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *expiryCollector) list() []*Source {
	c.mu.Lock()
	defer c.mu.Unlock()
	srcs := make([]*Source, 0, len(c.sources))
	for s := range c.sources {
		srcs = append(srcs, s)
	}
	return srcs
}

func (c *expiryCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.list() {
		now := s.now()
		for _, ci := range s.Certificates() {
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue,
				ci.NotAfter.Sub(now).Seconds(), ci.Source, string(ci.Kind), ci.Label(), ci.Serial)
		}
	}
}

// crlCollector exports, at scrape time, how long each loaded CRL stays
// before its nextUpdate, for the sources of the expiry collector.
type crlCollector struct {
	desc    *prometheus.Desc
	sources *expiryCollector
}

func (c *crlCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *crlCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.sources.list() {
		now := s.now()
		for _, ci := range s.CRLs() {
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue,
				ci.NextUpdate.Sub(now).Seconds(), ci.Source, ci.Issuer)
		}
	}
}
