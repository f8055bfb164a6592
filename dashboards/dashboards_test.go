package dashboards

import (
	"encoding/json"
	"io/fs"
	"slices"
	"strings"
	"testing"
)

// documented are the metric names the dashboards and alerts are built on
// (DESIGN: metrics exported by every role), as series names.
var documented = []string{
	"logsys_build_info",
	"logsys_ca_report_age_seconds",
	"logsys_ca_rollover_forced_total",
	"logsys_ca_rollover_phase",
	"logsys_ca_rollover_phase_seconds",
	"logsys_ca_rollover_waiting_members",
	"logsys_circuit_breaker_state",
	"logsys_consumer_lag_records",
	"logsys_consumer_store_failing",
	"logsys_events_total",
	"logsys_gateway_shed_requests_total",
	"logsys_http_request_duration_seconds_bucket",
	"logsys_http_requests_total",
	"logsys_tls_certificate_expiry_seconds",
	"logsys_tls_crl_next_update_seconds",
	"logsys_tls_handshake_duration_seconds_bucket",
	"logsys_tls_handshake_failures_total",
	"logsys_tls_reload_rejections_total",
	"logsys_tls_reloads_total",
}

func TestMetricNames(t *testing.T) {
	got, err := MetricNames()
	if err != nil {
		t.Fatalf("MetricNames: %v", err)
	}
	if !slices.Equal(got, documented) {
		t.Errorf("MetricNames() =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(documented, "\n"))
	}
}

func TestMetricNamesIn(t *testing.T) {
	tests := []struct {
		name, expr string
		want       []string
	}{
		{"plain", "logsys_events_total", []string{"logsys_events_total"}},
		{"in functions", `sum by (role) (rate(logsys_events_total{result="stored"}[5m]))`, []string{"logsys_events_total"}},
		{"histogram bucket", "histogram_quantile(0.99, sum by (le) (rate(logsys_tls_handshake_duration_seconds_bucket[5m])))",
			[]string{"logsys_tls_handshake_duration_seconds_bucket"}},
		{"two metrics", "logsys_a > 1 and logsys_b_total offset 5m", []string{"logsys_a", "logsys_b_total"}},
		{"label value ignored", `up{job="logsys_gateway"} == 0`, nil},
		{"single-quoted and escaped", `x{a='logsys_q', b="say \"logsys_r\""} + logsys_s`, []string{"logsys_s"}},
		{"regexp ignored", "x{job=~`logsys_.*`}", nil},
		{"prefix of another word", "mylogsys_events_total + not_logsys_x", nil},
		{"label names ignored", `sum by (logsys_role) (y{logsys_x="1"}) * on (logsys_i) group_left (logsys_l) logsys_z`, []string{"logsys_z"}},
		{"matchers after name", `logsys_a{job="x",logsys_b="y"}`, []string{"logsys_a"}},
		{"aggregation clause after", `sum(logsys_a) without (logsys_b)`, []string{"logsys_a"}},
		{"other metrics", "rate(process_cpu_seconds_total[5m])", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := metricNamesIn(tt.expr); !slices.Equal(got, tt.want) {
				t.Errorf("metricNamesIn(%q) = %q, want %q", tt.expr, got, tt.want)
			}
		})
	}
}

func TestShippedDashboardsAreValid(t *testing.T) {
	files, err := fs.Glob(FS, "*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no embedded dashboards (err %v)", err)
	}
	uids := map[string]string{}
	for _, name := range files {
		data, err := FS.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		d, err := Parse(data)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if other, ok := uids[d.UID]; ok {
			t.Errorf("%s and %s share uid %q", name, other, d.UID)
		}
		uids[d.UID] = name
	}
}

