package roles

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"logsys/internal/cfgerr"
	"logsys/store"
	"logsys/tlsx"
)

// GatewayConfig configures the HTTPS entry point.
type GatewayConfig struct {
	Identity     tlsx.Identity `mapstructure:"tls"`
	Addr         string        `mapstructure:"addr"`
	LivenessAddr string        `mapstructure:"liveness_addr"`
	// Clients are the identity names (in the gateway's environment) that
	// may send and read events.
	Clients []string `mapstructure:"clients"`
	// Scrapers are the identity names that may read /metrics.
	Scrapers       []string      `mapstructure:"scrapers"`
	MaxBodyBytes   int64         `mapstructure:"max_body_bytes"`
	MaxBatchBytes  int64         `mapstructure:"max_batch_bytes"`
	MaxBatchEvents int           `mapstructure:"max_batch_events"`
	OTLP           OTLPConfig    `mapstructure:"otlp"`
	Producer       ForwardConfig `mapstructure:"producer"`
	Store          store.Config  `mapstructure:"store"`
	ShutdownGrace  time.Duration `mapstructure:"shutdown_grace"`

	// MaxInflightBytes and MaxInflightEvents bound what the gateway holds
	// until the producer answers; beyond them requests get 503 with
	// Retry-After (load shedding, roles/gateway_shed.go).
	MaxInflightBytes  int64 `mapstructure:"max_inflight_bytes"`
	MaxInflightEvents int   `mapstructure:"max_inflight_events"`

	// SharedStore, when set, is used instead of opening Store (logsys all).
	SharedStore store.Store  `mapstructure:"-"`
	Logger      *slog.Logger `mapstructure:"-"`
	// Clock stamps events that come without a timestamp and judges
	// certificate expiry in health answers; nil means time.Now.
	Clock func() time.Time `mapstructure:"-"`
	// Downstream, when set, says why the pipeline behind the gateway does
	// not drain (nil: it does); its reasons make readiness DOWN. logsys
	// all passes the consumer's store health.
	Downstream func() []string `mapstructure:"-"`
}

// ForwardConfig configures the gateway->producer hop.
type ForwardConfig struct {
	// URL is the producer's base URL (https://host:port); the gateway
	// appends EventsPath. The legacy form with EventsPath already in it is
	// accepted too; any other path is refused.
	URL      string `mapstructure:"url"`
	Name     string `mapstructure:"name"`
	HTTP2    bool   `mapstructure:"http2"`
	MaxBatch int    `mapstructure:"max_batch"`
	// MaxBatchBytes bounds the frames coalesced into one request; keep it
	// below the producer's max_body_bytes. A single request larger than it
	// is still sent, alone.
	MaxBatchBytes   int64         `mapstructure:"max_batch_bytes"`
	Workers         int           `mapstructure:"workers"`
	Timeout         time.Duration `mapstructure:"timeout"`
	Retries         int           `mapstructure:"retries"`
	Backoff         time.Duration `mapstructure:"backoff"`
	BreakerFailures int           `mapstructure:"breaker_failures"`
	BreakerCooldown time.Duration `mapstructure:"breaker_cooldown"`
}

// DefaultGatewayConfig returns the documented defaults.
func DefaultGatewayConfig() GatewayConfig {
	return GatewayConfig{
		Identity:       tlsx.DefaultIdentity("gateway"),
		Addr:           ":8080",
		LivenessAddr:   "127.0.0.1:9080",
		Clients:        []string{"client"},
		Scrapers:       []string{"prometheus"},
		MaxBodyBytes:   256 << 10,
		MaxBatchBytes:  8 << 20,
		MaxBatchEvents: 5000,
		OTLP:           DefaultOTLPConfig(),
		Producer: ForwardConfig{
			URL: "https://127.0.0.1:8081", Name: "producer",
			// HTTP/1.1 keep-alive by measurement: with Go's HTTP/2 the
			// single-event path ran at 0.4-0.6x (see docs/bench.md).
			HTTP2: false,
			// Two batches in flight, at most one of them partial: what
			// arrives meanwhile is the next batch, so batches grow with
			// the load and add no delay when idle (16 sent about one event
			// per batch; docs/bench.md; roles/forwarder.go).
			MaxBatch: 2000, MaxBatchBytes: 16 << 20, Workers: 2, Timeout: 10 * time.Second, Retries: 3,
			Backoff: 50 * time.Millisecond, BreakerFailures: 5, BreakerCooldown: 5 * time.Second,
		},
		Store:         store.Config{DataDir: ".logsys/store"},
		ShutdownGrace: 15 * time.Second,

		// Measured in docs/bench.md (Overload): under 256 connections of
		// 500-event batches 20,000 events keep the throughput of 50,000
		// at less than half the latency and a lower peak RSS; 10,000
		// lost throughput.
		MaxInflightBytes:  64 << 20,
		MaxInflightEvents: 20000,
	}
}

