package roles

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"

	"logsys/event"
	"logsys/internal/cfgerr"
	"logsys/kafkaacl"
	"logsys/tlsx"
)

// KafkaConfig is how a role reaches the brokers.
type KafkaConfig struct {
	Brokers []string `mapstructure:"brokers"`
	// BrokerName is the identity name the brokers must present.
	BrokerName string `mapstructure:"broker_name"`
	Topic      string `mapstructure:"topic"`
	DLQTopic   string `mapstructure:"dlq_topic"`
}

// Validate reports every unusable setting, each error naming its key.
func (k KafkaConfig) Validate() error {
	var errs []error
	if len(k.Brokers) == 0 {
		errs = append(errs, errors.New("brokers: is required"))
	}
	for _, b := range k.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			errs = append(errs, fmt.Errorf("brokers: %q is not host:port", b))
		}
	}
	if k.Topic == "" {
		errs = append(errs, errors.New("topic: is required"))
	}
	if k.BrokerName == "" {
		errs = append(errs, errors.New("broker_name: is required"))
	}
	return errors.Join(errs...)
}

// DefaultKafkaConfig returns the defaults shared by producer and consumer.
func DefaultKafkaConfig() KafkaConfig {
	return KafkaConfig{Brokers: []string{"127.0.0.1:9093"}, BrokerName: "kafka", Topic: kafkaacl.TopicEvents, DLQTopic: kafkaacl.TopicDLQ}
}

// ProducerConfig configures the role that writes events to Kafka.
type ProducerConfig struct {
	Identity     tlsx.Identity `mapstructure:"tls"`
	Addr         string        `mapstructure:"addr"`
	LivenessAddr string        `mapstructure:"liveness_addr"`
	Callers      []string      `mapstructure:"callers"`
	Scrapers     []string      `mapstructure:"scrapers"`
	Kafka        KafkaConfig   `mapstructure:"kafka"`
	Compression  string        `mapstructure:"compression"`
	Linger       time.Duration `mapstructure:"linger"`
	MaxBodyBytes int64         `mapstructure:"max_body_bytes"`
	// Pack writes the events of one gateway request that share a source
	// as one Kafka record (package pack); false writes a record per event.
	Pack bool `mapstructure:"pack"`
	// MaxPackBytes bounds the value of one pack; a larger group is split.
	MaxPackBytes int64 `mapstructure:"max_pack_bytes"`
	// HTTP1 disables HTTP/2 on the listener (for measurements).
	HTTP1         bool          `mapstructure:"http1"`
	ShutdownGrace time.Duration `mapstructure:"shutdown_grace"`
	Logger        *slog.Logger  `mapstructure:"-"`
	// Clock judges certificate expiry in health answers; nil means
	// time.Now.
	Clock func() time.Time `mapstructure:"-"`
}

// DefaultProducerConfig returns the documented defaults.
func DefaultProducerConfig() ProducerConfig {
	return ProducerConfig{
		Identity: tlsx.DefaultIdentity("producer"), Addr: ":8081", LivenessAddr: "127.0.0.1:9081",
		Callers: []string{"gateway"}, Scrapers: []string{"prometheus"}, Kafka: DefaultKafkaConfig(),
		Compression: "lz4", MaxBodyBytes: 64 << 20, Pack: true, MaxPackBytes: DefaultMaxPackBytes,
		ShutdownGrace: 15 * time.Second,
	}
}

// Validate reports every unusable setting, each error naming its key.
func (c ProducerConfig) Validate() error {
	var errs []error
	if err := c.Identity.Validate(); err != nil {
		errs = append(errs, cfgerr.Under("tls", err))
	}
	if c.Addr == "" {
		errs = append(errs, errors.New("addr: is required"))
	}
	if len(c.Callers) == 0 {
		errs = append(errs, errors.New("callers: must name at least one identity"))
	}
	if err := c.Kafka.Validate(); err != nil {
		errs = append(errs, cfgerr.Under("kafka", err))
	}
	if _, err := compression(c.Compression); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, notNegative(limit{"linger", int64(c.Linger)}, limit{"shutdown_grace", int64(c.ShutdownGrace)})...)
	errs = append(errs, positive(limit{"max_body_bytes", c.MaxBodyBytes}, limit{"max_pack_bytes", c.MaxPackBytes})...)
	if c.MaxPackBytes > maxPackBytesLimit {
		errs = append(errs, fmt.Errorf("max_pack_bytes: %d is above %d (a pack must fit in one Kafka batch of franz-go's default 1,000,012 bytes)", c.MaxPackBytes, maxPackBytesLimit))
	}
	return errors.Join(errs...)
}

