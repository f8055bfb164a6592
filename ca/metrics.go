package ca

import "github.com/prometheus/client_golang/prometheus"

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
	}
	for _, c := range []prometheus.Collector{m.issued, m.refused, m.lineage, m.torn, m.rejected} {
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
