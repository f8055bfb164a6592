package roles

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"logsys/internal/testutil"
	"logsys/store"
)

// pgEnv returns the test server's DSN and restart command, skipping
// (failing under CI) without them.
func pgEnv(t *testing.T) (dsn, restart string) {
	t.Helper()
	dsn, restart = os.Getenv("LOGSYS_TEST_PG_DSN"), os.Getenv("LOGSYS_TEST_PG_RESTART")
	if dsn == "" || restart == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("CI is set but LOGSYS_TEST_PG_DSN/LOGSYS_TEST_PG_RESTART are not: .ci/run must start PostgreSQL")
		}
		t.Skip("no PostgreSQL: set LOGSYS_TEST_PG_DSN and LOGSYS_TEST_PG_RESTART (eval \"$(.ci/postgres.sh start PKI_DIR)\")")
	}
	return dsn, restart
}

// TestConsumerRidesOutPostgresRestart sends events through the pipeline
// into a real PostgreSQL (TLS, certificate auth) and restarts the server in
// the middle of the load: the consumer retries, and every accepted event is
// stored exactly once.
func TestConsumerRidesOutPostgresRestart(t *testing.T) {
	dsn, restart := pgEnv(t)
	p := startPipelineWith(t, store.Config{DSN: dsn})
	l := startLoad(t, p, "pg-restart", 4, 5*time.Millisecond)
	l.waitAccepted(t, 200)
	if out, err := exec.Command("sh", "-c", restart).CombinedOutput(); err != nil {
		t.Fatalf("restart PostgreSQL: %v\n%s", err, out)
	}
	l.waitAccepted(t, l.count()+200)
	l.requireAllStoredOnce(t, p.store)
}

// TestPostgresTableLockedLongerThanGrace: another session holds an ACCESS
// EXCLUSIVE lock on log_events for ten graces while events flow: every
// write attempt hangs until write_timeout, readiness is DOWN with the
// reason, the lag grows; after the lock is released everything is stored
// once and readiness is back.
func TestPostgresTableLockedLongerThanGrace(t *testing.T) {
	dsn, _ := pgEnv(t)
	p := startPipelineWith(t, store.Config{DSN: dsn})
	p.stopConsumer()
	p.startConsumerWith(outageConsumer)
	l := startLoad(t, p, "pg-lock", 4, 5*time.Millisecond)
	l.waitAccepted(t, 200)

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err == nil {
		_, err = tx.Exec(ctx, "LOCK TABLE log_events IN ACCESS EXCLUSIVE MODE")
	}
	if err != nil {
		t.Fatalf("lock log_events: %v", err)
	}
	locked := time.Now()
	p.waitStoreDown(t)
	during := l.count()
	l.waitAccepted(t, during+100)
	p.requireLagCovers(t, "during the outage")
	if d := 10*outageGrace - time.Since(locked); d > 0 {
		time.Sleep(d)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatalf("unlock: %v", err)
	}
	testutil.Eventually(t, 20*time.Second, "consumer readiness back UP", func() bool {
		code, _ := p.readiness(t, p.consumer.Addr())
		return code == http.StatusOK
	})
	l.requireAllStoredOnce(t, p.store)
	t.Logf("lock held %v: %v failed attempts", time.Since(locked).Round(time.Millisecond),
		testutil.MetricValue(t, p.consumer.metrics.reg, "logsys_consumer_store_failures_total", nil))
}