func compression(name string) (kgo.CompressionCodec, error) {
	switch strings.ToLower(name) {
	case "zstd":
		return kgo.ZstdCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "none", "":
		return kgo.NoCompression(), nil
	}
	return kgo.NoCompression(), fmt.Errorf("compression: %q must be zstd, lz4, snappy or none", name)
}

// Producer accepts batches from the gateway and answers only after Kafka
// acknowledged every record (acks=all, idempotent).
type Producer struct {
	*base
	cfg    ProducerConfig
	client *kgo.Client
	// accepted counts the events Kafka acknowledged.
	accepted func() prometheus.Counter
}

// NewProducer builds the producer and its Kafka client. ctx bounds the
// start (obtaining a certificate from the CA).
func NewProducer(ctx context.Context, cfg ProducerConfig) (*Producer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("producer config: %w", err)
	}
	b, err := newBase(ctx, "producer", cfg.Identity, cfg.Logger, cfg.Clock)
	if err != nil {
		return nil, err
	}
	p := &Producer{base: b, cfg: cfg, accepted: b.metrics.eventCount("producer", "accepted")}
	if err := p.build(); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

func (p *Producer) build() error {
	cfg := p.cfg
	dial, err := p.tls.dialer("producer->kafka", cfg.Kafka.BrokerName)
	if err != nil {
		return err
	}
	codec, _ := compression(cfg.Compression)
	kp := kprom.NewMetrics("logsys_kafka", kprom.Registerer(p.metrics.reg), kprom.Gatherer(p.metrics.reg))
	opts := []kgo.Opt{
		kgo.SeedBrokers(cfg.Kafka.Brokers...),
		kgo.Dialer(dial),
		kgo.DefaultProduceTopic(cfg.Kafka.Topic),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchCompression(codec, kgo.Lz4Compression(), kgo.NoCompression()),
		kgo.ProducerLinger(cfg.Linger),
		kgo.WithHooks(kp),
		kgo.WithLogger(kgoLogger{p.log}),
	}
	if p.client, err = kgo.NewClient(opts...); err != nil {
		return fmt.Errorf("producer: kafka client: %w", err)
	}
	p.onClose(func() error { p.client.Close(); return nil })
	allowed := append(slices.Clone(cfg.Callers), cfg.Scrapers...)
	mux := http.NewServeMux()
	mux.Handle("POST "+EventsPath, p.route(EventsPath, p.postEvents, cfg.Callers...))
	mux.Handle("GET /readyz", p.onlyNames(p.healthHandler("producer", cfg.Identity.ExpiryThreshold, nil), allowed...))
	mux.Handle("GET /metrics", p.onlyNames(p.metrics.handler(), cfg.Scrapers...))
	return p.listen(listener{addr: cfg.Addr, livenessAddr: cfg.LivenessAddr, allowed: allowed, grace: cfg.ShutdownGrace, http1: cfg.HTTP1}, mux)
}

// Addr returns the bound HTTPS address.
func (p *Producer) Addr() string { return p.addr() }

