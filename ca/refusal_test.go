package ca

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"logsys/internal/testutil"

	"github.com/prometheus/client_golang/prometheus"
)

// The reasons and their statuses are part of the protocol: clients (and
// alerts on logsys_ca_refused_total) depend on them.
func TestRefusalTableIsTheProtocol(t *testing.T) {
	want := map[string]int{
		"bad_request": 400, "bad_csr": 400,
		"token_missing": 401, "token_malformed": 401, "token_unknown": 401, "token_used": 401, "token_expired": 401,
		"no_client_cert": 401, "expired": 401, "unknown_issuer": 401,
		"wrong_env": 403, "identity": 403, "revoked": 403, "crl_unavailable": 503, "report_identity": 403, "not_admin": 403,
		"internal": 500,
	}
	if len(refusalStatus) != len(want) {
		t.Errorf("%d reasons in the table, want %d", len(refusalStatus), len(want))
	}
	for reason, status := range want {
		if got, ok := refusalStatus[Reason(reason)]; !ok || got != status {
			t.Errorf("reason %s: status %d (listed %v), want %d", reason, got, ok, status)
		}
	}
}

func TestWriteRefusalShowsTheReasonOnly(t *testing.T) {
	m, err := newMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{cfg: Config{Env: "dev"}, log: testLogger(t), m: m}
	const secret = "open /secret/path/ca-key.pem: permission denied"
	tests := []struct {
		err    error
		status int
		body   string
	}{
		{refuse(ReasonRevoked, "serial 0A (%s)", secret), 403, `{"error":"refused","reason":"revoked"}`},
		{fmt.Errorf("ledger: %w", refuse(ReasonTokenUsed, "%s", secret)), 401, `{"error":"refused","reason":"token_used"}`},
		{errors.New(secret), 500, `{"error":"internal error","reason":"internal"}`},
		{&refusal{reason: "made_up", err: errors.New(secret)}, 500, `{"error":"internal error","reason":"internal"}`},
	}
	for _, tc := range tests {
		w := httptest.NewRecorder()
		s.writeRefusal(w, tc.err, nil)
		body := strings.TrimSpace(w.Body.String())
		if w.Code != tc.status || body != tc.body {
			t.Errorf("%v: %d %s, want %d %s", tc.err, w.Code, body, tc.status, tc.body)
		}
		var e errorResponse
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || w.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%v: not a JSON error response: %v", tc.err, err)
		}
	}
	if got := testutil.CounterValue(m.refused.WithLabelValues("dev", "internal")); got != 2 {
		t.Errorf("refused_total{internal} = %v, want 2", got)
	}
}
