package roles

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"logsys/internal/testutil"
	"logsys/store"
)

// load is a bounded stream of batches posted by a few clients, each
// worker under a source of its own, recording every id answered 202. A
// worker stops by itself after perWorker accepted events.
type load struct {
	sources  []string
	mu       sync.Mutex
	accepted map[string]bool
	refused  int
	stop     chan struct{}
	wg       sync.WaitGroup
}

// startLoad runs workers posting batches of 5 events every pace.
func startLoad(t *testing.T, p *pipeline, name string, workers int, pace time.Duration) *load {
	t.Helper()
	const perWorker, batch = 900, 5 // a source stays within one store.MaxLimit query
	l := &load{accepted: map[string]bool{}, stop: make(chan struct{})}
	c := p.client("dev", "client")
	run := fmt.Sprintf("%s-%d", name, time.Now().UnixNano())
	for w := range workers {
		src := fmt.Sprintf("%s-w%d", run, w)
		l.sources = append(l.sources, src)
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for n, i := 0, 0; n < perWorker; i++ {
				select {
				case <-l.stop:
					return
				case <-time.After(pace):
				}
				var b strings.Builder
				for k := range batch {
					fmt.Fprintf(&b, "{\"message\":\"m%d-%d\",\"source\":%q}\n", i, k, src)
				}
				code, body, err := tryPost(c, p.url("/api/v1/logs/batch"), "application/x-ndjson", b.String())
				if err != nil || code != http.StatusAccepted {
					l.mu.Lock()
					l.refused++ // not accepted, so not owed
					l.mu.Unlock()
					continue
				}
				ids, _ := body["data"].(map[string]any)["ids"].([]any)
				l.mu.Lock()
				for _, id := range ids {
					l.accepted[id.(string)] = true
				}
				l.mu.Unlock()
				n += len(ids)
			}
		}()
	}
	t.Cleanup(l.finish)
	return l
}

func (l *load) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.accepted)
}

// waitAccepted waits until at least n events were accepted.
func (l *load) waitAccepted(t *testing.T, n int) {
	t.Helper()
	testutil.Eventually(t, 30*time.Second, fmt.Sprintf("%d events accepted", n), func() bool { return l.count() >= n })
}

// finish stops the workers and waits for them (idempotent).
func (l *load) finish() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
}

// tally is what a fault run counts: events answered 202, how many of them
// are stored, lost (not stored) and duplicated (stored more than once).
type tally struct{ accepted, refused, stored, lost, duplicated int }

// count compares the accepted ids with what the store holds.
func (l *load) tally(t *testing.T, s store.Store) tally {
	t.Helper()
	seen := map[string]int{}
	for _, src := range l.sources {
		recs, err := s.Query(context.Background(), store.Filter{Source: src, Limit: store.MaxLimit})
		if err != nil {
			t.Fatalf("query %s: %v", src, err)
		}
		for _, r := range recs {
			seen[r.ID]++
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	tl := tally{accepted: len(l.accepted), refused: l.refused}
	for id := range l.accepted {
		switch n := seen[id]; {
		case n == 0:
			tl.lost++
		case n > 1:
			tl.duplicated++
		}
	}
	for _, n := range seen {
		tl.stored += n
	}
	return tl
}

// requireAllStoredOnce stops the load, waits for the pipeline to drain
// and fails unless every accepted event is stored exactly once.
func (l *load) requireAllStoredOnce(t *testing.T, s store.Store) tally {
	t.Helper()
	l.finish()
	var tl tally
	deadline := time.Now().Add(60 * time.Second)
	for {
		tl = l.tally(t, s)
		if tl.lost == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("accepted %d (refused %d), stored %d, lost %d, duplicated %d", tl.accepted, tl.refused, tl.stored, tl.lost, tl.duplicated)
	if tl.accepted == 0 || tl.lost != 0 || tl.duplicated != 0 {
		t.Fatalf("accepted %d: %d lost, %d duplicated; want none", tl.accepted, tl.lost, tl.duplicated)
	}
	return tl
}

// readiness asks the consumer's /readyz as the prometheus identity.
func (p *pipeline) readiness(t *testing.T, addr string) (int, healthView) {
	t.Helper()
	c := p.client("dev", "prometheus")
	defer c.CloseIdleConnections()
	resp, err := c.Get("https://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	var h healthView
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, h
}

// waitStoreDown waits until the consumer's readiness is DOWN with the
// store's reason, and returns what it said.
func (p *pipeline) waitStoreDown(t *testing.T) healthView {
	t.Helper()
	var h healthView
	testutil.Eventually(t, 10*time.Second, "consumer readiness DOWN with the store's reason", func() bool {
		code, v := p.readiness(t, p.consumer.Addr())
		h = v
		return code == http.StatusServiceUnavailable && hasReason(v, "store writes failing since ")
	})
	return h
}

// requireLagCovers fails unless the consumer's lag, measured now, covers
// every record the broker held beyond the group's commits just before
// (the events accepted while the store failed: a record holds one event
// or a pack of them), and there is at least one.
func (p *pipeline) requireLagCovers(t *testing.T, while string) {
	t.Helper()
	waiting := p.uncommitted(DefaultKafkaConfig().Topic)
	if lag := p.lag(t); waiting == 0 || lag < float64(waiting) {
		t.Errorf("lag %v %s, want at least the %d records (the events accepted meanwhile) beyond the commits", lag, while, waiting)
	}
}

// lag measures the consumer's lag now and returns its sum over the
// topic's partitions, as exported.
func (p *pipeline) lag(t *testing.T) float64 {
	t.Helper()
	if err := p.consumer.updateLag(context.Background(), kadm.NewClient(p.consumer.client)); err != nil {
		t.Fatalf("measure lag: %v", err)
	}
	return testutil.MetricValue(t, p.consumer.metrics.reg, "logsys_consumer_lag_records", map[string]string{"topic": "log-events"})
}
