package roles

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"logsys/event"
	"logsys/internal/testutil"
	"logsys/store"
)

// outage is the real embedded store behind a switch that makes its writes
// fail while it is on, as a store outage does, recording when (on the
// bubble's clock) each write was tried.
type outage struct {
	store.Store
	mu       sync.Mutex
	failures int // writes still to fail
	start    time.Time
	tries    []time.Duration
}

var errOutage = errors.New("disk I/O error")

func (o *outage) Write(ctx context.Context, recs []store.Record) (int, error) {
	o.mu.Lock()
	o.tries = append(o.tries, time.Since(o.start))
	fail := o.failures > 0
	if fail {
		o.failures--
	}
	o.mu.Unlock()
	if fail {
		return 0, errOutage
	}
	return o.Store.Write(ctx, recs)
}

func (o *outage) attempts() []time.Duration {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]time.Duration(nil), o.tries...)
}

// retryConsumer is a consumer without Kafka around an outage of failures
// writes, for the retry path alone. Call it inside a synctest bubble.
func retryConsumer(t *testing.T, failures int, backoff, grace time.Duration) (*Consumer, *outage) {
	t.Helper()
	s, err := store.Open(context.Background(), store.Config{DataDir: filepath.Join(t.TempDir(), "store")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	o := &outage{Store: s, failures: failures, start: time.Now()}
	m := newRoleMetrics("consumer")
	cfg := DefaultConsumerConfig()
	cfg.RetryBackoff, cfg.ShutdownGrace = backoff, grace
	return &Consumer{base: &base{role: "consumer", log: quietLogger(), now: time.Now, metrics: m}, cfg: cfg, store: o, storeHealth: newStoreHealth(m.reg)}, o
}

func oneRecord() ([]store.Record, []*kgo.Record) {
	ev := event.Event{ID: "r1", Level: event.Info, Message: "m", Source: "retry", Timestamp: time.Unix(0, 0).UTC()}
	return []store.Record{{Event: ev}}, []*kgo.Record{{Topic: "log-events"}}
}

// TestConsumerRetriesFailedBatch: a batch the store refuses is tried again
// after 1, 2, 4 s (doubling from retry_backoff) until it is stored.
// Meanwhile readiness is DOWN with the reason and since when, and the
// metrics say so; the success brings it back.
func TestConsumerRetriesFailedBatch(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c, o := retryConsumer(t, 3, time.Second, 15*time.Second)
		recs, origin := oneRecord()
		started := time.Now().UTC()
		done := make(chan error, 1)
		go func() { done <- c.write(context.Background(), recs, origin) }()
		time.Sleep(2 * time.Second) // between the second and third attempt
		synctest.Wait()
		reasons := c.StoreReasons()
		want := "store writes failing since " + started.Format(time.RFC3339) + ": disk I/O error"
		if len(reasons) != 1 || reasons[0] != want {
			t.Errorf("reasons during the outage = %q, want %q", reasons, want)
		}
		if v := testutil.MetricValue(t, c.metrics.reg, "logsys_consumer_store_failing", nil); v != 1 {
			t.Errorf("failing gauge = %v, want 1", v)
		}
		if err := <-done; err != nil {
			t.Fatalf("write: %v", err)
		}
		if got, want := o.attempts(), []time.Duration{0, time.Second, 3 * time.Second, 7 * time.Second}; !equalDurations(got, want) {
			t.Errorf("attempts at %v, want %v", got, want)
		}
		if r := c.StoreReasons(); r != nil {
			t.Errorf("reasons after the success = %q, want none", r)
		}
		reg := c.metrics.reg
		if f, g := testutil.MetricValue(t, reg, "logsys_consumer_store_failures_total", nil), testutil.MetricValue(t, reg, "logsys_consumer_store_failing", nil); f != 3 || g != 0 {
			t.Errorf("failures %v, failing %v; want 3 and 0", f, g)
		}
	})
}

// TestConsumerBackoffIsCapped: the pause doubles up to 10 s and stays there.
func TestConsumerBackoffIsCapped(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c, o := retryConsumer(t, 5, 4*time.Second, time.Second)
		recs, origin := oneRecord()
		if err := c.write(context.Background(), recs, origin); err != nil {
			t.Fatal(err)
		}
		if got, want := o.attempts(), []time.Duration{0, 4 * time.Second, 12 * time.Second, 22 * time.Second, 32 * time.Second, 42 * time.Second}; !equalDurations(got, want) {
			t.Errorf("attempts at %v, want %v", got, want)
		}
	})
}

// TestConsumerGivesUpOnlyWhenStopping: an outage of an hour outlasts
// shutdown_grace (2 s) many times and the batch is still being retried;
// once the consumer stops, the batch has the grace and is then given up
// with the store's error, for the caller not to commit it.
func TestConsumerGivesUpOnlyWhenStopping(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c, o := retryConsumer(t, 1<<30, time.Second, 2*time.Second)
		recs, origin := oneRecord()
		ctx, stop := context.WithCancel(context.Background())
		wctx, cancel := graceContext(ctx, c.cfg.ShutdownGrace)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- c.write(wctx, recs, origin) }()
		time.Sleep(time.Hour)
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("write gave up while the consumer runs: %v", err)
		default:
		}
		n := len(o.attempts())
		stop()
		stopped := time.Now()
		err := <-done
		if waited := time.Since(stopped); waited != 2*time.Second {
			t.Errorf("gave up %v after the stop, want the 2s grace", waited)
		}
		if !errors.Is(err, errOutage) || !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "stopping") {
			t.Errorf("write = %v, want the store's error while stopping", err)
		}
		t.Logf("%d attempts in the hour, %d in the grace", n, len(o.attempts())-n)
	})
}

// TestPartitionLag: the lag is what a restart would read again.
func TestPartitionLag(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name                  string
		start, end, committed int64
		want                  int64
	}{
		{"committed behind the end", 0, 120, 20, 100},
		{"all committed", 0, 120, 120, 0},
		{"nothing committed: from the start", 0, 120, -1, 120},
		{"nothing committed, start moved by retention", 50, 120, -1, 70},
		{"empty partition", 0, 0, -1, 0},
		{"commit ahead of a stale end", 0, 100, 110, 0},
	} {
		if got := partitionLag(tc.start, tc.end, tc.committed); got != tc.want {
			t.Errorf("%s: partitionLag(%d, %d, %d) = %d, want %d", tc.name, tc.start, tc.end, tc.committed, got, tc.want)
		}
	}
}
