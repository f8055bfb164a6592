package roles

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"logsys/event"
	"logsys/otlp"
	"logsys/store"
)

// TestWriteError drives the one table from errors to answers: status,
// body, Retry-After, and that internal details reach the log, never the
// client.
func TestWriteError(t *testing.T) {
	t.Parallel()
	const secret = "password=hunter2"
	cases := []struct {
		name       string
		err        error
		code       int
		body       string
		retryAfter string
		logged     bool // the cause is in the log
	}{
		{"OTLP bad data", &otlp.Error{Kind: otlp.ErrBadData, Reason: "not an OTLP protobuf ExportLogsServiceRequest"}, 400,
			`{"status":"error","error":"not an OTLP protobuf ExportLogsServiceRequest"}`, "", false},
		{"OTLP too large", &otlp.Error{Kind: otlp.ErrTooLarge, Reason: "body larger than 8 bytes"}, 413, `{"status":"error","error":"body larger than 8 bytes"}`, "", false},
		{"OTLP unsupported", &otlp.Error{Kind: otlp.ErrUnsupported, Reason: "Content-Encoding \"br\": must be gzip or none"}, 415,
			`{"status":"error","error":"Content-Encoding \"br\": must be gzip or none"}`, "", false},
		{"forbidden", errForbidden, 403, `{"status":"error","error":"this identity may not call this endpoint"}`, "", false},
		{"field error", fieldError("level", "is not a level"), 400, `{"status":"error","error":"level: is not a level","field":"level"}`, "", false},
		{"event field error, wrapped", fmt.Errorf("decode: %w", &event.FieldError{Field: "message", Reason: "is required"}), 400,
			`{"status":"error","error":"message: is required","field":"message"}`, "", false},
		{"query parameter error", &store.FilterError{Param: "limit", Reason: "must be between 0 and 1000"}, 400,
			`{"status":"error","error":"limit: must be between 0 and 1000","field":"limit"}`, "", false},
		{"bad request with a cause", badRequest("could not read the request body", errors.New(secret)), 400,
			`{"status":"error","error":"could not read the request body"}`, "", true},
		{"body too large", fmt.Errorf("read: %w", &http.MaxBytesError{Limit: 10}), 413, `{"status":"error","error":"body larger than 10 bytes"}`, "", false},
		{"too many events", &tooManyError{max: 3}, 413, `{"status":"error","error":"batch holds more than 3 events"}`, "", false},
		{"unsupported type", &apiError{status: 415, reason: "Content-Type must be one of [application/json]"}, 415,
			`{"status":"error","error":"Content-Type must be one of [application/json]"}`, "", false},
		{"not found", &apiError{status: 404, reason: "no such endpoint: GET /x"}, 404, `{"status":"error","error":"no such endpoint: GET /x"}`, "", false},
		{"producer refused", fmt.Errorf("forward 2 events to producer: %w", &permanentError{status: 413}), 502,
			`{"status":"error","error":"the producer refused the events"}`, "", true},
		{"shutting down", errForwarderClosed, 503, `{"status":"error","error":"gateway is shutting down; retry"}`, "1", false},
		{"breaker open", unavailable("the events could not be delivered to Kafka; retry", fmt.Errorf("forward: %w", &openError{wait: 2500 * time.Millisecond})), 503,
			`{"status":"error","error":"the events could not be delivered to Kafka; retry"}`, "3", true},
		{"dependency down", unavailable("the store could not be queried", errors.New(secret)), 503,
			`{"status":"error","error":"the store could not be queried"}`, "", true},
		{"too many requests", &apiError{status: 429, reason: "slow down", cause: &openError{wait: time.Second}}, 429,
			`{"status":"error","error":"slow down"}`, "1", true},
		{"Retry-After only on 429 and 503", &apiError{status: 502, reason: "bad gateway", cause: &openError{wait: time.Second}}, 502,
			`{"status":"error","error":"bad gateway"}`, "", true},
		{"anything else", fmt.Errorf("wrap: %w", errors.New(secret)), 500, `{"status":"error","error":"internal error"}`, "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var log bytes.Buffer
			b := &base{log: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))}
			w := httptest.NewRecorder()
			b.writeError(w, httptest.NewRequest("POST", "/api/v1/logs", nil), tc.err)
			if w.Code != tc.code || strings.TrimSpace(w.Body.String()) != tc.body {
				t.Errorf("got %d %s, want %d %s", w.Code, w.Body, tc.code, tc.body)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if ra := w.Header().Get("Retry-After"); ra != tc.retryAfter {
				t.Errorf("Retry-After %q, want %q", ra, tc.retryAfter)
			}
			if strings.Contains(w.Body.String(), secret) {
				t.Errorf("the answer shows an internal detail: %s", w.Body)
			}
			if got := log.Len() > 0; got != tc.logged {
				t.Errorf("logged = %v, want %v: %q", got, tc.logged, log.String())
			}
			if tc.logged && strings.Contains(tc.err.Error(), secret) && !strings.Contains(log.String(), secret) {
				t.Errorf("the cause is not in the log: %q", log.String())
			}
		})
	}
}
