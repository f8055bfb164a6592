package roles

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"logsys/internal/testutil"
	"logsys/pki"
)

// TestClientIDsAreScopedBySender is the attack on client-supplied ids,
// through the real gateway with two client certificates: A pre-claims an
// id, B sends the same id (both stored: ids belong to their sender), A
// retries its event unchanged (a harmless redelivery) and then sends the id
// again with other content (counted and dead-lettered, never dropped).
func TestClientIDsAreScopedBySender(t *testing.T) {
	t.Parallel()
	p := startPipeline(t)
	if !hasSeries(t, p, "logsys_events_total", map[string]string{"role": "consumer", "result": "id_conflict"}) {
		t.Fatal("logsys_events_total{role=consumer,result=id_conflict} is not exported before the first conflict")
	}
	if _, err := pki.Issue(context.Background(), pki.IssueOptions{Dir: p.pkiDir, Env: "dev", Name: "client-b", TTL: 24 * time.Hour}); err != nil {
		t.Fatalf("issue client-b: %v", err)
	}
	gc := DefaultGatewayConfig()
	gc.Identity, gc.Addr, gc.LivenessAddr, gc.Logger = fastIdentity(p.pkiDir, "gateway"), "127.0.0.1:0", "127.0.0.1:0", quietLogger()
	gc.Clients = []string{"client", "client-b"}
	gc.Producer.URL = "https://" + p.producer.Addr() + "/internal/v1/events"
	gc.SharedStore = p.store
	gw, err := NewGateway(context.Background(), gc)
	if err != nil {
		t.Fatal(err)
	}
	p.run("gateway-b", gw.Run)
	t.Cleanup(func() { p.stops["gateway-b"](); gw.Close() })
	url := "https://" + gw.Addr() + "/api/v1/logs"
	a, b := p.client("dev", "client"), p.client("dev", "client-b")

	const first = `{"id":"shared-1","message":"from A","source":"idattack","timestamp":"2026-01-01T00:00:00Z","metadata":{"k":"v"}}`
	sends := []struct {
		who  string
		c    *http.Client
		body string
	}{
		{"A claims the id", a, first},
		{"B sends the same id", b, `{"id":"shared-1","message":"from B","source":"idattack","timestamp":"2026-01-01T00:00:00Z"}`},
		{"A retries unchanged", a, first},
		{"A reuses the id for other content", a, `{"id":"shared-1","message":"other content from A","source":"idattack","timestamp":"2026-01-01T00:00:00Z"}`},
	}
	for _, s := range sends {
		if code, body := postJSON(t, s.c, url, "application/json", s.body); code != http.StatusAccepted {
			t.Fatalf("%s: %d %v", s.who, code, body)
		}
	}

	// All four share a key, hence a partition: once the last is
	// dead-lettered, the others have been handled.
	dlq := superClient(t, p.broker, kgo.ConsumeTopics("log-events.dlq"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var dead []*kgo.Record
	deadline := time.Now().Add(15 * time.Second)
	for len(dead) == 0 && time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		dlq.PollFetches(ctx).EachRecord(func(r *kgo.Record) { dead = append(dead, r) })
		cancel()
	}
	if len(dead) != 1 {
		t.Fatalf("dead-lettered %d records, want 1 (the conflict)", len(dead))
	}
	reason := ""
	for _, h := range dead[0].Headers {
		if h.Key == "logsys-error" {
			reason = string(h.Value)
		}
	}
	if !strings.HasPrefix(reason, "id conflict") || !strings.Contains(string(dead[0].Value), "other content from A") {
		t.Fatalf("dead letter %s with logsys-error %q; want A's second content with reason id conflict", dead[0].Value, reason)
	}

	// The read API shows both senders' records, each with its identity.
	// The dead letter is written before the rest of its batch is stored:
	// wait (bounded) until the store holds both senders' records.
	want := map[string]string{"spiffe://logsys.local/dev/client": "from A", "spiffe://logsys.local/dev/client-b": "from B"}
	var stored map[string]string
	var count int
	for deadline := time.Now().Add(15 * time.Second); ; {
		stored, count = readIDAttack(t, a, p.url("/api/v1/logs?source=idattack"))
		if count >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if count != 2 || len(stored) != 2 || stored["spiffe://logsys.local/dev/client"] != want["spiffe://logsys.local/dev/client"] ||
		stored["spiffe://logsys.local/dev/client-b"] != want["spiffe://logsys.local/dev/client-b"] {
		t.Fatalf("stored %v (count %d); want %v", stored, count, want)
	}
	// The counters move just after the dead letter is written (which the
	// reader above may see first): wait for them, bounded.
	reg := p.consumer.metrics.reg
	var conflicts, deadLettered float64
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		conflicts = testutil.MetricValue(t, reg, "logsys_events_total", map[string]string{"role": "consumer", "result": "id_conflict"})
		deadLettered = testutil.MetricValue(t, reg, "logsys_events_total", map[string]string{"role": "consumer", "result": "dead_lettered"})
		if conflicts >= 1 && deadLettered >= 1 || time.Now().After(deadline) {
			break
		}
	}
	if conflicts != 1 || deadLettered != 1 {
		t.Fatalf("id_conflict = %v, dead_lettered = %v; want 1 and 1", conflicts, deadLettered)
	}
	t.Logf("accepted 4: stored 2, redelivery skipped 1, conflicts counted and dead-lettered %v, lost 0", conflicts)
}

// hasSeries reports whether the consumer exports a series of name with
// the labels want (at any value, zero included).
func hasSeries(t *testing.T, p *pipeline, name string, want map[string]string) bool {
	t.Helper()
	mfs, err := p.consumer.metrics.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if testutil.HasLabels(m, want) {
				return true
			}
		}
	}
	return false
}

// readIDAttack returns the stored messages of the attack by identity, and
// how many records the read API returned.
func readIDAttack(t *testing.T, c *http.Client, url string) (map[string]string, int) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Data struct {
			Count  int              `json:"count"`
			Events []map[string]any `json:"events"`
		} `json:"data"`
	}
	err = json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]string{}
	for _, e := range out.Data.Events {
		id, _ := e["identity"].(string)
		msg, _ := e["message"].(string)
		stored[id] = msg
	}
	return stored, out.Data.Count
}
