package roles

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"logsys/event"
	"logsys/store"
)

// answer is one request and the exact answer the API gives it.
type answer struct {
	name               string
	who                string // identity name of the client certificate (dev)
	method, url        string
	ctype, body        string
	code               int
	want               string // the exact body
	retryAfter         string // the Retry-After header; "" means absent
	contentTypeNotJSON bool   // the answer is Go's plain-text 404
}

// check sends a and compares status, headers and body byte for byte.
func (a answer) check(t *testing.T, p *pipeline) {
	t.Helper()
	req, err := http.NewRequest(a.method, a.url, strings.NewReader(a.body))
	if err != nil {
		t.Fatal(err)
	}
	if a.ctype != "" {
		req.Header.Set("Content-Type", a.ctype)
	}
	resp, err := p.client("dev", a.who).Do(req)
	if err != nil {
		t.Fatalf("%s: %v", a.name, err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != a.code || string(got) != a.want {
		t.Errorf("%s: got %d %q, want %d %q", a.name, resp.StatusCode, got, a.code, a.want)
	}
	if ra := resp.Header.Get("Retry-After"); ra != a.retryAfter {
		t.Errorf("%s: Retry-After %q, want %q", a.name, ra, a.retryAfter)
	}
	wantCT := "application/json"
	if a.contentTypeNotJSON {
		wantCT = "text/plain; charset=utf-8"
	}
	if ct := resp.Header.Get("Content-Type"); ct != wantCT {
		t.Errorf("%s: Content-Type %q, want %q", a.name, ct, wantCT)
	}
}

// TestErrorAnswers pins every error answer of the gateway and the
// producer, status and body byte for byte: the answers are API.
func TestErrorAnswers(t *testing.T) {
	t.Parallel()
	p := startPipeline(t)
	gw := func(path string) string { return p.url(path) }
	pr := "https://" + p.producer.Addr() + EventsPath
	ndjson := strings.Repeat(`{"message":"m","source":"s"}`+"\n", p.gateway.cfg.MaxBatchEvents+1)
	env := func(reason string) string { return `{"status":"error","error":` + quote(reason) + "}\n" }
	field := func(f, reason string) string {
		return `{"status":"error","error":` + quote(f+": "+reason) + `,"field":` + quote(f) + "}\n"
	}
	cases := []answer{
		{name: "metrics without the scraper identity", who: "client", method: "GET", url: gw("/metrics"),
			code: 403, want: env("this identity may not call this endpoint")},
		{name: "events from the scraper identity", who: "prometheus", method: "POST", url: gw("/api/v1/logs"), ctype: "application/json", body: `{}`,
			code: 403, want: env("this identity may not call this endpoint")},
		{name: "unknown endpoint", who: "client", method: "GET", url: gw("/nope"),
			code: 404, want: env("no such endpoint: GET /nope")},
		{name: "wrong content type", who: "client", method: "POST", url: gw("/api/v1/logs"), ctype: "text/plain", body: `{}`,
			code: 415, want: env("Content-Type must be one of [application/json]")},
		{name: "no content type on a batch", who: "client", method: "POST", url: gw("/api/v1/logs/batch"), body: `[]`,
			code: 415, want: env("Content-Type must be one of [application/json application/x-ndjson]")},
		{name: "body over the limit", who: "client", method: "POST", url: gw("/api/v1/logs"), ctype: "application/json",
			body: `{"message":"` + strings.Repeat("x", 300<<10) + `","source":"s"}`,
			code: 413, want: env("body larger than 262144 bytes")},
		{name: "too many events", who: "client", method: "POST", url: gw("/api/v1/logs/batch"), ctype: "application/x-ndjson", body: ndjson,
			code: 413, want: env("batch holds more than 5000 events")},
		{name: "missing message", who: "client", method: "POST", url: gw("/api/v1/logs"), ctype: "application/json", body: `{"source":"s"}`,
			code: 400, want: field("message", "is required")},
		{name: "not an object", who: "client", method: "POST", url: gw("/api/v1/logs"), ctype: "application/json", body: `[1]`,
			code: 400, want: field("body", "not a JSON object")},
		{name: "bad event in a batch", who: "client", method: "POST", url: gw("/api/v1/logs/batch"), ctype: "application/json",
			body: `[{"message":"m","source":"s"},{"source":"s"}]`, code: 400, want: field("events[1].message", "is required")},
		{name: "batch not an array", who: "client", method: "POST", url: gw("/api/v1/logs/batch"), ctype: "application/json", body: `{}`,
			code: 400, want: field("body", "must be a JSON array of events")},
		{name: "empty batch", who: "client", method: "POST", url: gw("/api/v1/logs/batch"), ctype: "application/x-ndjson", body: "\n",
			code: 400, want: field("body", "batch holds no events")},
		{name: "broken ndjson line", who: "client", method: "POST", url: gw("/api/v1/logs/batch"), ctype: "application/x-ndjson",
			body: "{\"message\":\"m\",\"source\":\"s\"}\n{oops\n", code: 400, want: field("line 2", "is not valid JSON")},
		{name: "unknown query parameter", who: "client", method: "GET", url: gw("/api/v1/logs?color=red"),
			code: 400, want: field("color", "unknown parameter; use level, source, since, until or limit")},
		{name: "bad level parameter", who: "client", method: "GET", url: gw("/api/v1/logs?level=LOUD"),
			code: 400, want: field("level", levelReason(t, "LOUD"))},
		{name: "bad since parameter", who: "client", method: "GET", url: gw("/api/v1/logs?since=yesterday"),
			code: 400, want: field("since", "must be RFC 3339 (2026-01-02T15:04:05Z) or a duration back from now (15m)")},
		{name: "limit not a number", who: "client", method: "GET", url: gw("/api/v1/logs?limit=abc"),
			code: 400, want: field("limit", "must be an integer")},
		{name: "limit too large", who: "client", method: "GET", url: gw("/api/v1/logs?limit=100000"),
			code: 400, want: field("limit", fmt.Sprintf("must be between 0 and %d", store.MaxLimit))},
		{name: "producer: metrics without the scraper identity", who: "gateway", method: "GET", url: "https://" + p.producer.Addr() + "/metrics",
			code: 403, want: env("this identity may not call this endpoint")},
		{name: "producer: events from the scraper identity", who: "prometheus", method: "POST", url: pr, ctype: "application/json", body: `[]`,
			code: 403, want: env("this identity may not call this endpoint")},
		{name: "producer: wrong content type", who: "gateway", method: "POST", url: pr, ctype: "text/plain", body: `[]`,
			code: 415, want: env("Content-Type must be one of [application/json " + FramesType + "]")},
		{name: "producer: no frames", who: "gateway", method: "POST", url: pr, ctype: FramesType, body: ``,
			code: 400, want: field("body", "malformed frames: no frames")},
		{name: "producer: truncated frame", who: "gateway", method: "POST", url: pr, ctype: FramesType, body: "\x01a\x05{}",
			code: 400, want: field("body", "malformed frames: frame 0: bad value length")},
		{name: "producer: frame not an object", who: "gateway", method: "POST", url: pr, ctype: FramesType, body: "\x01a\x02[]",
			code: 400, want: field("body", "malformed frames: frame 0: value is not a JSON object")},
		{name: "producer: not an array", who: "gateway", method: "POST", url: pr, ctype: "application/json", body: `{}`,
			code: 400, want: field("body", "must be a JSON array of events")},
		{name: "producer: not a JSON event", who: "gateway", method: "POST", url: pr, ctype: "application/json", body: `[1]`,
			code: 400, want: field("events[0]", "is not a JSON event")},
		{name: "producer: invalid event", who: "gateway", method: "POST", url: pr, ctype: "application/json",
			body: `[{"id":"b","level":"INFO","source":"s","timestamp":"2026-01-01T00:00:00Z"}]`,
			code: 400, want: field("events[0]", "message: is required")},
		{name: "producer: unknown endpoint", who: "gateway", method: "GET", url: "https://" + p.producer.Addr() + "/nope",
			code: 404, want: "404 page not found\n", contentTypeNotJSON: true},
	}
	for _, a := range cases {
		a.check(t, p)
	}

	// A producer that refuses every batch (its body limit is one byte):
	// the gateway answers 502 and keeps the producer's reason to its log.
	refusing := p.extraProducer(t, func(c *ProducerConfig) { c.MaxBodyBytes = 1 })
	g502 := p.extraGateway(t, "https://"+refusing.Addr(), nil)
	// Nothing listens on the producer URL: 503 after the retries.
	g503 := p.extraGateway(t, "https://127.0.0.1:1", nil)
	// The store is closed: a query answers 503.
	closed, err := store.Open(context.Background(), store.Config{DataDir: filepath.Join(t.TempDir(), "closed")})
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	gStore := p.extraGateway(t, "https://"+p.producer.Addr(), func(c *GatewayConfig) { c.SharedStore = closed })
	one := `{"message":"m","source":"s"}`
	for _, a := range []answer{
		{name: "producer refuses", who: "client", method: "POST", url: "https://" + g502.Addr() + "/api/v1/logs", ctype: "application/json", body: one,
			code: 502, want: env("the producer refused the events")},
		{name: "producer unreachable", who: "client", method: "POST", url: "https://" + g503.Addr() + "/api/v1/logs", ctype: "application/json", body: one,
			code: 503, want: env("the events could not be delivered to Kafka; retry")},
		{name: "store unavailable", who: "client", method: "GET", url: "https://" + gStore.Addr() + "/api/v1/logs",
			code: 503, want: env("the store could not be queried")},
	} {
		a.check(t, p)
	}
	// A gateway that has begun to shut down refuses new events.
	gStore.fwd.close()
	answer{name: "shutting down", who: "client", method: "POST", url: "https://" + gStore.Addr() + "/api/v1/logs", ctype: "application/json", body: one,
		code: 503, want: env("gateway is shutting down; retry"), retryAfter: "1"}.check(t, p)
}

// extraProducer runs one more producer on the pipeline's broker until the
// test ends.
func (p *pipeline) extraProducer(t *testing.T, edit func(*ProducerConfig)) *Producer {
	t.Helper()
	pc := DefaultProducerConfig()
	pc.Identity, pc.Addr, pc.LivenessAddr, pc.Logger = fastIdentity(p.pkiDir, "producer"), "127.0.0.1:0", "", quietLogger()
	pc.Kafka.Brokers = p.broker.Addrs()
	if edit != nil {
		edit(&pc)
	}
	pr, err := NewProducer(context.Background(), pc)
	if err != nil {
		t.Fatal(err)
	}
	runUntilCleanup(t, "extra producer", pr.Run, pr.Close)
	return pr
}

// extraGateway runs one more gateway, forwarding to producerURL and
// sharing the pipeline's store, until the test ends.
func (p *pipeline) extraGateway(t *testing.T, producerURL string, edit func(*GatewayConfig)) *Gateway {
	t.Helper()
	gc := DefaultGatewayConfig()
	gc.Identity, gc.Addr, gc.LivenessAddr, gc.Logger = fastIdentity(p.pkiDir, "gateway"), "127.0.0.1:0", "", quietLogger()
	gc.Producer.URL, gc.SharedStore = producerURL, p.store
	gc.Producer.Backoff = time.Millisecond
	if edit != nil {
		edit(&gc)
	}
	g, err := NewGateway(context.Background(), gc)
	if err != nil {
		t.Fatal(err)
	}
	runUntilCleanup(t, "extra gateway", g.Run, g.Close)
	return g
}

// runUntilCleanup runs a role until the test ends, then stops and closes
// it, reporting a failed Run from the cleanup.
func runUntilCleanup(t *testing.T, name string, run func(context.Context) error, closeFn func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("%s stopped with: %v", name, err)
		}
		closeFn()
	})
}

// levelReason is event.ParseLevel's reason for refusing s.
func levelReason(t *testing.T, s string) string {
	t.Helper()
	_, err := event.ParseLevel(s)
	if err == nil {
		t.Fatalf("level %q parses", s)
	}
	return err.Error()
}

func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}
