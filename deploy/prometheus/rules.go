// Package prometheus holds the Prometheus configuration shipped with logsys:
// the scrape configuration for the compose stack and the alert rules, the
// latter embedded so Go tests can check the metrics they query.
package prometheus

import _ "embed"

// Alerts is alerts.yml, the alert rules loaded by Prometheus.
//
//go:embed alerts.yml
var Alerts []byte
