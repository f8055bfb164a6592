package ca

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"logsys/spiffeid"
)

// Issuance methods (the `method` label).
const (
	MethodBootstrap = "bootstrap"
	MethodRenew     = "renew"
)

// metrics are the Server's counters. A nil *metrics records nothing.
type metrics struct {
	issued   *prometheus.CounterVec
	refused  *prometheus.CounterVec
	lineage  *prometheus.CounterVec
	torn     *prometheus.CounterVec
	rejected *prometheus.CounterVec
	reports  *prometheus.CounterVec
	forcedC  *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	if reg == nil {
		return nil, nil
	}
	m := &metrics{
		issued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logsys_ca_issued_total",
			Help: "Certificates issued by logsys ca, by environment, workload name and method (bootstrap, renew).",
		}, []string{"env", "name", "method"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logsys_ca_refused_total",
			Help: "Issuance requests refused by logsys ca, by environment and reason.",
		}, []string{"env", "reason"}),
		lineage: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logsys_ca_lineage_revoked_total",
			Help: "Certificates logsys ca put on the CRL because one they were renewed from was revoked, by environment.",
		}, []string{"env"}),
		torn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logsys_ca_ledger_torn_total",
			Help: "Torn last records (a crash during their write) removed from the issuance ledger at start, by environment.",
		}, []string{"env"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logsys_ca_reload_rejections_total",
			Help: "Readings of the PKI directory refused by logsys ca, which kept the previous one, by environment and reason: " +
				"crl (missing, unparseable, unsigned, no number or nextUpdate), crl_stale, crl_number (went backwards or reused), other. " +
				"Renewals are refused while the reason is a crl one.",
		}, []string{"env", "reason"}),

		reports: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logsys_ca_reports_total",
			Help: "Trust reports accepted by logsys ca (what a member trusts), by environment and how they came (renew, trust).",
		}, []string{"env", "via"}),
		forcedC: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logsys_ca_rollover_forced_total",
			Help: "Intermediates activated before every member reported them, by environment and reason (max_wait, previous_expiring).",
		}, []string{"env", "reason"}),
	}
	for _, c := range []prometheus.Collector{m.issued, m.refused, m.lineage, m.torn, m.rejected, m.reports, m.forcedC} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) issue(env, name, method string) {
	if m != nil {
		m.issued.WithLabelValues(env, name, method).Inc()
	}
}

func (m *metrics) refuse(env, reason string) {
	if m != nil {
		m.refused.WithLabelValues(env, reason).Inc()
	}
}

func (m *metrics) lineageRevoked(env string, n int) {
	if m != nil {
		m.lineage.WithLabelValues(env).Add(float64(n))
	}
}

func (m *metrics) tornLedger(env string) {
	if m != nil {
		m.torn.WithLabelValues(env).Inc()
	}
}

// initRejects creates the zero-valued rejection series of env.
func (m *metrics) initRejects(env string) {
	if m != nil {
		for _, r := range allRejects {
			m.rejected.WithLabelValues(env, r)
		}
	}
}

func (m *metrics) reject(env, reason string) {
	if m != nil {
		m.rejected.WithLabelValues(env, reason).Inc()
	}
}

func (m *metrics) report(env, via string) {
	if m != nil {
		m.reports.WithLabelValues(env, via).Inc()
	}
}

func (m *metrics) forced(env, reason string) {
	if m != nil {
		m.forcedC.WithLabelValues(env, reason).Inc()
	}
}

// registerRollover registers the rollover gauges of s, computed from its
// last plan at each scrape, and creates the forced counter's series.
func (m *metrics) registerRollover(reg prometheus.Registerer, s *Server) error {
	if m == nil {
		return nil
	}
	for _, reason := range []string{ForcedMaxWait, ForcedExpiring} {
		m.forcedC.WithLabelValues(s.cfg.Env, reason)
	}
	return reg.Register(rolloverCollector{s})
}

var (
	phaseDesc = prometheus.NewDesc("logsys_ca_rollover_phase",
		"Phase of the intermediate rollover: 1 for the current phase (done, prepared, propagating, active, retiring), 0 for the others.",
		[]string{"env", "phase"}, nil)
	phaseSecondsDesc = prometheus.NewDesc("logsys_ca_rollover_phase_seconds",
		"Seconds the rollover has been in its current phase (0 when no rollover ever happened).", []string{"env", "phase"}, nil)
	waitingDesc = prometheus.NewDesc("logsys_ca_rollover_waiting_members",
		"Members the rollover phase waits for: not yet reporting the next intermediate (prepared, propagating), still on a certificate of the previous one (active), still holding the retired one (retiring).",
		[]string{"env"}, nil)
	reportAgeDesc = prometheus.NewDesc("logsys_ca_report_age_seconds",
		"Seconds since the least recent last trust report among the live members of an identity (since its oldest unexpired certificate was issued when it never reported), by environment and workload name.",
		[]string{"env", "name"}, nil)
)

// rolloverCollector exports the rollover state of a Server.
type rolloverCollector struct{ s *Server }

func (c rolloverCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- phaseDesc
	ch <- phaseSecondsDesc
	ch <- waitingDesc
	ch <- reportAgeDesc
}

func (c rolloverCollector) Collect(ch chan<- prometheus.Metric) {
	p := c.s.plan.Load()
	if p == nil {
		return
	}
	env, now := c.s.cfg.Env, c.s.cfg.Now()
	for _, ph := range Phases {
		v := 0.0
		if ph == p.Phase {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(phaseDesc, prometheus.GaugeValue, v, env, string(ph))
	}
	secs := 0.0
	if !p.Since.IsZero() {
		secs = max(0, now.Sub(p.Since).Seconds())
	}
	ch <- prometheus.MustNewConstMetric(phaseSecondsDesc, prometheus.GaugeValue, secs, env, string(p.Phase))
	ch <- prometheus.MustNewConstMetric(waitingDesc, prometheus.GaugeValue, float64(p.Counted-p.Ready), env)
	for name, age := range reportAges(p.Members, now) {
		ch <- prometheus.MustNewConstMetric(reportAgeDesc, prometheus.GaugeValue, age.Seconds(), env, name)
	}
}

// reportAges is, per workload name, the age of the least recent last
// report among its members (for one that never reported, the age of its
// oldest unexpired certificate).
func reportAges(members []Member, now time.Time) map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, m := range members {
		id, err := spiffeid.Parse(m.Identity)
		if err != nil {
			continue
		}
		seen := m.Start
		if m.Report != nil {
			seen = m.Report.At
		}
		if age := max(0, now.Sub(seen)); age >= out[id.Name] {
			out[id.Name] = age
		}
	}
	return out
}