// postEvents handles one batch from the gateway: frames (FramesType), the
// gateway's form, or a JSON array of events.
func (p *Producer) postEvents(w http.ResponseWriter, r *http.Request) error {
	buf, ct, err := readBody(w, r, p.cfg.MaxBodyBytes, "application/json", FramesType)
	if err != nil {
		return err
	}
	// The records point into body until Kafka has them: produce waits for
	// every record's outcome, after which the client holds none of them.
	defer putBody(buf)
	body := *buf
	var recs []*kgo.Record
	var events int
	if ct == FramesType {
		recs, events, err = framedRecords(body, p.maxPack())
	} else {
		recs, err = jsonRecords(body)
		events = len(recs)
	}
	if err != nil {
		return err
	}
	if err := p.produce(r.Context(), recs); err != nil {
		p.metrics.events.WithLabelValues("producer", "failed").Add(float64(events))
		return unavailable("kafka did not acknowledge the events", err)
	}
	p.accepted().Add(float64(events))
	writeAcceptedCount(w, events)
	return nil
}

// maxPack is the bound of a pack's value, or 0 when packing is off.
func (p *Producer) maxPack() int {
	if !p.cfg.Pack {
		return 0
	}
	return int(p.cfg.MaxPackBytes)
}

// framedRecords turns a frames body into records without decoding the
// events: the gateway (the only caller allowed) validated them. With
// maxPack > 0 the events of one key are packed (packedRecords), else each
// is a record. It also returns the number of events.
func framedRecords(body []byte, maxPack int) ([]*kgo.Record, int, error) {
	frames, err := splitFrames(make([]frame, 0, 64), body)
	if err != nil {
		return nil, 0, fieldError("body", err.Error())
	}
	if maxPack > 0 {
		return packedRecords(frames, maxPack), len(frames), nil
	}
	recs := make([]*kgo.Record, len(frames))
	store := make([]kgo.Record, len(frames)) // one allocation for all
	for i, f := range frames {
		store[i] = kgo.Record{Key: f.key, Value: f.value}
		recs[i] = &store[i]
	}
	return recs, len(frames), nil
}

// jsonRecords turns a JSON array of events into records, validating each
// event by the gateway's rules; the bytes go to Kafka as received.
func jsonRecords(body []byte) ([]*kgo.Record, error) {
	var raws []json.RawMessage
	if err := json.Unmarshal(body, &raws); err != nil {
		return nil, fieldError("body", "must be a JSON array of events")
	}
	recs := make([]*kgo.Record, len(raws))
	for i, raw := range raws {
		ev, err := event.DecodeForwarded(raw)
		if errors.Is(err, event.ErrNotJSON) {
			return nil, fieldError(fmt.Sprintf("events[%d]", i), "is not a JSON event")
		}
		if err != nil {
			return nil, fieldError(fmt.Sprintf("events[%d]", i), err.Error())
		}
		recs[i] = &kgo.Record{Key: []byte(ev.ID), Value: raw}
	}
	return recs, nil
}

// produce writes recs and waits until Kafka acknowledged all of them.
func (p *Producer) produce(ctx context.Context, recs []*kgo.Record) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	wg.Add(len(recs))
	for _, rec := range recs {
		p.client.Produce(ctx, rec, func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
			wg.Done()
		})
	}
	wg.Wait()
	if first != nil {
		return fmt.Errorf("produce to %s: %w", p.cfg.Kafka.Topic, first)
	}
	return nil
}

// Run serves until ctx is done, then drains in-flight batches and flushes.
func (p *Producer) Run(ctx context.Context) error {
	p.log.Info("producer listening", "addr", p.Addr(), "brokers", p.cfg.Kafka.Brokers)
	err := p.serve(ctx)
	fctx, cancel := context.WithTimeout(context.Background(), p.cfg.ShutdownGrace)
	defer cancel()
	if ferr := p.client.Flush(fctx); ferr != nil {
		err = errors.Join(err, fmt.Errorf("flush producer: %w", ferr))
	}
	return err
}

// Close releases the Kafka client and listeners.
func (p *Producer) Close() error { return p.close() }

// kgoLogger routes franz-go's logs to slog at warn and above.
type kgoLogger struct{ l *slog.Logger }

func (k kgoLogger) Level() kgo.LogLevel { return kgo.LogLevelWarn }
func (k kgoLogger) Log(level kgo.LogLevel, msg string, kv ...any) {
	switch level {
	case kgo.LogLevelError:
		k.l.Error(msg, kv...)
	default:
		k.l.Warn(msg, kv...)
	}
}
