package roles

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"

	"logsys/dlq"
	"logsys/event"
	"logsys/internal/cfgerr"
	"logsys/pack"
	"logsys/store"
	"logsys/tlsx"
)

// ConsumerConfig configures the role that moves events from Kafka to the
// store.
type ConsumerConfig struct {
	Identity     tlsx.Identity `mapstructure:"tls"`
	Addr         string        `mapstructure:"addr"`
	LivenessAddr string        `mapstructure:"liveness_addr"`
	Scrapers     []string      `mapstructure:"scrapers"`
	Kafka        KafkaConfig   `mapstructure:"kafka"`
	Group        string        `mapstructure:"group"`
	// BatchSize is the most events written to the store at once, and the
	// most Kafka records one poll takes (a pack holds many events).
	BatchSize int `mapstructure:"batch_size"`
	// FlushInterval is how long a partial batch may wait for more records
	// before it is written; 0 writes whatever one poll returned.
	FlushInterval time.Duration `mapstructure:"flush_interval"`
	// StoreWriters is how many transactions a batch is written in at once,
	// split by event key (so that a key's records meet in one of them);
	// the batch is committed once all are stored.
	StoreWriters int           `mapstructure:"store_writers"`
	RetryBackoff time.Duration `mapstructure:"retry_backoff"`
	// WriteTimeout bounds one attempt to store a batch, so that a store
	// that hangs (a lock held, a disk that stalls) is seen failing and the
	// batch is tried again.
	WriteTimeout time.Duration `mapstructure:"write_timeout"`
	Store        store.Config  `mapstructure:"store"`
	// ShutdownGrace bounds how long the batches in hand may take to be
	// stored and committed after shutdown begins. While the consumer is not
	// stopping a failing batch is retried without limit.
	ShutdownGrace time.Duration `mapstructure:"shutdown_grace"`
	// LagInterval is how often logsys_consumer_lag_records is measured;
	// 0 means DefaultLagInterval.
	LagInterval time.Duration `mapstructure:"-"`

	SharedStore store.Store  `mapstructure:"-"`
	Logger      *slog.Logger `mapstructure:"-"`
	// Clock stamps received_at on stored records and judges certificate
	// expiry in health answers; nil means time.Now.
	Clock func() time.Time `mapstructure:"-"`
}

// DefaultConsumerConfig returns the documented defaults.
func DefaultConsumerConfig() ConsumerConfig {
	return ConsumerConfig{
		Identity: tlsx.DefaultIdentity("consumer"), Addr: ":8082", LivenessAddr: "127.0.0.1:9082",
		Scrapers: []string{"prometheus"}, Kafka: DefaultKafkaConfig(), Group: "log-consumer-group",
		BatchSize: 5000, StoreWriters: 2, RetryBackoff: 200 * time.Millisecond, WriteTimeout: 10 * time.Second,
		Store: store.Config{DataDir: ".logsys/store"}, ShutdownGrace: 15 * time.Second,
	}
}

// Validate reports every unusable setting, each error naming its key.
func (c ConsumerConfig) Validate() error {
	var errs []error
	if err := c.Identity.Validate(); err != nil {
		errs = append(errs, cfgerr.Under("tls", err))
	}
	kerr := c.Kafka.Validate()
	if c.Kafka.DLQTopic == "" {
		kerr = errors.Join(kerr, errors.New("dlq_topic: is required"))
	}
	if kerr != nil {
		errs = append(errs, cfgerr.Under("kafka", kerr))
	}
	if c.Group == "" {
		errs = append(errs, errors.New("group: is required"))
	}
	errs = append(errs, positive(limit{"batch_size", int64(c.BatchSize)}, limit{"store_writers", int64(c.StoreWriters)}, limit{"retry_backoff", int64(c.RetryBackoff)}, limit{"write_timeout", int64(c.WriteTimeout)})...)
	errs = append(errs, notNegative(limit{"flush_interval", int64(c.FlushInterval)}, limit{"shutdown_grace", int64(c.ShutdownGrace)})...)
	if c.SharedStore == nil {
		if err := c.Store.Validate(); err != nil {
			errs = append(errs, cfgerr.Under("store", err))
		}
	}
	return errors.Join(errs...)
}

// Consumer reads the topic in a consumer group, stores each batch and
// commits offsets only after the store accepted it.
type Consumer struct {
	*base
	cfg         ConsumerConfig
	client      *kgo.Client
	store       store.Store
	storeHealth *storeHealth
}

