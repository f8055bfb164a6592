package roles

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"logsys/internal/testutil"
	"logsys/store"
)

// TestConsumerRidesOutPostgresRestart sends events through the pipeline
// into a real PostgreSQL (TLS, certificate auth) and restarts the server in
// the middle: the consumer retries, and every accepted event is stored
// exactly once.
func TestConsumerRidesOutPostgresRestart(t *testing.T) {
	dsn, restart := os.Getenv("LOGSYS_TEST_PG_DSN"), os.Getenv("LOGSYS_TEST_PG_RESTART")
	if dsn == "" || restart == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("CI is set but LOGSYS_TEST_PG_DSN/LOGSYS_TEST_PG_RESTART are not: .ci/run must start PostgreSQL")
		}
		t.Skip("no PostgreSQL: set LOGSYS_TEST_PG_DSN and LOGSYS_TEST_PG_RESTART (eval \"$(.ci/postgres.sh start PKI_DIR)\")")
	}
	p := startPipelineWith(t, store.Config{DSN: dsn})
	c := p.client("dev", "client")
	source := fmt.Sprintf("pg-restart-%d", time.Now().UnixNano())
	var ids []string
	send := func(n int) {
		for i := 0; i < n; i++ {
			code, body := postJSON(t, c, p.url("/api/v1/logs/batch"), "application/x-ndjson",
				fmt.Sprintf("{\"message\":\"a%d\",\"source\":%q}\n{\"message\":\"b%d\",\"source\":%q}\n", i, source, i, source))
			if code != 202 {
				t.Fatalf("POST: %d %v", code, body)
			}
			for _, id := range body["data"].(map[string]any)["ids"].([]any) {
				ids = append(ids, id.(string))
			}
		}
	}
	send(50)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		out, err := exec.Command("sh", "-c", restart).CombinedOutput()
		if err != nil {
			t.Errorf("restart PostgreSQL: %v\n%s", err, out)
		}
	}()
	send(100)
	wg.Wait()
	send(50)
	testutil.Eventually(t, 60*time.Second, fmt.Sprintf("all %d events in PostgreSQL", len(ids)), func() bool {
		recs, err := p.store.Query(context.Background(), store.Filter{Source: source, Limit: store.MaxLimit})
		if err != nil {
			return false // the server may still be coming back
		}
		seen := map[string]int{}
		for _, r := range recs {
			seen[r.ID]++
		}
		for _, id := range ids {
			if seen[id] != 1 {
				return false
			}
		}
		return len(recs) == len(ids)
	})
}