// Validate reports every unusable setting, each error naming its key.
func (c GatewayConfig) Validate() error {
	var errs []error
	if err := c.Identity.Validate(); err != nil {
		errs = append(errs, cfgerr.Under("tls", err))
	}
	if c.Addr == "" {
		errs = append(errs, errors.New("addr: is required"))
	}
	if len(c.Clients) == 0 {
		errs = append(errs, errors.New("clients: must name at least one identity"))
	}
	errs = append(errs, positive(
		limit{"max_body_bytes", c.MaxBodyBytes}, limit{"max_batch_bytes", c.MaxBatchBytes},
		limit{"max_batch_events", int64(c.MaxBatchEvents)})...)
	if c.MaxInflightBytes < max(c.MaxBodyBytes, c.MaxBatchBytes) {
		errs = append(errs, fmt.Errorf("max_inflight_bytes: %d is less than one request may be (max_body_bytes, max_batch_bytes)", c.MaxInflightBytes))
	}
	if c.MaxInflightEvents < c.MaxBatchEvents {
		errs = append(errs, fmt.Errorf("max_inflight_events: %d is less than one batch may hold (max_batch_events %d)", c.MaxInflightEvents, c.MaxBatchEvents))
	}
	if err := c.OTLP.Validate(); err != nil {
		errs = append(errs, cfgerr.Under("otlp", err))
	}
	if c.ShutdownGrace < 0 {
		errs = append(errs, errors.New("shutdown_grace: must not be negative"))
	}
	if err := c.Producer.Validate(); err != nil {
		errs = append(errs, cfgerr.Under("producer", err))
	}
	if c.SharedStore == nil {
		if err := c.Store.Validate(); err != nil {
			errs = append(errs, cfgerr.Under("store", err))
		}
	}
	return errors.Join(errs...)
}

// EventsPath is the producer's endpoint for batches from the gateway.
const EventsPath = "/internal/v1/events"

// EventsURL is the endpoint the gateway posts batches to: the base URL
// with EventsPath appended.
func (c ForwardConfig) EventsURL() (string, error) {
	u, err := url.Parse(c.URL)
	if err != nil {
		return "", errors.New("url: is not a URL; give the producer's https base URL, such as https://producer:8081")
	}
	if u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("url: %q must be the producer's https base URL, such as https://producer:8081", u.Redacted())
	}
	switch u.Path {
	case "", "/", EventsPath:
	default:
		return "", fmt.Errorf("url: %q has the path %q: give the producer's base URL (https://%s); the gateway appends %s", u.Redacted(), u.Path, u.Host, EventsPath)
	}
	u.Path = EventsPath
	return u.String(), nil
}

// Validate reports every unusable setting of the hop.
func (c ForwardConfig) Validate() error {
	var errs []error
	if _, err := c.EventsURL(); err != nil {
		errs = append(errs, err)
	}
	if c.Name == "" {
		errs = append(errs, errors.New("name: is required"))
	}
	errs = append(errs, positive(limit{"max_batch", int64(c.MaxBatch)}, limit{"max_batch_bytes", c.MaxBatchBytes}, limit{"workers", int64(c.Workers)},
		limit{"timeout", int64(c.Timeout)}, limit{"breaker_failures", int64(c.BreakerFailures)})...)
	errs = append(errs, notNegative(limit{"retries", int64(c.Retries)}, limit{"backoff", int64(c.Backoff)},
		limit{"breaker_cooldown", int64(c.BreakerCooldown)})...)
	return errors.Join(errs...)
}

// Gateway accepts log events over HTTPS from authenticated clients and
// forwards them to the producer.
type Gateway struct {
	*base
	cfg     GatewayConfig
	fwd     *forwarder
	adm     *admission
	store   store.Store
	handler http.Handler
	// accepted counts the events the gateway accepted.
	accepted func() prometheus.Counter
}

// NewGateway builds a gateway: loads its certificate, opens the store and
// binds its listeners.
func NewGateway(ctx context.Context, cfg GatewayConfig) (*Gateway, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("gateway config: %w", err)
	}
	b, err := newBase(ctx, "gateway", cfg.Identity, cfg.Logger, cfg.Clock)
	if err != nil {
		return nil, err
	}
	g := &Gateway{base: b, cfg: cfg, accepted: b.metrics.eventCount("gateway", "accepted")}
	if err := g.build(ctx); err != nil {
		g.Close()
		return nil, err
	}
	return g, nil
}