// NewConsumer builds the consumer, its Kafka client and store.
func NewConsumer(ctx context.Context, cfg ConsumerConfig) (*Consumer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("consumer config: %w", err)
	}
	b, err := newBase(ctx, "consumer", cfg.Identity, cfg.Logger, cfg.Clock)
	if err != nil {
		return nil, err
	}
	c := &Consumer{base: b, cfg: cfg, storeHealth: newStoreHealth(b.metrics.reg)}
	c.metrics.events.WithLabelValues("consumer", resultIDConflict) // exported at 0 from the start
	c.metrics.events.WithLabelValues("consumer", "dead_lettered")
	if err := c.build(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// consumerFetchMaxWait is how long the broker may hold a fetch that finds
// no new data. A partition assigned while such a fetch is out waits for it
// to return: after joining the group, the partitions whose committed
// offset is still being validated join the fetch after those starting from
// the beginning, and with franz-go's default of 5 s a topic's only busy
// partition could sit that long behind a fetch of its empty ones. 500 ms is
// the Java client's default; an idle consumer fetches twice a second.
const consumerFetchMaxWait = 500 * time.Millisecond

func (c *Consumer) build(ctx context.Context) error {
	cfg := c.cfg
	dial, err := c.tls.dialer("consumer->kafka", cfg.Kafka.BrokerName)
	if err != nil {
		return err
	}
	if c.store = cfg.SharedStore; c.store == nil {
		if c.store, err = store.Open(ctx, cfg.Store); err != nil {
			return fmt.Errorf("consumer: open store: %w", err)
		}
		c.onClose(c.store.Close)
	}
	kp := kprom.NewMetrics("logsys_kafka", kprom.Registerer(c.metrics.reg), kprom.Gatherer(c.metrics.reg))
	c.client, err = kgo.NewClient(
		kgo.SeedBrokers(cfg.Kafka.Brokers...),
		kgo.Dialer(dial),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(cfg.Kafka.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.FetchMaxWait(consumerFetchMaxWait),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.WithHooks(kp),
		kgo.WithLogger(kgoLogger{c.log}),
	)
	if err != nil {
		return fmt.Errorf("consumer: kafka client: %w", err)
	}
	c.onClose(func() error { c.client.Close(); return nil })
	mux := http.NewServeMux()
	hv := c.healthHandler("consumer", cfg.Identity.ExpiryThreshold, c.storeHealth.reasons)
	mux.Handle("GET /readyz", hv)
	mux.Handle("GET /api/v1/health", hv)
	mux.Handle("GET /metrics", c.onlyNames(c.metrics.handler(), cfg.Scrapers...))
	return c.listen(listener{addr: cfg.Addr, livenessAddr: cfg.LivenessAddr, allowed: cfg.Scrapers, grace: cfg.ShutdownGrace}, mux)
}

// Addr returns the bound HTTPS (health and metrics) address.
func (c *Consumer) Addr() string { return c.addr() }

// Run consumes until ctx is done. A batch is retried until it is stored
// (or dead-lettered) and committed. While one batch is being stored the
// next is polled and decoded; it is dead-lettered, written and committed
// only after the one before it, so no commit ever covers an unwritten record, and never
// when the one before could not be stored. Rebalances wait for a moment
// with no batch in hand (after a partial poll, and at least every
// rebalanceEvery). The batches in hand when ctx ends still have
// ShutdownGrace to be stored and committed; if they are not, Run leaves
// the group without committing them, and they are redelivered.
func (c *Consumer) Run(ctx context.Context) error {
	srvErr := make(chan error, 1)
	go func() { srvErr <- c.serve(ctx) }()
	lagCtx, stopLag := context.WithCancel(ctx)
	lagDone := make(chan struct{})
	go func() { defer close(lagDone); c.measureLag(lagCtx, cmp.Or(c.cfg.LagInterval, DefaultLagInterval)) }()
	defer func() { stopLag(); <-lagDone }()
	c.log.Info("consumer started", "group", c.cfg.Group, "topic", c.cfg.Kafka.Topic, "health", c.Addr())
	var last *inHand // the batch being stored; nil when none
	allowed := time.Now()
	for ctx.Err() == nil {
		fetches := c.poll(ctx)
		if fetches.IsClientClosed() {
			break
		}
		fetches.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				c.log.Warn("fetch error", "topic", t, "partition", p, "err", err)
			}
		})
		prev, cur := last, &inHand{done: make(chan struct{})}
		go func() { defer close(cur.done); cur.err = c.handle(ctx, fetches, prev) }()
		last = cur
		// At most two batches in hand: cur decodes while prev is stored.
		if prev.wait() != nil || countEvents(fetches) < c.cfg.BatchSize || time.Since(allowed) >= rebalanceEvery {
			if last.wait() != nil || prev.wait() != nil {
				break
			}
			last = nil
			c.client.AllowRebalance()
			allowed = time.Now()
		}
	}
	if err := last.wait(); err != nil {
		// Only stopping ends handle's retries: poll no further.
		c.log.Warn("stopping with a batch not committed; it will be redelivered", "err", err)
	}
	c.client.AllowRebalance() // else leaving the group blocks
	c.client.Close()          // leaves the group; uncommitted records are redelivered
	return <-srvErr
}

