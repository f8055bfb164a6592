package it

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// checkPrometheus waits, bounded, until Prometheus (run with
// deploy/prometheus/prometheus.yml) reports up == 1 for every job of that
// file, and has loaded every alert rule of alerts.yml with no error.
func (h *harness) checkPrometheus(ctx context.Context) error {
	dir := filepath.Join(h.repo, "deploy", "prometheus")
	var conf struct {
		ScrapeConfigs []struct {
			JobName string `yaml:"job_name"`
		} `yaml:"scrape_configs"`
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := readYAML(filepath.Join(dir, "prometheus.yml"), &conf); err != nil {
		return err
	}
	if err := readYAML(filepath.Join(dir, "alerts.yml"), &rules); err != nil {
		return err
	}
	var jobs, alerts []string
	for _, s := range conf.ScrapeConfigs {
		jobs = append(jobs, s.JobName)
	}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				alerts = append(alerts, r.Alert)
			}
		}
	}
	api := "http://" + net.JoinHostPort("prometheus", h.compose.Services["prometheus"].containerPort()) + "/api/v1/"
	const bound = 90 * time.Second // scrape and evaluation intervals are 15s
	deadline := time.Now().Add(bound)
	var last string
	for next := time.Now(); ; time.Sleep(500 * time.Millisecond) {
		up, err := promUp(api)
		if err == nil {
			var down []string
			for _, j := range jobs {
				if up[j] != "1" {
					down = append(down, fmt.Sprintf("%s=%q", j, up[j]))
				}
			}
			last = "up: " + strings.Join(down, " ")
			if len(down) == 0 {
				var bad []string
				if bad, err = promRules(api, alerts); err == nil && len(bad) == 0 {
					h.step("prometheus: up == 1 for %v; %d alert rules loaded and evaluated", jobs, len(alerts))
					return nil
				}
				last = fmt.Sprintf("rules: %v %v", bad, err)
			}
		} else {
			last = err.Error()
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("prometheus after %s: %s\n%s", bound, last, promTargets(api))
		}
		if time.Now().After(next) {
			h.step("prometheus: waiting (%s)", last)
			next = time.Now().Add(10 * time.Second)
		}
	}
}

// promTargets describes every active target: its health and last error.
func promTargets(api string) string {
	body, err := promGet(api + "targets")
	if err != nil {
		return err.Error()
	}
	var r struct {
		Data struct {
			ActiveTargets []struct {
				ScrapeURL string `json:"scrapeUrl"`
				Health    string `json:"health"`
				LastError string `json:"lastError"`
			} `json:"activeTargets"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return fmt.Sprintf("targets: %v: %s", err, body)
	}
	var b strings.Builder
	for _, t := range r.Data.ActiveTargets {
		fmt.Fprintf(&b, "  %s: %s %s\n", t.ScrapeURL, t.Health, t.LastError)
	}
	return b.String()
}

// promUp returns the value of `up` per job.
func promUp(api string) (map[string]string, error) {
	body, err := promGet(api + "query?query=up")
	if err != nil {
		return nil, err
	}
	var r struct {
		Data struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  []any             `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("query up: %w", err)
	}
	up := map[string]string{}
	for _, s := range r.Data.Result {
		if len(s.Value) == 2 {
			up[s.Metric["job"]], _ = s.Value[1].(string)
		}
	}
	return up, nil
}

// promRules lists the alerts that are missing, not yet evaluated or in error.
func promRules(api string, alerts []string) ([]string, error) {
	body, err := promGet(api + "rules")
	if err != nil {
		return nil, err
	}
	var r struct {
		Data struct {
			Groups []struct {
				Rules []struct {
					Name, Health, LastError, Type string
				} `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	health := map[string]string{}
	for _, g := range r.Data.Groups {
		for _, rule := range g.Rules {
			if rule.Type == "alerting" {
				health[rule.Name] = rule.Health + rule.LastError
			}
		}
	}
	var bad []string
	for _, a := range alerts {
		if health[a] != "ok" {
			bad = append(bad, fmt.Sprintf("%s=%q", a, health[a]))
		}
	}
	return bad, nil
}

func promGet(url string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s %s", url, resp.Status, body)
	}
	return body, err
}

func readYAML(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := yaml.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
