package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"time"

	"logsys/pki"
	"logsys/roles"
	"logsys/store"
	"logsys/tlsx"
)

// benchNames are the identities the bench PKI issues.
var benchNames = []string{"gateway", "producer", "kafka", "client"}

// makePKI creates a one-environment PKI whose keys are all of kind kt.
func makePKI(ctx context.Context, dir string, kt pki.KeyType) error {
	_, err := pki.Init(ctx, pki.InitOptions{Dir: dir, Envs: []string{"dev"}, Names: benchNames, KeyType: kt})
	if err != nil {
		return fmt.Errorf("bench pki (%s): %w", kt, err)
	}
	return nil
}

// pipeline is broker, producer and gateways started from roles on
// loopback, every hop over mutual TLS. The consumer is not started: ingest
// is measured up to the broker's acknowledgement.
type pipeline struct {
	pkiDir   string
	broker   *roles.Broker
	store    store.Store
	producer *roles.Producer
	gateways []*roles.Gateway
	stops    []func()
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func identity(pkiDir, name, kx string) tlsx.Identity {
	id := tlsx.DefaultIdentity(name)
	id.PKIDir = pkiDir
	id.KeyExchange = kx
	return id
}

// startPipeline starts one gateway per entry of gwHTTP2 (its producer hop
// over HTTP/2 when true), all sharing one producer and broker: the
// embedded one, or the real brokers given.
func startPipeline(ctx context.Context, dataDir, pkiDir, kx string, gwHTTP2 []bool, brokers []string) (p *pipeline, err error) {
	p = &pipeline{pkiDir: pkiDir}
	defer func() {
		if err != nil {
			p.close()
		}
	}()
	if len(brokers) == 0 {
		bc := roles.DefaultBrokerConfig()
		bc.Identity, bc.Port, bc.DataDir, bc.Logger = identity(pkiDir, "kafka", kx), 0, filepath.Join(dataDir, "kafka"), quiet()
		if p.broker, err = roles.NewBroker(ctx, bc); err != nil {
			return nil, err
		}
		brokers = p.broker.Addrs()
	}
	if p.store, err = store.Open(ctx, store.Config{DataDir: filepath.Join(dataDir, "store")}); err != nil {
		return nil, fmt.Errorf("bench store: %w", err)
	}
	pc := roles.DefaultProducerConfig()
	pc.Identity, pc.Addr, pc.LivenessAddr, pc.Logger = identity(pkiDir, "producer", kx), "127.0.0.1:0", "", quiet()
	pc.Kafka.Brokers = brokers
	if p.producer, err = roles.NewProducer(ctx, pc); err != nil {
		return nil, err
	}
	p.run(p.producer.Run)
	for _, h2 := range gwHTTP2 {
		gc := roles.DefaultGatewayConfig()
		gc.Identity, gc.Addr, gc.LivenessAddr, gc.Logger = identity(pkiDir, "gateway", kx), "127.0.0.1:0", "", quiet()
		gc.Producer.URL = "https://" + p.producer.Addr() + "/internal/v1/events"
		gc.Producer.HTTP2 = h2
		gc.SharedStore = p.store
		g, err := roles.NewGateway(ctx, gc)
		if err != nil {
			return nil, err
		}
		p.gateways = append(p.gateways, g)
		p.run(g.Run)
	}
	return p, nil
}

// run starts a role; close cancels it and waits for it to drain.
func (p *pipeline) run(run func(context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = run(ctx) }()
	p.stops = append(p.stops, func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
		}
	})
}

// close stops gateways first, then the producer, then the broker.
func (p *pipeline) close() error {
	for i := len(p.stops) - 1; i >= 0; i-- {
		p.stops[i]()
	}
	var errs []error
	for _, g := range p.gateways {
		errs = append(errs, g.Close())
	}
	if p.producer != nil {
		errs = append(errs, p.producer.Close())
	}
	if p.broker != nil {
		errs = append(errs, p.broker.Close())
	}
	if p.store != nil {
		errs = append(errs, p.store.Close())
	}
	return errors.Join(errs...)
}

// clientFiles are the bench client's certificate, key and trust chain.
func clientFiles(pkiDir string) (cert, key, ca string) {
	d := filepath.Join(pkiDir, "dev")
	return filepath.Join(d, "client", "cert.pem"), filepath.Join(d, "client", "key.pem"), filepath.Join(d, "ca-chain.pem")
}
