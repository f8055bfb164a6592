package roles

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"logsys/internal/testutil"
)

// TestGatewayAcceptsOnlyStorableEvents sends events that every store
// refuses through the real gateway: each must be answered 400 naming the
// field, never 202 (which would let the consumer dead-letter it later).
func TestGatewayAcceptsOnlyStorableEvents(t *testing.T) {
	t.Parallel()
	p := startPipeline(t)
	c := p.client("dev", "client")
	cases := []struct {
		name, path, ctype, body, field string
	}{
		{"NUL in message", "/api/v1/logs", "application/json", `{"message":"nul \u0000 byte","source":"s"}`, "message"},
		{"NUL in source", "/api/v1/logs", "application/json", `{"message":"m","source":"a\u0000"}`, "source"},
		{"NUL in id", "/api/v1/logs", "application/json", `{"id":"a\u0000b","message":"m","source":"s"}`, "id"},
		{"NUL in metadata value", "/api/v1/logs", "application/json", `{"message":"m","source":"s","metadata":{"k":"a\u0000b"}}`, "metadata"},
		{"NUL in metadata key", "/api/v1/logs", "application/json", `{"message":"m","source":"s","metadata":{"a\u0000":1}}`, "metadata"},
		{"NUL deep in metadata", "/api/v1/logs", "application/json", `{"message":"m","source":"s","metadata":{"k":[{"x":"\u0000"}]}}`, "metadata"},
		{"timestamp in year 10000 UTC", "/api/v1/logs", "application/json", `{"message":"m","source":"s","timestamp":"9999-12-31T23:59:59-23:59"}`, "timestamp"},
		{"timestamp in year 0 UTC", "/api/v1/logs", "application/json", `{"message":"m","source":"s","timestamp":"0001-01-01T00:00:00+23:59"}`, "timestamp"},
		{"zone offset of 24 hours", "/api/v1/logs", "application/json", `{"message":"m","source":"s","timestamp":"2026-01-01T00:00:00+24:00"}`, "timestamp"},
		// 50 KiB on the wire, 220 KiB once encoded (1e20 is written out).
		{"metadata too large once encoded", "/api/v1/logs", "application/json", `{"message":"m","source":"s","metadata":{"k":[` + strings.Repeat("1e20,", 10000) + `0]}}`, "metadata"},
		{"NUL in one event of a batch", "/api/v1/logs/batch", "application/x-ndjson", "{\"message\":\"ok\",\"source\":\"s\"}\n{\"message\":\"m\",\"source\":\"s\",\"metadata\":{\"k\":\"\\u0000\"}}\n", "events[1].metadata"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := postJSON(t, c, p.url(tc.path), tc.ctype, tc.body)
			if code != http.StatusBadRequest || body["field"] != tc.field {
				t.Fatalf("got %d %v, want 400 naming %q", code, body, tc.field)
			}
		})
	}
	// A good event still travels, and nothing reached the dead-letter topic.
	code, body := postJSON(t, c, p.url("/api/v1/logs"), "application/json", `{"message":"storable","source":"storable"}`)
	if code != http.StatusAccepted {
		t.Fatalf("POST: %d %v", code, body)
	}
	id := body["data"].(map[string]any)["id"].(string)
	testutil.Eventually(t, 10*time.Second, "the good event to be stored", func() bool { return p.storedIDs()[id] == 1 })
	if n := testutil.MetricValue(t, p.consumer.metrics.reg, "logsys_events_total", map[string]string{"result": "dead_lettered"}); n != 0 {
		t.Errorf("dead_lettered = %v, want 0", n)
	}
}