func TestLogsysDashboard(t *testing.T) {
	data, err := FS.ReadFile("logsys.json")
	if err != nil {
		t.Fatal(err)
	}
	d, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if d.Title != "logsys - TLS and pipeline" {
		t.Errorf("title = %q", d.Title)
	}
	var titles []string
	for _, p := range d.allPanels() {
		titles = append(titles, p.Title)
	}
	for _, want := range []string{
		"Request rate", "Event throughput per hop", "TLS handshake duration p99: full vs resumed",
		"TLS handshake failures by reason", "Days to certificate expiry", "Certificate reload failures",
		"Circuit breaker state", "Consumer lag", "CPU per role",
		"Intermediate rollover phase", "Rollover: members waited for", "Seconds since the last trust report",
	} {
		if !slices.Contains(titles, want) {
			t.Errorf("no panel %q (have %q)", want, titles)
		}
	}
}

// TestValidateRejects breaks a valid dashboard one defect at a time.
func TestValidateRejects(t *testing.T) {
	tests := []struct {
		name, wantErr string
		mutate        func(d map[string]any)
	}{
		{"no uid", "uid is empty", func(d map[string]any) { delete(d, "uid") }},
		{"long uid", "longer than 40", func(d map[string]any) { d["uid"] = strings.Repeat("u", 41) }},
		{"no title", "title is empty", func(d map[string]any) { d["title"] = "" }},
		{"no panels", "no panels", func(d map[string]any) { d["panels"] = []any{} }},
		{"panel without targets", "no targets", func(d map[string]any) { panel(d, 0)["targets"] = []any{} }},
		{"target without expr", "has no expr", func(d map[string]any) { target(d, 0)["expr"] = "" }},
		{"repeated refId", "empty or repeated", func(d map[string]any) {
			p := panel(d, 0)
			p["targets"] = append(p["targets"].([]any), p["targets"].([]any)[0])
		}},
		{"duplicate id", "duplicate id", func(d map[string]any) { panel(d, 1)["id"] = panel(d, 0)["id"] }},
		{"zero id", "id must be positive", func(d map[string]any) { panel(d, 0)["id"] = 0 }},
		{"no gridPos", "no gridPos", func(d map[string]any) { delete(panel(d, 0), "gridPos") }},
		{"off the grid", "off the 24-column grid", func(d map[string]any) {
			panel(d, 0)["gridPos"] = map[string]any{"x": 12, "y": 0, "w": 13, "h": 8}
		}},
		{"collapsed row panel without targets", "no targets", func(d map[string]any) {
			inner := panel(d, 0)
			inner["targets"] = []any{}
			d["panels"] = []any{map[string]any{"id": 100, "type": "row", "title": "r", "collapsed": true,
				"gridPos": map[string]any{"x": 0, "y": 0, "w": 24, "h": 1}, "panels": []any{inner}}}
		}},
	}
	base, err := FS.ReadFile("logsys.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d map[string]any
			if err := json.Unmarshal(base, &d); err != nil {
				t.Fatal(err)
			}
			tt.mutate(d)
			data, err := json.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Parse(data)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Parse: error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseRejectsMalformedJSON(t *testing.T) {
	if _, err := Parse([]byte(`{"uid": "x", "title": `)); err == nil {
		t.Error("Parse accepted truncated JSON")
	}
}

func TestRuleExprs(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string
		wantErr    bool
	}{
		{"alert and record", "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: logsys_a > 0\n  - record: r\n    expr: sum(logsys_b)\n",
			[]string{"logsys_a > 0", "sum(logsys_b)"}, false},
		{"no groups", "groups: []\n", nil, true},
		{"rule without expr", "groups:\n- name: g\n  rules:\n  - alert: A\n", nil, true},
		{"not yaml", "groups: [", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ruleExprs([]byte(tt.yaml))
			if (err != nil) != tt.wantErr {
				t.Fatalf("ruleExprs error = %v, wantErr %v", err, tt.wantErr)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("ruleExprs = %q, want %q", got, tt.want)
			}
		})
	}
}

func panel(d map[string]any, i int) map[string]any {
	return d["panels"].([]any)[i].(map[string]any)
}

func target(d map[string]any, i int) map[string]any {
	return panel(d, i)["targets"].([]any)[0].(map[string]any)
}