func (g *Gateway) build(ctx context.Context) error {
	cfg := g.cfg
	if g.store = cfg.SharedStore; g.store == nil {
		var err error
		if g.store, err = store.Open(ctx, cfg.Store); err != nil {
			return fmt.Errorf("gateway: open store: %w", err)
		}
		g.onClose(g.store.Close)
	}
	client, err := g.tls.httpClient("gateway->producer", cfg.Producer.HTTP2, cfg.Producer.Workers*2, cfg.Producer.Name)
	if err != nil {
		return err
	}
	eventsURL, _ := cfg.Producer.EventsURL() // validated above
	g.fwd = &forwarder{
		client: client, url: eventsURL, maxBatch: cfg.Producer.MaxBatch, maxBytes: cfg.Producer.MaxBatchBytes,
		retries: cfg.Producer.Retries, backoff: cfg.Producer.Backoff, timeout: cfg.Producer.Timeout,
		br:  newBreaker(cfg.Producer.BreakerFailures, cfg.Producer.BreakerCooldown, g.metrics.breaker.WithLabelValues("producer")),
		log: g.log, queue: make(chan *pending, 4096),
	}
	g.adm = newAdmission(cfg.MaxInflightBytes, cfg.MaxInflightEvents, g.metrics, "/api/v1/logs", "/api/v1/logs/batch", OTLPPath)
	allowed := append(slices.Clone(cfg.Clients), cfg.Scrapers...)
	mux := http.NewServeMux()
	mux.Handle("POST /api/v1/logs", g.route("/api/v1/logs", g.shedding("/api/v1/logs", cfg.MaxBodyBytes, g.postOne), cfg.Clients...))
	mux.Handle("POST /api/v1/logs/batch", g.route("/api/v1/logs/batch", g.shedding("/api/v1/logs/batch", cfg.MaxBatchBytes, g.postBatch), cfg.Clients...))
	mux.Handle("GET /api/v1/logs", g.route("/api/v1/logs", g.getLogs, cfg.Clients...))
	mux.Handle("POST "+OTLPPath, g.metrics.instrument("gateway", OTLPPath, g.otlpRoute(g.shedding(OTLPPath, cfg.MaxBatchBytes, g.postOTLP), cfg.Clients...)))
	hv := g.healthHandler("api-gateway", cfg.Identity.ExpiryThreshold, g.healthExtra)
	mux.Handle("GET /api/v1/health", g.metrics.instrument("gateway", "/api/v1/health", g.onlyNames(hv, allowed...)))
	mux.Handle("GET /readyz", g.onlyNames(hv, allowed...))
	mux.Handle("GET /metrics", g.onlyNames(g.metrics.handler(), cfg.Scrapers...))
	mux.Handle("/", g.handle(func(w http.ResponseWriter, r *http.Request) error {
		return &apiError{status: http.StatusNotFound, reason: "no such endpoint: " + r.Method + " " + r.URL.Path}
	}))
	g.handler = mux
	return g.listen(listener{addr: cfg.Addr, livenessAddr: cfg.LivenessAddr, allowed: allowed, grace: cfg.ShutdownGrace}, mux)
}

func (g *Gateway) healthExtra() []string {
	var reasons []string
	if g.fwd.br.current() == breakerOpen {
		reasons = append(reasons, "circuit breaker to the producer is open")
	}
	if g.cfg.Downstream != nil {
		reasons = append(reasons, g.cfg.Downstream()...)
	}
	return reasons
}

// Handler returns the gateway's HTTP handler, for measurements that serve
// it on other listeners (logsys bench compares it with and without TLS).
func (g *Gateway) Handler() http.Handler { return g.handler }

// Addr returns the bound HTTPS address.
func (g *Gateway) Addr() string { return g.addr() }

// Run serves until ctx is done, then drains: the listener stops, in-flight
// requests finish and every queued event is forwarded before Run returns.
//
// The forwarder outlives ctx so that the drain can deliver; once the
// drain has taken ShutdownGrace its retries and backoffs stop, and what is
// left is answered 503 (not accepted, so not lost).
func (g *Gateway) Run(ctx context.Context) error {
	fctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	g.fwd.start(fctx, g.cfg.Producer.Workers)
	g.log.Info("gateway listening", "addr", g.Addr(), "producer", g.cfg.Producer.URL)
	err := g.serve(ctx)
	hard := time.AfterFunc(g.cfg.ShutdownGrace, stop)
	defer hard.Stop()
	g.fwd.close()
	return err
}

// Close releases what New acquired.
func (g *Gateway) Close() error { return g.close() }
