package roles

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"

	"logsys/dlq"
	"logsys/event"
	"logsys/internal/cfgerr"
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
	// BatchSize is the most records written to the store at once.
	BatchSize int `mapstructure:"batch_size"`
	// FlushInterval is how long a partial batch may wait for more records
	// before it is written; 0 writes whatever one poll returned.
	FlushInterval time.Duration `mapstructure:"flush_interval"`
	RetryBackoff  time.Duration `mapstructure:"retry_backoff"`
	Store         store.Config  `mapstructure:"store"`
	// ShutdownGrace bounds how long the batch in hand may take to be
	// stored and committed after shutdown begins.
	ShutdownGrace time.Duration `mapstructure:"shutdown_grace"`

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
		BatchSize: 5000, RetryBackoff: 200 * time.Millisecond,
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
	errs = append(errs, positive(limit{"batch_size", int64(c.BatchSize)}, limit{"retry_backoff", int64(c.RetryBackoff)})...)
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
	cfg    ConsumerConfig
	client *kgo.Client
	store  store.Store
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
	c := &Consumer{base: b, cfg: cfg}
	c.metrics.events.WithLabelValues("consumer", resultIDConflict) // exported at 0 from the start
	c.metrics.events.WithLabelValues("consumer", "dead_lettered")
	if err := c.build(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

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
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.WithHooks(kp),
		kgo.WithLogger(kgoLogger{c.log}),
	)
	if err != nil {
		return fmt.Errorf("consumer: kafka client: %w", err)
	}
	c.onClose(func() error { c.client.Close(); return nil })
	mux := http.NewServeMux()
	hv := c.healthHandler("consumer", cfg.Identity.ExpiryThreshold, nil)
	mux.Handle("GET /readyz", hv)
	mux.Handle("GET /api/v1/health", hv)
	mux.Handle("GET /metrics", c.onlyNames(c.metrics.handler(), cfg.Scrapers...))
	return c.listen(listener{addr: cfg.Addr, livenessAddr: cfg.LivenessAddr, allowed: cfg.Scrapers, grace: cfg.ShutdownGrace}, mux)
}

// Addr returns the bound HTTPS (health and metrics) address.
func (c *Consumer) Addr() string { return c.addr() }

// Run consumes until ctx is done. The batch in hand when ctx ends is still
// stored and committed (within ShutdownGrace) before the group is left.
func (c *Consumer) Run(ctx context.Context) error {
	srvErr := make(chan error, 1)
	go func() { srvErr <- c.serve(ctx) }()
	c.log.Info("consumer started", "group", c.cfg.Group, "topic", c.cfg.Kafka.Topic, "health", c.Addr())
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
		if err := c.handle(ctx, fetches); err != nil {
			c.log.Warn("batch not committed; it will be redelivered", "err", err)
		}
		c.client.AllowRebalance()
	}
	c.client.Close() // leaves the group; uncommitted records are redelivered
	return <-srvErr
}

// poll returns up to BatchSize records, waiting up to FlushInterval for a
// partial batch to fill.
func (c *Consumer) poll(ctx context.Context) kgo.Fetches {
	fetches := c.client.PollRecords(ctx, c.cfg.BatchSize)
	if c.cfg.FlushInterval <= 0 || fetches.IsClientClosed() {
		return fetches
	}
	deadline := time.Now().Add(c.cfg.FlushInterval)
	for n := fetches.NumRecords(); n < c.cfg.BatchSize && time.Now().Before(deadline) && ctx.Err() == nil; n = fetches.NumRecords() {
		pctx, cancel := context.WithDeadline(ctx, deadline)
		more := c.client.PollRecords(pctx, c.cfg.BatchSize-n)
		cancel()
		if more.IsClientClosed() {
			break
		}
		fetches = append(fetches, more...)
	}
	return fetches
}

