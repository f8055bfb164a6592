package roles

import (
	"context"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"logsys/store"
	"logsys/tlsx"
)

// pipeline runs broker, store, producer, consumer and gateway on loopback
// with real mutual TLS, each role separately so tests can restart one.
type pipeline struct {
	t        *testing.T
	pkiDir   string
	dataDir  string
	broker   *Broker
	store    store.Store
	producer *Producer
	consumer *Consumer
	gateway  *Gateway
	stops    map[string]func()
	clock    func() time.Time
	// live is the running consumer, whose store health the gateway
	// reports as logsys all's does.
	live atomic.Pointer[Consumer]
}

func fastIdentity(pkiDir, name string) tlsx.Identity {
	id := tlsx.DefaultIdentity(name)
	id.PKIDir = pkiDir
	id.ReloadInterval = 100 * time.Millisecond
	return id
}

func startPipeline(t *testing.T) *pipeline {
	t.Helper()
	return startPipelineWith(t, store.Config{})
}

// startPipelineWith uses the given store (an empty DataDir means a fresh
// embedded store).
func startPipelineWith(t *testing.T, sc store.Config) *pipeline {
	t.Helper()
	return startPipelineOpts(t, pipelineOptions{store: sc})
}

// pipelineOptions vary the pipeline: its store, the clock of gateway,
// producer and consumer (nil: time.Now), and the producer's
// configuration (producer, if not nil, edits it).
type pipelineOptions struct {
	store    store.Config
	clock    func() time.Time
	producer func(*ProducerConfig)
}

func startPipelineOpts(t *testing.T, o pipelineOptions) *pipeline {
	t.Helper()
	sc := o.store
	p := &pipeline{t: t, pkiDir: testPKI(t), dataDir: t.TempDir(), stops: map[string]func(){}, clock: o.clock}
	var err error
	bc := DefaultBrokerConfig()
	bc.Identity, bc.Port, bc.DataDir, bc.Partitions, bc.Logger = fastIdentity(p.pkiDir, "kafka"), 0, filepath.Join(p.dataDir, "kafka"), 3, quietLogger()
	if p.broker, err = NewBroker(context.Background(), bc); err != nil {
		t.Fatal(err)
	}
	bctx, bstop := context.WithCancel(context.Background())
	go p.broker.tls.run(bctx)
	if sc.DSN == "" && sc.DataDir == "" {
		sc.DataDir = filepath.Join(p.dataDir, "store")
	}
	if p.store, err = store.Open(context.Background(), sc); err != nil {
		t.Fatal(err)
	}
	pc := DefaultProducerConfig()
	pc.Identity, pc.Addr, pc.LivenessAddr, pc.Logger = fastIdentity(p.pkiDir, "producer"), "127.0.0.1:0", "127.0.0.1:0", quietLogger()
	pc.Kafka.Brokers, pc.Clock = p.broker.Addrs(), p.clock
	if o.producer != nil {
		o.producer(&pc)
	}
	if p.producer, err = NewProducer(context.Background(), pc); err != nil {
		t.Fatal(err)
	}
	p.run("producer", p.producer.Run)
	p.startConsumer()
	gc := DefaultGatewayConfig()
	gc.Identity, gc.Addr, gc.LivenessAddr, gc.Logger = fastIdentity(p.pkiDir, "gateway"), "127.0.0.1:0", "127.0.0.1:0", quietLogger()
	gc.Producer.URL = "https://" + p.producer.Addr() + "/internal/v1/events"
	gc.SharedStore, gc.Clock = p.store, p.clock
	gc.Downstream = func() []string {
		if c := p.live.Load(); c != nil {
			return c.StoreReasons()
		}
		return nil
	}
	if p.gateway, err = NewGateway(context.Background(), gc); err != nil {
		t.Fatal(err)
	}
	p.run("gateway", p.gateway.Run)
	t.Cleanup(func() {
		for _, name := range []string{"gateway", "producer", "consumer"} {
			if stop, ok := p.stops[name]; ok {
				stop()
			}
		}
		p.gateway.Close()
		p.producer.Close()
		if p.consumer != nil {
			p.consumer.Close()
		}
		bstop()
		p.broker.Close()
		p.store.Close()
	})
	return p
}

// run starts a role; its stop function cancels it and waits for Run.
func (p *pipeline) run(name string, run func(context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	p.stops[name] = func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				p.t.Errorf("%s stopped with: %v", name, err)
			}
		case <-time.After(30 * time.Second):
			p.t.Errorf("%s did not stop within 30s", name)
		}
		delete(p.stops, name)
	}
}

func (p *pipeline) startConsumer() { p.startConsumerWith(nil) }

func (p *pipeline) startConsumerWith(edit func(*ConsumerConfig)) {
	p.t.Helper()
	cc := DefaultConsumerConfig()
	cc.LagInterval = 100 * time.Millisecond
	if edit != nil {
		edit(&cc)
	}
	cc.Identity, cc.Addr, cc.LivenessAddr, cc.Logger = fastIdentity(p.pkiDir, "consumer"), "127.0.0.1:0", "127.0.0.1:0", quietLogger()
	cc.Kafka.Brokers = p.broker.Addrs()
	cc.SharedStore, cc.Clock = p.store, p.clock
	var err error
	if p.consumer, err = NewConsumer(context.Background(), cc); err != nil {
		p.t.Fatal(err)
	}
	p.live.Store(p.consumer)
	p.run("consumer", p.consumer.Run)
}

func (p *pipeline) stopConsumer() {
	p.stops["consumer"]()
	p.live.Store(nil)
	p.consumer.Close()
	p.consumer = nil
}

func (p *pipeline) url(path string) string { return "https://" + p.gateway.Addr() + path }

func (p *pipeline) client(env, name string) *http.Client {
	return httpClient(clientTLS(p.t, p.pkiDir, env, name))
}

// storedIDs returns how many times each id is stored.
func (p *pipeline) storedIDs() map[string]int {
	recs, err := p.store.Query(context.Background(), store.Filter{Limit: store.MaxLimit})
	if err != nil {
		p.t.Fatal(err)
	}
	seen := map[string]int{}
	for _, r := range recs {
		seen[r.ID]++
	}
	return seen
}