// rebalanceEvery is the longest a rebalance waits for the consumer while
// batches keep coming full: then one is let finish before the next poll.
const rebalanceEvery = time.Second

// inHand is a batch handed to handle: done is closed when it is stored
// and committed, or has given up (err).
type inHand struct {
	done chan struct{}
	err  error
}

// wait returns the batch's error once it is done; nil for no batch.
func (h *inHand) wait() error {
	if h == nil {
		return nil
	}
	<-h.done
	return h.err
}

// poll returns up to BatchSize records, waiting up to FlushInterval for a
// partial batch to fill: until its records hold BatchSize events (a pack
// holds many).
func (c *Consumer) poll(ctx context.Context) kgo.Fetches {
	fetches := c.client.PollRecords(ctx, c.cfg.BatchSize)
	if c.cfg.FlushInterval <= 0 || fetches.IsClientClosed() {
		return fetches
	}
	deadline := time.Now().Add(c.cfg.FlushInterval)
	n := countEvents(fetches)
	for n < c.cfg.BatchSize && time.Now().Before(deadline) && ctx.Err() == nil {
		pctx, cancel := context.WithDeadline(ctx, deadline)
		more := c.client.PollRecords(pctx, c.cfg.BatchSize-n)
		cancel()
		if more.IsClientClosed() {
			break
		}
		fetches = append(fetches, more...)
		n += countEvents(more)
	}
	return fetches
}

// countEvents is the number of events the records of fetches hold.
func countEvents(fetches kgo.Fetches) int {
	n := 0
	for rec := range fetches.RecordsAll() {
		n += pack.Count(rec)
	}
	return n
}

// handle stores one poll's records, dead-letters poison ones, then commits.
// A pack (package pack) is unpacked: each of its events is stored, or
// dead-lettered alone, like a record of its own; a pack that is not of the
// pack form is dead-lettered whole. The events are written BatchSize at a
// time, and the records are committed only once every event of every
// record is stored or dead-lettered. Once the first BatchSize events are
// decoded it waits for prev, the batch polled before, to be done, and
// stores nothing when prev was not stored.
func (c *Consumer) handle(ctx context.Context, fetches kgo.Fetches, prev *inHand) error {
	var all, events, poison []*kgo.Record
	var reasons []error
	for rec := range fetches.RecordsAll() {
		all = append(all, rec)
		var err error
		if events, err = pack.Unpack(events, rec); err != nil {
			poison, reasons = append(poison, rec), append(reasons, err)
		}
	}
	if len(all) == 0 {
		return nil
	}
	now := c.now().UTC()
	// Work in hand finishes even when shutdown starts, within the grace.
	wctx, cancel := graceContext(ctx, c.cfg.ShutdownGrace)
	defer cancel()
	for first := true; first || len(events) > 0; first = false {
		chunk := events[:min(len(events), c.cfg.BatchSize)]
		events = events[len(chunk):]
		recs := make([]store.Record, 0, len(chunk))
		origin := make([]*kgo.Record, 0, len(chunk))
		for _, rec := range chunk {
			sr, err := decodeRecord(rec, now)
			if err != nil {
				poison, reasons = append(poison, rec), append(reasons, err)
				continue
			}
			recs, origin = append(recs, sr), append(origin, rec)
		}
		// Only the first decoding overlaps the batch before: dead-lettering
		// judges the store's health as if nothing else were being written.
		if first {
			if err := prev.wait(); err != nil {
				return fmt.Errorf("not stored: the batch before is not: %w", err)
			}
		}
		if err := c.deadLetterAll(wctx, poison, reasons); err != nil {
			return err
		}
		poison, reasons = poison[:0], reasons[:0]
		if err := c.writeSplit(wctx, recs, origin); err != nil {
			return err
		}
	}
	if err := c.client.CommitRecords(wctx, all...); err != nil {
		// Every record is stored or dead-lettered: a later commit covers
		// these offsets, and a redelivery meanwhile is skipped by the store.
		c.log.Warn("offsets not committed; the stored batch may be redelivered", "err", err)
	}
	return nil
}

