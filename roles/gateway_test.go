package roles

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"logsys/internal/testutil"
	"logsys/pki"
)

func TestEventTravelsThePipeline(t *testing.T) {
	t.Parallel()
	p := startPipeline(t)
	c := p.client("dev", "client")
	code, body := postJSON(t, c, p.url("/api/v1/logs"), "application/json",
		`{"level":"WARN","message":"disk almost full","source":"node-7","metadata":{"disk":"/var"}}`)
	if code != http.StatusAccepted {
		t.Fatalf("POST: got %d %v, want 202", code, body)
	}
	id := body["data"].(map[string]any)["id"].(string)
	var got map[string]any
	testutil.Eventually(t, 10*time.Second, "the event to be readable through GET /api/v1/logs", func() bool {
		resp, err := c.Get(p.url("/api/v1/logs?source=node-7&limit=10"))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct {
			Data struct {
				Events []map[string]any `json:"events"`
			} `json:"data"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		for _, e := range out.Data.Events {
			if e["id"] == id {
				got = e
				return true
			}
		}
		return false
	})
	if got["identity"] != "spiffe://logsys.local/dev/client" {
		t.Errorf("identity = %v, want the client certificate's URI SAN", got["identity"])
	}
	if got["level"] != "WARN" || got["message"] != "disk almost full" {
		t.Errorf("stored event = %v", got)
	}
}

func TestGatewayRefusesPeers(t *testing.T) {
	t.Parallel()
	p := startPipeline(t)
	// An expired client certificate of the right environment and name.
	past := time.Now().Add(-48 * time.Hour)
	if _, err := pki.Issue(context.Background(), pki.IssueOptions{Dir: p.pkiDir, Env: "dev", Name: "expired-client", TTL: time.Hour, Now: func() time.Time { return past }}); err != nil {
		t.Fatalf("issue expired: %v", err)
	}
	// A revoked one.
	if _, err := pki.Issue(context.Background(), pki.IssueOptions{Dir: p.pkiDir, Env: "dev", Name: "revoked-client", TTL: 24 * time.Hour}); err != nil {
		t.Fatalf("issue revoked: %v", err)
	}
	if _, err := pki.Revoke(context.Background(), pki.RevokeOptions{Dir: p.pkiDir, Env: "dev", Name: "revoked-client"}); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if err := p.gateway.tls.src.Reload(); err != nil {
		t.Fatalf("reload after revocation: %v", err)
	}
	tls12 := clientTLS(t, p.pkiDir, "dev", "client")
	tls12.MaxVersion = tls.VersionTLS12
	cases := []struct {
		name   string
		cfg    *tls.Config
		reason string
	}{
		{"no client certificate", clientTLS(t, p.pkiDir, "dev", ""), "no_cert"},
		{"certificate from staging", clientTLS(t, p.pkiDir, "staging", "client"), "unknown_ca"},
		{"wrong identity (producer)", clientTLS(t, p.pkiDir, "dev", "producer"), "unauthorized"},
		{"expired certificate", clientTLS(t, p.pkiDir, "dev", "expired-client"), "expired"},
		{"revoked certificate", clientTLS(t, p.pkiDir, "dev", "revoked-client"), "revoked"},
		{"TLS 1.2 when 1.3 is required", tls12, "protocol"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			labels := map[string]string{"side": "server", "listener": "gateway", "reason": tc.reason}
			before := testutil.MetricValue(t, p.gateway.metrics.reg, "logsys_tls_handshake_failures_total", labels)
			resp, err := httpClient(tc.cfg).Get(p.url("/api/v1/health"))
			if err == nil {
				resp.Body.Close()
				t.Fatalf("request succeeded with HTTP %d; want a failed handshake", resp.StatusCode)
			}
			testutil.Eventually(t, 5*time.Second, "failure reason "+tc.reason+" to be counted", func() bool {
				return testutil.MetricValue(t, p.gateway.metrics.reg, "logsys_tls_handshake_failures_total", labels) == before+1
			})
		})
	}
}

func TestProducerAcceptsOnlyTheGateway(t *testing.T) {
	t.Parallel()
	p := startPipeline(t)
	c := p.client("dev", "client")
	_, err := c.Post("https://"+p.producer.Addr()+"/internal/v1/events", "application/json", strings.NewReader("[]"))
	if err == nil {
		t.Fatal("a client identity reached the producer")
	}
	labels := map[string]string{"side": "server", "listener": "producer", "reason": "unauthorized"}
	testutil.Eventually(t, 5*time.Second, "unauthorized to be counted at the producer", func() bool {
		return testutil.MetricValue(t, p.producer.metrics.reg, "logsys_tls_handshake_failures_total", labels) == 1
	})
}

func TestGatewayValidation(t *testing.T) {
	t.Parallel()
	p := startPipeline(t)
	c := p.client("dev", "client")
	big := `{"message":"` + strings.Repeat("x", 300<<10) + `","source":"s"}`
	cases := []struct {
		name, path, ctype, body string
		code                    int
		field                   string
	}{
		{"missing message", "/api/v1/logs", "application/json", `{"source":"s"}`, 400, "message"},
		{"missing source", "/api/v1/logs", "application/json", `{"message":"m"}`, 400, "source"},
		{"bad level", "/api/v1/logs", "application/json", `{"message":"m","source":"s","level":"LOUD"}`, 400, "level"},
		{"bad timestamp", "/api/v1/logs", "application/json", `{"message":"m","source":"s","timestamp":"yesterday"}`, 400, "timestamp"},
		{"message of wrong type", "/api/v1/logs", "application/json", `{"message":5,"source":"s"}`, 400, "message"},
		{"identity from the body", "/api/v1/logs", "application/json", `{"message":"m","source":"s","identity":"spiffe://x/y/z"}`, 400, "identity"},
		{"not JSON", "/api/v1/logs", "application/json", `{"message":`, 400, "body"},
		{"wrong content type", "/api/v1/logs", "text/plain", `{"message":"m","source":"s"}`, 415, ""},
		{"oversized body", "/api/v1/logs", "application/json", big, 413, ""},
		{"batch with a bad event", "/api/v1/logs/batch", "application/json", `[{"message":"m","source":"s"},{"source":"s"}]`, 400, "events[1].message"},
		{"empty batch", "/api/v1/logs/batch", "application/json", `[]`, 400, "body"},
		{"ndjson with a broken line", "/api/v1/logs/batch", "application/x-ndjson", "{\"message\":\"m\",\"source\":\"s\"}\n{oops\n", 400, "line 2"},
		{"ndjson: a broken line is named before an earlier bad event", "/api/v1/logs/batch", "application/x-ndjson",
			"{\"source\":\"s\"}\n\n{\"message\":\"m\",\"source\":\"s\"}\n{oops\n", 400, "line 4"},
		{"ndjson: a bad event on its own", "/api/v1/logs/batch", "application/x-ndjson",
			"{\"message\":\"m\",\"source\":\"s\"}\n\n{\"source\":\"s\"}\n", 400, "events[1].message"},
		{"one event accepted", "/api/v1/logs", "application/json", `{"message":"m","source":"s"}`, 202, ""},
		{"json array batch accepted", "/api/v1/logs/batch", "application/json", `[{"message":"a","source":"s"},{"message":"b","source":"s","level":"debug"}]`, 202, ""},
		{"ndjson batch accepted", "/api/v1/logs/batch", "application/x-ndjson", "{\"message\":\"a\",\"source\":\"s\"}\n\n{\"message\":\"b\",\"source\":\"s\"}\n", 202, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := postJSON(t, c, p.url(tc.path), tc.ctype, tc.body)
			if code != tc.code {
				t.Fatalf("got %d %v, want %d", code, body, tc.code)
			}
			if tc.field != "" && body["field"] != tc.field {
				t.Errorf("field = %v, want %q (body %v)", body["field"], tc.field, body)
			}
			if code >= 400 && body["error"] == nil {
				t.Errorf("error answer without a JSON reason: %v", body)
			}
		})
	}
	t.Run("too many events in a batch", func(t *testing.T) {
		var sb strings.Builder
		for i := 0; i <= p.gateway.cfg.MaxBatchEvents; i++ {
			sb.WriteString(`{"message":"m","source":"s"}` + "\n")
		}
		code, body := postJSON(t, c, p.url("/api/v1/logs/batch"), "application/x-ndjson", sb.String())
		if code != http.StatusRequestEntityTooLarge {
			t.Fatalf("got %d %v, want 413", code, body)
		}
	})
	t.Run("too many events in a batch with a broken line among them", func(t *testing.T) {
		var sb strings.Builder
		sb.WriteString("{oops\n")
		for i := 0; i <= p.gateway.cfg.MaxBatchEvents; i++ {
			sb.WriteString(`{"message":"m","source":"s"}` + "\n")
		}
		code, body := postJSON(t, c, p.url("/api/v1/logs/batch"), "application/x-ndjson", sb.String())
		if code != http.StatusBadRequest || body["field"] != "line 1" {
			t.Fatalf("got %d %v, want 400 naming line 1", code, body)
		}
	})
	for _, q := range []struct{ query, field string }{
		{"limit=abc", "limit"}, {"limit=100000", "limit"}, {"level=LOUD", "level"},
		{"since=yesterday", "since"}, {"color=red", "color"},
	} {
		t.Run("GET "+q.query, func(t *testing.T) {
			resp, err := c.Get(p.url("/api/v1/logs?" + q.query))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != 400 || body["field"] != q.field {
				t.Fatalf("got %d %v, want 400 naming %q", resp.StatusCode, body, q.field)
			}
		})
	}
}

func TestHealthAndLiveness(t *testing.T) {
	t.Parallel()
	p := startPipeline(t)
	c := p.client("dev", "client")
	resp, err := c.Get(p.url("/api/v1/health"))
	if err != nil {
		t.Fatal(err)
	}
	var h healthView
	_ = json.NewDecoder(resp.Body).Decode(&h)
	resp.Body.Close()
	if resp.StatusCode != 200 || h.Status != "healthy" || h.Service != "api-gateway" || len(h.Certificates) < 2 {
		t.Fatalf("health = %d %+v", resp.StatusCode, h)
	}
	// A threshold beyond every certificate's lifetime turns health DOWN.
	p.gateway.cfg.Identity.ExpiryThreshold = 20 * 365 * 24 * time.Hour
	if v, ok := p.gateway.health("api-gateway", p.gateway.cfg.Identity.ExpiryThreshold, nil); ok || len(v.Reasons) == 0 {
		t.Fatalf("health with a 20-year threshold = %+v, want unhealthy with reasons", v)
	}
	live := p.gateway.srv.liveLn.Addr().String()
	r2, err := http.Get("http://" + live + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r2.Body)
	r2.Body.Close()
	if r2.StatusCode != 200 || !strings.Contains(string(b), "UP") {
		t.Fatalf("liveness = %d %s", r2.StatusCode, b)
	}
	// Metrics need the prometheus identity.
	if resp, err := c.Get(p.url("/metrics")); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("client reading /metrics: %v %v, want 403", resp, err)
	}
	resp, err = p.client("dev", "prometheus").Get(p.url("/metrics"))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("prometheus reading /metrics: %v %v", resp, err)
	}
	resp.Body.Close()
}

// TestRotationUnderLoad re-issues every dev leaf on disk while requests
// flow: no request may fail, and the new certificates must be in use.
func TestRotationUnderLoad(t *testing.T) {
	t.Parallel()
	p := startPipeline(t)
	c := p.client("dev", "client")
	oldSerial := p.gateway.tls.src.Certificates()[0].Serial
	var failed, sent atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				code, body, err := tryPost(c, p.url("/api/v1/logs"), "application/json", fmt.Sprintf(`{"message":"m%d","source":"rot"}`, i))
				sent.Add(1)
				if err != nil || code != 202 {
					failed.Add(1)
					t.Errorf("request failed during rotation: %d %v %v", code, body, err)
				}
			}
		}()
	}
	testutil.Eventually(t, 10*time.Second, "requests to flow before the rotation", func() bool { return sent.Load() >= 20 })
	if _, err := pki.Rotate(context.Background(), pki.RotateOptions{Dir: p.pkiDir, Env: "dev"}); err != nil {
		t.Fatalf("rotate: %v", err)
	}
	testutil.Eventually(t, 10*time.Second, "the gateway to serve its new certificate", func() bool {
		return p.gateway.tls.src.Certificates()[0].Serial != oldSerial
	})
	// New connections must work with the new material on every hop.
	c.CloseIdleConnections()
	after := sent.Load()
	testutil.Eventually(t, 10*time.Second, "requests to flow after the rotation", func() bool { return sent.Load() >= after+20 })
	close(stop)
	wg.Wait()
	if failed.Load() > 0 || sent.Load() == 0 {
		t.Fatalf("%d of %d requests failed during rotation", failed.Load(), sent.Load())
	}
	if n := testutil.MetricValue(t, p.gateway.metrics.reg, "logsys_tls_reloads_total", map[string]string{"result": "success"}); n < 1 {
		t.Errorf("no successful reload counted")
	}
}

// TestConsumerRestartLosesNothing stops the consumer, sends events, starts
// a new one: every event is stored exactly once.
func TestConsumerRestartLosesNothing(t *testing.T) {
	t.Parallel()
	p := startPipeline(t)
	c := p.client("dev", "client")
	var ids []string
	send := func(n int) {
		for i := 0; i < n; i++ {
			code, body := postJSON(t, c, p.url("/api/v1/logs"), "application/json", fmt.Sprintf(`{"message":"r%d","source":"restart"}`, i))
			if code != 202 {
				t.Fatalf("POST: %d %v", code, body)
			}
			ids = append(ids, body["data"].(map[string]any)["id"].(string))
		}
	}
	send(40)
	p.stopConsumer()
	send(40)
	p.startConsumer()
	send(40)
	testutil.Eventually(t, 20*time.Second, "all 120 events to be stored", func() bool {
		seen := p.storedIDs()
		for _, id := range ids {
			if seen[id] != 1 {
				return false
			}
		}
		return true
	})
}

// TestProducerValidatesBatches: even the gateway cannot put a bad event
// into Kafka; the answer names the event.
func TestProducerValidatesBatches(t *testing.T) {
	t.Parallel()
	p := startPipeline(t)
	c := p.client("dev", "gateway")
	url := "https://" + p.producer.Addr() + "/internal/v1/events"
	cases := []struct {
		body  string
		code  int
		field string
	}{
		{`[{"id":"a","level":"INFO","message":"m","source":"s","timestamp":"2026-01-01T00:00:00Z"}]`, 202, ""},
		{`[{"id":"a","level":"INFO","message":"m","source":"s","timestamp":"2026-01-01T00:00:00Z"},{"id":"b","level":"INFO","source":"s","timestamp":"2026-01-01T00:00:00Z"}]`, 400, "events[1]"},
		{`[1]`, 400, "events[0]"},
		{`{"id":"a"}`, 400, "body"},
	}
	for _, tc := range cases {
		code, body := postJSON(t, c, url, "application/json", tc.body)
		if code != tc.code || (tc.field != "" && body["field"] != tc.field) {
			t.Errorf("%s: got %d %v, want %d naming %q", tc.body, code, body, tc.code, tc.field)
		}
	}
}
