package roles

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
)

// DefaultLagInterval is how often the consumer measures its group's lag
// when ConsumerConfig.LagInterval is 0.
const DefaultLagInterval = 10 * time.Second

// storeHealth is what the consumer knows about its store: since when
// writes keep failing and the last error (a zero since: healthy). Its
// reasons make readiness DOWN; its metrics feed the alert rules.
type storeHealth struct {
	mu       sync.Mutex
	since    time.Time
	last     error
	failures prometheus.Counter
	failing  prometheus.Gauge
}

func newStoreHealth(reg prometheus.Registerer) *storeHealth {
	h := &storeHealth{
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logsys_consumer_store_failures_total",
			Help: "Writes of a batch that failed and will be retried: to the store, or of its refused records to the dead-letter topic.",
		}),
		failing: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "logsys_consumer_store_failing",
			Help: "1 while the consumer's store writes keep failing (its batch is retried, nothing is committed), else 0.",
		}),
	}
	reg.MustRegister(h.failures, h.failing)
	return h
}

// failed records a failed write at now.
func (h *storeHealth) failed(now time.Time, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.since.IsZero() {
		h.since = now
	}
	h.last = err
	h.failures.Inc()
	h.failing.Set(1)
}

// ok records a successful write.
func (h *storeHealth) ok() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.since, h.last = time.Time{}, nil
	h.failing.Set(0)
}

// deadLetterFailed records a dead letter that could not be written: the
// batch can no more be put away than when the store fails (it is retried,
// nothing is committed), so readiness is DOWN the same way until the next
// success.
func (c *Consumer) deadLetterFailed(err error) {
	c.storeHealth.failed(c.now(), fmt.Errorf("dead-letter topic %s: %w", c.cfg.Kafka.DLQTopic, err))
}

// reasons is the readiness reason while writes keep failing, else nil.
func (h *storeHealth) reasons() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.since.IsZero() {
		return nil
	}
	return []string{fmt.Sprintf("store writes failing since %s: %v", h.since.UTC().Format(time.RFC3339), h.last)}
}

// StoreReasons says why the consumer's store does not take writes (nil
// when it does): the readiness reasons `logsys all` passes on to the
// gateway, whose accepted events are not draining meanwhile.
func (c *Consumer) StoreReasons() []string { return c.storeHealth.reasons() }

// measureLag sets logsys_consumer_lag_records every interval until ctx
// ends. It runs apart from the batch loop so that it stays right while a
// batch is being retried.
func (c *Consumer) measureLag(ctx context.Context, interval time.Duration) {
	adm := kadm.NewClient(c.client)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := c.updateLag(ctx, adm); err != nil && ctx.Err() == nil {
			c.log.Debug("measure lag", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// updateLag sets the lag of every partition of the topic: its end offset
// less the group's committed offset (the start offset where the group has
// committed none), which is what a restart would read again.
func (c *Consumer) updateLag(ctx context.Context, adm *kadm.Client) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	topic := c.cfg.Kafka.Topic
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return fmt.Errorf("list end offsets: %w", err)
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return fmt.Errorf("list start offsets: %w", err)
	}
	commits, err := adm.FetchOffsetsForTopics(ctx, c.cfg.Group, topic)
	if err == nil {
		err = commits.Error()
	}
	if err != nil {
		return fmt.Errorf("fetch committed offsets: %w", err)
	}
	ends.Each(func(end kadm.ListedOffset) {
		committed := int64(-1)
		if o, ok := commits.Lookup(end.Topic, end.Partition); ok {
			committed = o.At
		}
		start, _ := starts.Lookup(end.Topic, end.Partition)
		lag := partitionLag(start.Offset, end.Offset, committed)
		c.metrics.lag.WithLabelValues(end.Topic, strconv.Itoa(int(end.Partition))).Set(float64(lag))
	})
	return nil
}

// partitionLag is end less committed; with nothing committed (committed <
// 0) it is end less start. It is never negative.
func partitionLag(start, end, committed int64) int64 {
	from := committed
	if from < 0 {
		from = max(start, 0)
	}
	return max(end-from, 0)
}