// deadLetterAll dead-letters poison[i] with reasons[i], retrying with
// backoff until all are written or ctx ends.
func (c *Consumer) deadLetterAll(ctx context.Context, poison []*kgo.Record, reasons []error) error {
	b := c.newBackoff()
	failed := false
	for i := 0; i < len(poison); {
		if err := c.deadLetter(ctx, poison[i], reasons[i]); err != nil {
			failed = true
			if werr := b.wait(ctx, err); werr != nil {
				return werr
			}
			continue
		}
		i++
	}
	if failed { // the poison is put away again: nothing else was failing meanwhile
		c.storeHealth.ok()
	}
	return nil
}

// graceContext is a context that ends grace after ctx does: the time the
// work in hand still has once the consumer is stopping.
func graceContext(ctx context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var mu sync.Mutex
	var timer *time.Timer
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		timer = time.AfterFunc(grace, cancel)
	})
	return wctx, func() {
		stop()
		mu.Lock()
		if timer != nil {
			timer.Stop()
		}
		mu.Unlock()
		cancel()
	}
}

// maxRetryBackoff caps the doubling of RetryBackoff between attempts.
const maxRetryBackoff = 10 * time.Second

// backoff paces the retries of one batch: RetryBackoff doubling up to
// maxRetryBackoff.
type backoff struct {
	c    *Consumer
	next time.Duration
}

func (c *Consumer) newBackoff() *backoff { return &backoff{c: c, next: c.cfg.RetryBackoff} }

// wait logs err, then sleeps for the next backoff; it returns err (with
// why) when ctx ends first.
func (b *backoff) wait(ctx context.Context, err error) error {
	b.c.log.Warn("batch not stored or committed yet; retrying", "backoff", b.next, "err", err)
	t := time.NewTimer(b.next)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("%w (stopping: %w)", err, ctx.Err())
	case <-t.C:
	}
	b.next = min(b.next*2, maxRetryBackoff)
	return nil
}

// decodeRecord turns a Kafka record of one event (a record, or one event
// of a pack as pack.Unpack returns it) into a store record, or says why it
// can never be stored: event.DecodeForwarded applies the rules the store
// applies. The events of a pack share its partition and offset.
func decodeRecord(rec *kgo.Record, now time.Time) (store.Record, error) {
	ev, err := event.DecodeForwarded(rec.Value)
	if errors.Is(err, event.ErrNotJSON) {
		return store.Record{}, err
	}
	if err != nil {
		return store.Record{}, fmt.Errorf("invalid event: %w", err)
	}
	return store.Record{Event: ev, KafkaPartition: rec.Partition, KafkaOffset: rec.Offset, ReceivedAt: now}, nil
}

// resultIDConflict counts records whose sender already stored their id
// with other content (logsys_events_total{role="consumer"}); each is also
// dead-lettered.
const resultIDConflict = "id_conflict"

