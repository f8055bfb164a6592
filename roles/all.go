package roles

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"logsys/ca"
	"logsys/internal/cfgerr"
	"logsys/pki"
	"logsys/store"
	"logsys/tlsx"
)

// All is the running pipeline.
type All struct {
	cfg      AllConfig
	log      *slog.Logger
	broker   *Broker
	ca       *ca.Server
	caReg    *prometheus.Registry // the CA's logsys_ca_* metrics
	caURL    string
	caStop   context.CancelFunc
	caDone   chan struct{}
	store    store.Store
	producer *Producer
	consumer *Consumer
	gateway  *Gateway
}

// NewAll creates the PKI when absent, starts the embedded broker, opens
// the store and builds the three roles pointed at one another. On error
// everything it started is released again.
func NewAll(ctx context.Context, cfg AllConfig) (*All, error) {
	if err := errors.Join(cfgerr.Under("all", cfg.Validate()), cfg.Conflicts()); err != nil {
		return nil, fmt.Errorf("all config: %w", err)
	}
	cfg = cfg.resolve()
	a := &All{cfg: cfg, log: logger(cfg.Logger, "all")}
	if err := a.start(ctx, cfg); err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

// start brings the parts up in dependency order; Close undoes any prefix.
func (a *All) start(ctx context.Context, cfg AllConfig) error {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("all: create data dir: %w", err)
	}
	if err := ensurePKI(ctx, cfg.Gateway.Identity.PKIDir, cfg.Gateway.Identity.TrustDomain, a.log); err != nil {
		return err
	}
	if cfg.UseCA {
		if err := a.startCA(cfg); err != nil {
			return err
		}
		for _, id := range []*tlsx.Identity{&cfg.Gateway.Identity, &cfg.Producer.Identity, &cfg.Consumer.Identity, &cfg.Broker.Identity} {
			if err := a.enroll(cfg, id); err != nil {
				return err
			}
		}
	}
	var err error
	if a.broker, err = NewBroker(ctx, cfg.Broker); err != nil {
		return err
	}
	brokers := a.broker.Addrs()
	cfg.Producer.Kafka.Brokers, cfg.Consumer.Kafka.Brokers = brokers, brokers
	if a.store, err = store.Open(ctx, cfg.Gateway.Store); err != nil {
		return fmt.Errorf("all: open store: %w", err)
	}
	cfg.Gateway.SharedStore, cfg.Consumer.SharedStore = a.store, a.store
	if a.producer, err = NewProducer(ctx, cfg.Producer); err != nil {
		return err
	}
	cfg.Gateway.Producer.URL = "https://" + loopbackURLHost(a.producer.Addr())
	if a.consumer, err = NewConsumer(ctx, cfg.Consumer); err != nil {
		return err
	}
	// The broker's authorization refusals are served with the consumer's metrics.
	if err := a.consumer.metrics.reg.Register(a.broker.Collector()); err != nil {
		return fmt.Errorf("all: broker metrics: %w", err)
	}
	// Accepted events wait in the broker while the consumer's store fails.
	cfg.Gateway.Downstream = func() []string {
		var rs []string
		for _, r := range a.consumer.StoreReasons() {
			rs = append(rs, "consumer: "+r)
		}
		return rs
	}
	if a.gateway, err = NewGateway(ctx, cfg.Gateway); err != nil {
		return err
	}
	if a.caReg != nil { // the CA's logsys_ca_* metrics are served with the gateway's
		a.gateway.metrics.also = append(a.gateway.metrics.also, a.caReg)
	}
	a.cfg = cfg
	return nil
}

