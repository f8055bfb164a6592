// Package dashboards holds the Grafana dashboards shipped with logsys
// (embedded JSON, provisioned by compose.yaml) and reports which logsys
// metrics they and the Prometheus alert rules query, so that tests can check
// the binary exports every one of them.
package dashboards

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"slices"

	"go.yaml.in/yaml/v3"

	"logsys/deploy/prometheus"
)

// FS holds every dashboard, one JSON file each.
//
//go:embed *.json
var FS embed.FS

// MetricNames returns, sorted and without duplicates, every logsys_* metric
// name that a dashboard query or an alert rule references, as written in
// the query: a histogram appears as its _bucket series, as in the
// Prometheus exposition format. It fails when a dashboard is not a valid
// Grafana dashboard or the rules do not parse.
func MetricNames() ([]string, error) {
	files, err := fs.Glob(FS, "*.json")
	if err != nil {
		return nil, fmt.Errorf("list dashboards: %w", err)
	}
	var exprs []string
	for _, name := range files {
		data, err := FS.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("read dashboard %s: %w", name, err)
		}
		d, err := Parse(data)
		if err != nil {
			return nil, fmt.Errorf("dashboard %s: %w", name, err)
		}
		exprs = append(exprs, d.Exprs()...)
	}
	rules, err := ruleExprs(prometheus.Alerts)
	if err != nil {
		return nil, fmt.Errorf("alert rules: %w", err)
	}
	exprs = append(exprs, rules...)
	var names []string
	for _, e := range exprs {
		names = append(names, metricNamesIn(e)...)
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// ruleExprs returns the expression of every rule in a Prometheus rule file.
func ruleExprs(data []byte) ([]string, error) {
	var f struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert  string `yaml:"alert"`
				Record string `yaml:"record"`
				Expr   string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	if len(f.Groups) == 0 {
		return nil, errors.New("no rule groups")
	}
	var exprs []string
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Expr == "" {
				return nil, fmt.Errorf("group %s: rule %q has no expr", g.Name, r.Alert+r.Record)
			}
			exprs = append(exprs, r.Expr)
		}
	}
	return exprs, nil
}
