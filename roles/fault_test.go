package roles

import (
	"context"
	"database/sql"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"logsys/internal/testutil"
	"logsys/store"
)

// lockSQLite holds the embedded store's write lock from a connection of
// its own (BEGIN EXCLUSIVE), as another process could; the returned func
// releases it.
func lockSQLite(t *testing.T, dataDir string) (unlock func()) {
	t.Helper()
	// Wait for the consumer's transaction in progress, as its own
	// connections wait for each other.
	db, err := sql.Open("sqlite", filepath.Join(dataDir, store.SQLiteFile)+"?_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(context.Background())
	if err == nil {
		_, err = conn.ExecContext(context.Background(), "BEGIN EXCLUSIVE")
	}
	if err != nil {
		db.Close()
		t.Fatalf("lock the store: %v", err)
	}
	done := false
	unlock = func() {
		if done {
			return
		}
		done = true
		if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
			t.Errorf("unlock the store: %v", err)
		}
		conn.Close()
		db.Close()
	}
	t.Cleanup(unlock)
	return unlock
}

// outageConsumer is a consumer that sees a store failing quickly: a short
// grace, attempt timeout and backoff.
func outageConsumer(c *ConsumerConfig) {
	c.ShutdownGrace, c.WriteTimeout, c.RetryBackoff, c.BatchSize = outageGrace, 200*time.Millisecond, 20*time.Millisecond, 200
}

const outageGrace = 300 * time.Millisecond

func hasReason(h healthView, prefix string) bool {
	for _, r := range h.Reasons {
		if strings.HasPrefix(r, prefix) {
			return true
		}
	}
	return false
}

// TestStoreLockedLongerThanGrace is the outage of issue 13: under load,
// another connection holds the SQLite file's write lock many times longer
// than shutdown_grace. The consumer keeps retrying the batch in hand and
// polls no further; its readiness and the gateway's go DOWN with the
// reason, the failure gauge is up, the lag (end - committed) grows by what
// is accepted meanwhile; after the lock is released everything is stored
// once and health comes back.
func TestStoreLockedLongerThanGrace(t *testing.T) {
	t.Parallel()
	p := startPipeline(t)
	p.stopConsumer()
	p.startConsumerWith(outageConsumer)
	l := startLoad(t, p, "lock", 4, 5*time.Millisecond)
	l.waitAccepted(t, 200)

	unlock := lockSQLite(t, filepath.Join(p.dataDir, "store"))
	locked := time.Now()
	h := p.waitStoreDown(t)
	t.Logf("consumer readiness during the outage: %v", h.Reasons)
	if code, gh := p.readiness(t, p.gateway.Addr()); code != http.StatusServiceUnavailable || !hasReason(gh, "store writes failing since ") {
		t.Errorf("gateway readiness during the outage: %d %v; want DOWN with the store's reason", code, gh.Reasons)
	}
	reg := p.consumer.metrics.reg
	if v := testutil.MetricValue(t, reg, "logsys_consumer_store_failing", nil); v != 1 {
		t.Errorf("logsys_consumer_store_failing = %v during the outage, want 1", v)
	}
	during := l.count()
	l.waitAccepted(t, during+100)
	p.requireLagCovers(t, "during the outage")
	// Hold the lock for ten graces at least: the batch in hand outlives
	// the grace many times over without being given up.
	if d := 10*outageGrace - time.Since(locked); d > 0 {
		time.Sleep(d)
	}
	lagBefore := p.lag(t)
	unlock()

	testutil.Eventually(t, 20*time.Second, "consumer readiness back UP", func() bool {
		code, _ := p.readiness(t, p.consumer.Addr())
		return code == http.StatusOK
	})
	tl := l.requireAllStoredOnce(t, p.store)
	testutil.Eventually(t, 20*time.Second, "lag back to 0", func() bool { return p.lag(t) == 0 })
	failures := testutil.MetricValue(t, reg, "logsys_consumer_store_failures_total", nil)
	if failures == 0 || testutil.MetricValue(t, reg, "logsys_consumer_store_failing", nil) != 0 {
		t.Errorf("store failures %v (want > 0), failing gauge %v (want 0)", failures, testutil.MetricValue(t, reg, "logsys_consumer_store_failing", nil))
	}
	t.Logf("lock held %v: %v failed attempts, lag %v before release, %d accepted", time.Since(locked).Round(time.Millisecond), failures, lagBefore, tl.accepted)
}

// TestConsumerStopsDuringStoreOutage: the consumer is stopped while the
// store is locked. The batch in hand cannot be stored within the grace,
// so it is not committed; a new consumer, started after the lock is
// released, is redelivered it. Nothing accepted is lost or stored twice.
func TestConsumerStopsDuringStoreOutage(t *testing.T) {
	t.Parallel()
	p := startPipeline(t)
	p.stopConsumer()
	p.startConsumerWith(outageConsumer)
	l := startLoad(t, p, "stop-outage", 4, 5*time.Millisecond)
	l.waitAccepted(t, 200)
	unlock := lockSQLite(t, filepath.Join(p.dataDir, "store"))
	p.waitStoreDown(t)
	l.waitAccepted(t, l.count()+100)
	p.stopConsumer() // within the grace: the batch is given up, not committed
	l.waitAccepted(t, l.count()+100)
	unlock()
	p.startConsumerWith(outageConsumer)
	l.requireAllStoredOnce(t, p.store)
}

// TestConsumerRestartUnderLoad stops and starts the consumer three times
// while events flow, once with a grace of 0 (the batch in hand is given
// up at once).
func TestConsumerRestartUnderLoad(t *testing.T) {
	t.Parallel()
	p := startPipeline(t)
	l := startLoad(t, p, "restart", 4, 5*time.Millisecond)
	for i, grace := range []time.Duration{time.Second, 0, time.Second} {
		l.waitAccepted(t, (i+1)*300)
		p.stopConsumer()
		l.waitAccepted(t, l.count()+100) // accepted while no consumer runs
		p.startConsumerWith(func(c *ConsumerConfig) { c.ShutdownGrace, c.BatchSize = grace, 100 })
	}
	l.waitAccepted(t, l.count()+200)
	l.requireAllStoredOnce(t, p.store)
}