// loopbackURLHost turns a bound address such as [::]:8081 into 127.0.0.1:8081.
func loopbackURLHost(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// GatewayAddr returns the gateway's bound address.
func (a *All) GatewayAddr() string { return a.gateway.Addr() }

// Run runs every role until ctx is done, then stops them in pipeline
// order so that nothing accepted is lost: the gateway drains into the
// producer, the producer flushes into the broker, the consumer finishes its
// batch, and the broker writes its data to disk last.
func (a *All) Run(ctx context.Context) error {
	a.printSummary()
	gwCtx, gwStop := context.WithCancel(context.Background())
	prCtx, prStop := context.WithCancel(context.Background())
	coCtx, coStop := context.WithCancel(context.Background())
	brCtx, brStop := context.WithCancel(context.Background())
	defer func() { gwStop(); prStop(); coStop(); brStop() }()
	go a.broker.tls.run(brCtx)
	if a.ca == nil {
		go keepCRLsFresh(brCtx, a.cfg.Gateway.Identity.PKIDir, a.cfg.Gateway.Identity.Env, a.log)
	}
	errs := make([]error, 3)
	dones := make([]chan struct{}, 3)
	for i, r := range []struct {
		run func(context.Context) error
		ctx context.Context
	}{{a.consumer.Run, coCtx}, {a.producer.Run, prCtx}, {a.gateway.Run, gwCtx}} {
		dones[i] = make(chan struct{})
		go func() { defer close(dones[i]); errs[i] = r.run(r.ctx) }()
	}
	select {
	case <-ctx.Done():
	case <-dones[0]:
	case <-dones[1]:
	case <-dones[2]:
	}
	a.log.Info("shutting down in pipeline order: gateway, producer, consumer, broker")
	gwStop()
	<-dones[2]
	prStop()
	<-dones[1]
	coStop()
	<-dones[0]
	brStop()
	return errors.Join(errs...)
}

// Close releases everything; safe after a failed NewAll.
func (a *All) Close() error {
	var errs []error
	if a.gateway != nil {
		errs = append(errs, a.gateway.Close())
	}
	if a.consumer != nil {
		errs = append(errs, a.consumer.Close())
	}
	if a.producer != nil {
		errs = append(errs, a.producer.Close())
	}
	if a.broker != nil {
		errs = append(errs, a.broker.Close())
	}
	if a.store != nil {
		errs = append(errs, a.store.Close())
	}
	if a.caStop != nil {
		a.caStop()
		<-a.caDone
	}
	return errors.Join(errs...)
}

// startCA serves the environment's online CA on loopback.
func (a *All) startCA(cfg AllConfig) error {
	id := cfg.Gateway.Identity
	cc := ca.DefaultConfig()
	cc.Dir, cc.Env, cc.Addr, cc.LeafTTL, cc.Logger = id.PKIDir, id.Env, cfg.CAAddr, cfg.LeafTTL, logger(cfg.Logger, "ca")
	cc.Hosts = []string{"localhost", "127.0.0.1"}
	cc.PublishDelay = cfg.CAPublishDelay
	a.caReg = prometheus.NewRegistry()
	cc.Registerer = a.caReg
	srv, err := ca.New(cc)
	if err != nil {
		return fmt.Errorf("all: ca: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.CAAddr)
	if err != nil {
		return fmt.Errorf("all: ca: listen on %s (all.ca_addr): %w", cfg.CAAddr, err)
	}
	ctx, stop := context.WithCancel(context.Background())
	a.ca, a.caURL, a.caStop, a.caDone = srv, "https://"+loopbackURLHost(ln.Addr().String()), stop, make(chan struct{})
	go func() {
		defer close(a.caDone)
		if err := srv.Serve(ctx, ln); err != nil {
			a.log.Error("ca stopped", "err", err)
		}
	}()
	return nil
}

// enroll points a role at the CA with a fresh single-use token; the role
// keeps its key and certificate under DataDir/identities/<name>.
func (a *All) enroll(cfg AllConfig, id *tlsx.Identity) error {
	tok, _, err := ca.NewToken(ca.TokenOptions{Dir: id.PKIDir, Env: id.Env, Name: id.Name, TTL: 15 * time.Minute})
	if err != nil {
		return fmt.Errorf("all: token for %s: %w", id.Name, err)
	}
	id.CAURL, id.CAToken = a.caURL, tok
	id.CABundle = pki.Layout{Dir: id.PKIDir}.ChainFile(id.Env)
	id.StateDir = filepath.Join(cfg.DataDir, "identities", id.Name)
	return nil
}

func (a *All) printSummary() {
	out := a.cfg.Out
	if out == nil {
		return
	}
	pkiDir := a.cfg.Gateway.Identity.PKIDir
	env := a.cfg.Gateway.Identity.Env
	abs := func(p string) string {
		if q, err := filepath.Abs(p); err == nil {
			return q
		}
		return p
	}
	gw := loopbackURLHost(a.gateway.Addr())
	certs := "files from " + abs(pkiDir) + " (logsys pki)"
	if a.ca != nil {
		certs = fmt.Sprintf("online CA %s: %s leaves, renewed at 2/3 of their life, keys under %s", a.caURL, a.cfg.LeafTTL, abs(filepath.Join(a.cfg.DataDir, "identities")))
	}
	storeWhere := a.cfg.Gateway.Store.DataDir + " (embedded)"
	if a.cfg.StoreDSN != "" {
		storeWhere = "PostgreSQL (DSN from config)"
	}
	l := pki.Layout{Dir: abs(pkiDir)}
	chain, cert, key := l.ChainFile(env), l.CertFile(env, "client"), l.KeyFile(env, "client")
	fmt.Fprintf(out, `logsys all is running (environment %s)
  gateway   https://%s   (clients: %v)
  producer  https://%s   (accepts only: %v)
  consumer  https://%s   (health, metrics)
  broker    %v   (embedded, mTLS, data in %s)
  store     %s
  pki       %s
  certs     %s

Send an event:
  curl --cacert %s --cert %s --key %s \
    -H 'Content-Type: application/json' \
    -d '{"level":"INFO","message":"hello","source":"demo"}' https://%s/api/v1/logs

Read recent events:
  curl --cacert %s --cert %s --key %s https://%s/api/v1/logs

`, env, gw, a.cfg.Gateway.Clients, loopbackURLHost(a.producer.Addr()), a.cfg.Producer.Callers,
		loopbackURLHost(a.consumer.Addr()), a.broker.Addrs(), abs(a.cfg.Broker.DataDir), storeWhere, abs(pkiDir), certs,
		chain, cert, key, gw,
		chain, cert, key, gw)
}