// handle stores one poll's records, dead-letters poison ones, then commits.
func (c *Consumer) handle(ctx context.Context, fetches kgo.Fetches) error {
	var recs []store.Record
	var all, origin []*kgo.Record
	now := c.now().UTC()
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		if n := len(p.Records); n > 0 {
			lag := p.HighWatermark - (p.Records[n-1].Offset + 1)
			c.metrics.lag.WithLabelValues(p.Topic, strconv.Itoa(int(p.Partition))).Set(float64(lag))
		}
	})
	// Work in hand finishes even when shutdown starts, within the grace.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.ShutdownGrace)
	defer cancel()
	for rec := range fetches.RecordsAll() {
		all = append(all, rec)
		sr, err := decodeRecord(rec, now)
		if err != nil {
			if derr := c.deadLetter(wctx, rec, err); derr != nil {
				return derr
			}
			continue
		}
		recs = append(recs, sr)
		origin = append(origin, rec)
	}
	if len(all) == 0 {
		return nil
	}
	if err := c.write(wctx, recs, origin); err != nil {
		return err
	}
	if err := c.client.CommitRecords(wctx, all...); err != nil {
		return fmt.Errorf("commit offsets: %w", err)
	}
	return nil
}

// decodeRecord turns a Kafka record into a store record, or says why it
// can never be stored: event.DecodeForwarded applies the rules the store
// applies.
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
// record of recs[i].
func (c *Consumer) write(ctx context.Context, recs []store.Record, origin []*kgo.Record) error {
	backoff := c.cfg.RetryBackoff
	for len(recs) > 0 {
		n, err := c.store.Write(ctx, recs)
		if err == nil {
			c.metrics.events.WithLabelValues("consumer", "stored").Add(float64(n))
			return nil
		}
		var ce *store.ConflictError
		if errors.As(err, &ce) && validIndexes(ce.Indexes, len(recs)) {
			drop := make(map[int]bool, len(ce.Indexes))
			for _, i := range ce.Indexes {
				reason := fmt.Errorf("%w: id %q from %s is already stored with other content", store.ErrIDConflict, recs[i].ID, recs[i].Identity)
				if derr := c.deadLetter(ctx, origin[i], reason); derr != nil {
					return derr
				}
				c.metrics.events.WithLabelValues("consumer", resultIDConflict).Inc()
				drop[i] = true
			}
			var keptRecs []store.Record
			var keptOrigin []*kgo.Record
			for i := range recs {
				if !drop[i] {
					keptRecs, keptOrigin = append(keptRecs, recs[i]), append(keptOrigin, origin[i])
				}
			}
			recs, origin = keptRecs, keptOrigin
			continue
		}
		var re *store.RecordError
		if errors.As(err, &re) && errors.Is(err, store.ErrInvalidRecord) && re.Index >= 0 && re.Index < len(recs) {
			if derr := c.deadLetter(ctx, origin[re.Index], err); derr != nil {
				return derr
			}
			recs = append(recs[:re.Index:re.Index], recs[re.Index+1:]...)
			origin = append(origin[:re.Index:re.Index], origin[re.Index+1:]...)
			continue
		}
		c.metrics.events.WithLabelValues("consumer", "failed").Add(float64(len(recs)))
		c.log.Warn("store write failed; retrying", "records", len(recs), "backoff", backoff, "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("store %d records: %w", len(recs), err)
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 10*time.Second)
	}
	return nil
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
// reason, in the form package dlq reads.
func (c *Consumer) deadLetter(ctx context.Context, rec *kgo.Record, reason error) error {
	dl := &kgo.Record{
		Topic: c.cfg.Kafka.DLQTopic, Key: rec.Key, Value: rec.Value, Headers: dlq.Headers(rec, reason),
	}
	if err := c.client.ProduceSync(ctx, dl).FirstErr(); err != nil {
		return fmt.Errorf("dead-letter %s/%d/%d: %w", rec.Topic, rec.Partition, rec.Offset, err)
	}
	c.metrics.events.WithLabelValues("consumer", "dead_lettered").Inc()
	c.log.Warn("poison record dead-lettered", "topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset, "reason", reason)
	return nil
}

// Close releases the client, listeners and store.
func (c *Consumer) Close() error { return c.close() }