// write stores recs, retrying with backoff until it succeeds or ctx ends.
// A record the store refuses as invalid, or as an id conflict, is
// dead-lettered and the rest is written again; origin[i] is the Kafka
// record of recs[i]. Every other failure is the store's: it is counted,
// makes readiness DOWN until a write succeeds, and the same records are
// tried again.
func (c *Consumer) write(ctx context.Context, recs []store.Record, origin []*kgo.Record) error {
	b := c.newBackoff()
	for len(recs) > 0 {
		actx, cancel := context.WithTimeout(ctx, c.cfg.WriteTimeout)
		n, err := c.store.Write(actx, recs)
		cancel()
		if err == nil {
			c.storeHealth.ok()
			c.metrics.events.WithLabelValues("consumer", "stored").Add(float64(n))
			return nil
		}
		var ce *store.ConflictError
		if errors.As(err, &ce) && validIndexes(ce.Indexes, len(recs)) {
			drop := make(map[int]bool, len(ce.Indexes))
			var derr error
			for _, i := range ce.Indexes {
				reason := fmt.Errorf("%w: id %q from %s is already stored with other content", store.ErrIDConflict, recs[i].ID, recs[i].Identity)
				if derr = c.deadLetter(ctx, origin[i], reason); derr != nil {
					break // those dead-lettered are dropped; the next write names the rest again
				}
				c.metrics.events.WithLabelValues("consumer", resultIDConflict).Inc()
				drop[i] = true
			}
			recs, origin = without(recs, origin, drop)
			if derr != nil {
				if werr := b.wait(ctx, derr); werr != nil {
					return werr
				}
			}
			continue
		}
		var re *store.RecordError
		if errors.As(err, &re) && errors.Is(err, store.ErrInvalidRecord) && re.Index >= 0 && re.Index < len(recs) {
			if derr := c.deadLetter(ctx, origin[re.Index], err); derr != nil {
				if werr := b.wait(ctx, derr); werr != nil {
					return werr
				}
				continue
			}
			recs, origin = without(recs, origin, map[int]bool{re.Index: true})
			continue
		}
		c.storeHealth.failed(c.now(), err)
		c.metrics.events.WithLabelValues("consumer", "failed").Add(float64(len(recs)))
		if werr := b.wait(ctx, fmt.Errorf("store %d records: %w", len(recs), err)); werr != nil {
			return werr
		}
	}
	return nil
}

// minSplit is the fewest records per transaction worth a writer of its own.
const minSplit = 500

// writeSplit is write of recs split by key (identity, id) into up to
// StoreWriters parts written at once, each with write's retries; it
// returns when every part is stored or dead-lettered, or, stopping, with
// the errors of the parts that were not (those are redelivered; the parts
// stored meanwhile are then skipped by the store as redeliveries). A
// key's records are all in one part, so the store compares them as in one
// batch.
func (c *Consumer) writeSplit(ctx context.Context, recs []store.Record, origin []*kgo.Record) error {
	n := min(c.cfg.StoreWriters, len(recs)/minSplit)
	if n <= 1 {
		return c.write(ctx, recs, origin)
	}
	parts := make([]struct {
		recs   []store.Record
		origin []*kgo.Record
	}, n)
	for i := range recs {
		h := fnv.New32a()
		h.Write([]byte(recs[i].Identity))
		h.Write([]byte{0})
		h.Write([]byte(recs[i].ID))
		p := &parts[h.Sum32()%uint32(n)]
		p.recs, p.origin = append(p.recs, recs[i]), append(p.origin, origin[i])
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range parts {
		wg.Go(func() { errs[i] = c.write(ctx, parts[i].recs, parts[i].origin) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// without returns recs and origin less the positions in drop.
func without(recs []store.Record, origin []*kgo.Record, drop map[int]bool) ([]store.Record, []*kgo.Record) {
	var keptRecs []store.Record
	var keptOrigin []*kgo.Record
	for i := range recs {
		if !drop[i] {
			keptRecs, keptOrigin = append(keptRecs, recs[i]), append(keptOrigin, origin[i])
		}
	}
	return keptRecs, keptOrigin
}

// validIndexes reports whether idx is a non-empty list of positions in a
// batch of n.
func validIndexes(idx []int, n int) bool {
	for _, i := range idx {
		if i < 0 || i >= n {
			return false
		}
	}
	return len(idx) > 0
}

// deadLetter moves a poison record to the dead-letter topic with the
// reason, in the form package dlq reads. A failure is recorded in the
// store health (readiness DOWN) before it is returned for a retry.
func (c *Consumer) deadLetter(ctx context.Context, rec *kgo.Record, reason error) error {
	dl := &kgo.Record{
		Topic: c.cfg.Kafka.DLQTopic, Key: rec.Key, Value: rec.Value, Headers: dlq.Headers(rec, reason),
	}
	if err := c.client.ProduceSync(ctx, dl).FirstErr(); err != nil {
		err = fmt.Errorf("dead-letter %s/%d/%d: %w", rec.Topic, rec.Partition, rec.Offset, err)
		c.deadLetterFailed(err)
		return err
	}
	c.metrics.events.WithLabelValues("consumer", "dead_lettered").Inc()
	c.log.Warn("poison record dead-lettered", "topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset, "reason", reason)
	return nil
}

// Close releases the client, listeners and store.
func (c *Consumer) Close() error { return c.close() }
