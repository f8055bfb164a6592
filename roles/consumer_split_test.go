package roles

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"logsys/event"
	"logsys/internal/testutil"
	"logsys/store"
)

// TestWriteSplitKeepsKeysTogether: a large batch is written in
// store_writers transactions at once, every record of a key in the same
// one (a redelivery inside the batch is skipped as in one transaction); a
// part the store refuses is retried alone, and the batch is done only when
// every part is stored.
func TestWriteSplitKeepsKeysTogether(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c, o := retryConsumer(t, 1, time.Second, time.Second)
		rec := &recordingStore{Store: o}
		c.store = rec
		const n = 1200
		var recs []store.Record
		var origin []*kgo.Record
		ts := time.Unix(1700000000, 0).UTC()
		for i := range n {
			ev := event.Event{ID: fmt.Sprintf("split-%d", i), Level: event.Info, Message: "m", Source: "split", Timestamp: ts, Identity: "spiffe://logsys.local/dev/client"}
			recs = append(recs, store.Record{Event: ev, KafkaOffset: int64(i)})
			origin = append(origin, &kgo.Record{Topic: "log-events", Offset: int64(i)})
		}
		recs = append(recs, recs[7]) // redelivered within the batch
		origin = append(origin, &kgo.Record{Topic: "log-events", Offset: n})
		if err := c.writeSplit(context.Background(), recs, origin); err != nil {
			t.Fatal(err)
		}
		calls := rec.batches()
		if len(calls) != 3 { // two parts, one of them tried twice
			t.Fatalf("%d writes, want 3 (2 parts, one retried)", len(calls))
		}
		part := map[string]int{}
		for k, keys := range calls {
			for _, key := range keys {
				if p, ok := part[key]; ok && p != k && !sameKeys(calls[p], keys) {
					t.Fatalf("key %s in writes %d and %d", key, p, k)
				}
				part[key] = k
			}
		}
		if len(part) != n {
			t.Fatalf("%d keys written, want %d", len(part), n)
		}
		if got := testutil.MetricValue(t, c.metrics.reg, "logsys_events_total", map[string]string{"role": "consumer", "result": "stored"}); got != n {
			t.Errorf("stored %v, want %d", got, n)
		}
		got, err := o.Store.Query(context.Background(), store.Filter{Source: "split", Limit: store.MaxLimit})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != store.MaxLimit {
			t.Errorf("query returned %d, want %d", len(got), store.MaxLimit)
		}
	})
}

// recordingStore records the keys of every Write.
type recordingStore struct {
	store.Store
	mu    sync.Mutex
	calls [][]string
}

func (r *recordingStore) Write(ctx context.Context, recs []store.Record) (int, error) {
	keys := make([]string, len(recs))
	for i, x := range recs {
		keys[i] = x.Identity + " " + x.ID
	}
	r.mu.Lock()
	r.calls = append(r.calls, keys)
	r.mu.Unlock()
	return r.Store.Write(ctx, recs)
}

func (r *recordingStore) batches() [][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]string(nil), r.calls...)
}

// sameKeys reports whether two writes were of the same records (a retry).
func sameKeys(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
