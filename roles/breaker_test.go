package roles

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"logsys/internal/testutil"
)

func TestBreakerStates(t *testing.T) {
	t.Parallel()
	now := time.Unix(0, 0)
	b := newBreaker(2, 10*time.Second, nil)
	b.now = func() time.Time { return now }
	fail := errors.New("down")
	steps := []struct {
		name    string
		advance time.Duration
		outcome error // result reported when allowed
		allowed bool
		state   int
	}{
		{"closed lets calls through", 0, fail, true, breakerClosed},
		{"second failure opens", 0, fail, true, breakerOpen},
		{"open refuses", time.Second, nil, false, breakerOpen},
		{"after cooldown one probe, which fails", 10 * time.Second, fail, true, breakerOpen},
		{"open again refuses", time.Second, nil, false, breakerOpen},
		{"next probe succeeds and closes", 10 * time.Second, nil, true, breakerClosed},
		{"closed again", 0, nil, true, breakerClosed},
	}
	for _, s := range steps {
		now = now.Add(s.advance)
		err := b.allow()
		if (err == nil) != s.allowed {
			t.Fatalf("%s: allow() = %v, want allowed=%v", s.name, err, s.allowed)
		}
		if err == nil {
			b.done(s.outcome)
		}
		if got := b.current(); got != s.state {
			t.Fatalf("%s: state %d, want %d", s.name, got, s.state)
		}
	}
}

func TestBreakerHalfOpenAllowsOneProbe(t *testing.T) {
	t.Parallel()
	now := time.Unix(0, 0)
	b := newBreaker(1, time.Second, nil)
	b.now = func() time.Time { return now }
	_ = b.allow()
	b.done(errors.New("down"))
	now = now.Add(2 * time.Second)
	if err := b.allow(); err != nil {
		t.Fatalf("probe refused: %v", err)
	}
	if err := b.allow(); !errors.Is(err, errBreakerOpen) {
		t.Fatalf("second call while probing = %v, want errBreakerOpen", err)
	}
}

// TestProducerDownOpensBreaker: with the producer gone, requests fail with
// 503 after retries, the breaker opens (metric and health say so).
func TestProducerDownOpensBreaker(t *testing.T) {
	t.Parallel()
	p := startPipeline(t)
	p.stops["producer"]()
	p.producer.Close()
	c := p.client("dev", "client")
	for i := 0; i < 3; i++ {
		code, body := postJSON(t, c, p.url("/api/v1/logs"), "application/json", `{"message":"m","source":"s"}`)
		if code != http.StatusServiceUnavailable || body["error"] == nil {
			t.Fatalf("POST with the producer down: %d %v, want 503 with a reason", code, body)
		}
	}
	if v := testutil.MetricValue(t, p.gateway.metrics.reg, "logsys_circuit_breaker_state", map[string]string{"target": "producer"}); v != breakerOpen {
		t.Fatalf("breaker state metric = %v, want %d (open)", v, breakerOpen)
	}
	if v, ok := p.gateway.health("api-gateway", time.Hour, p.gateway.healthExtra); ok {
		t.Fatalf("health with the breaker open = %+v, want unhealthy", v)
	}
	if n := testutil.MetricValue(t, p.gateway.metrics.reg, "logsys_events_total", map[string]string{"role": "gateway", "result": "failed"}); n != 3 {
		t.Errorf("failed events = %v, want 3", n)
	}
	// While open, the 503 says when the next probe may succeed.
	resp, err := c.Post(p.url("/api/v1/logs"), "application/json", strings.NewReader(`{"message":"m","source":"s"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cooldown := int(p.gateway.cfg.Producer.BreakerCooldown / time.Second)
	if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); resp.StatusCode != http.StatusServiceUnavailable || err != nil || ra < 1 || ra > cooldown {
		t.Errorf("with the breaker open: %d, Retry-After %q, want 503 and 1..%d seconds", resp.StatusCode, resp.Header.Get("Retry-After"), cooldown)
	}
}
