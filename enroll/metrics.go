package enroll

import "github.com/prometheus/client_golang/prometheus"

// Issuance methods (the `method` label).
const (
	methodBootstrap = "bootstrap"
	methodRenew     = "renew"
)

// metrics are the Renewer's counters; they work unregistered too.
type metrics struct {
	certificates *prometheus.CounterVec
	rejected     *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		certificates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logsys_enroll_certificates_total",
			Help: "Certificates this role obtained from logsys ca, by method (bootstrap, renew).",
		}, []string{"method"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logsys_enroll_rejected_total",
			Help: "Material from logsys ca this role refused, by reason (" + reasonList + ").",
		}, []string{"reason"}),
	}
	for _, method := range []string{methodBootstrap, methodRenew} {
		m.certificates.WithLabelValues(method)
	}
	for _, r := range allReasons {
		m.rejected.WithLabelValues(r)
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.certificates, m.rejected} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
