package roles

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"logsys/internal/testutil"
	"logsys/store"
)

// TestRetryWithoutTimestampIsRedelivery is the known defect of a
// gateway-filled timestamp: a client posts an event with its own id and
// no timestamp, gets no answer it trusts and posts it again (single and
// batch), each time a second later on the gateway's clock. Every attempt
// is 202; one record is stored, with the first attempt's timestamp, and
// nothing is counted as an id conflict or dead-lettered. A retry that
// changes the message still is a conflict.
func TestRetryWithoutTimestampIsRedelivery(t *testing.T) {
	t.Parallel()
	var tick atomic.Int64
	base := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	p := startPipelineOpts(t, pipelineOptions{clock: func() time.Time { return base.Add(time.Duration(tick.Add(1)) * time.Second) }})
	c := p.client("dev", "client")
	const body = `{"id":"retry-1","message":"no timestamp","source":"retry-ts"}`
	for i, send := range []struct{ path, ctype, body string }{
		{"/api/v1/logs", "application/json", body},
		{"/api/v1/logs", "application/json", body},
		{"/api/v1/logs/batch", "application/x-ndjson", body + "\n"},
		{"/api/v1/logs", "application/json", `{"id":"retry-1","message":"changed","source":"retry-ts"}`},
	} {
		if code, out := postJSON(t, c, p.url(send.path), send.ctype, send.body); code != http.StatusAccepted {
			t.Fatalf("attempt %d: %d %v", i+1, code, out)
		}
	}
	reg := p.consumer.metrics.reg
	testutil.Eventually(t, 20*time.Second, "the changed retry to be counted as the one conflict", func() bool {
		return testutil.MetricValue(t, reg, "logsys_events_total", map[string]string{"role": "consumer", "result": resultIDConflict}) >= 1
	})
	testutil.Eventually(t, 20*time.Second, "every attempt to be committed", func() bool { return p.lag(t) == 0 })
	recs, err := p.store.Query(context.Background(), store.Filter{Source: "retry-ts"})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Message != "no timestamp" || !recs[0].TimestampFilled || !recs[0].Timestamp.After(base) {
		t.Fatalf("stored %+v; want the first attempt once, with the gateway's timestamp", recs)
	}
	conflicts := testutil.MetricValue(t, reg, "logsys_events_total", map[string]string{"role": "consumer", "result": resultIDConflict})
	dead := testutil.MetricValue(t, reg, "logsys_events_total", map[string]string{"role": "consumer", "result": "dead_lettered"})
	t.Logf("4 attempts: 1 stored, %v id conflicts, %v dead-lettered", conflicts, dead)
	if conflicts != 1 || dead != 1 {
		t.Fatalf("%v id conflicts and %v dead letters; want only the changed retry's", conflicts, dead)
	}
}
