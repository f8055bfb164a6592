package it

import (
	"context"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"logsys/roles"
	"logsys/store"
	"logsys/tlsx"
)

// EnvPG is the PostgreSQL DSN printed by .ci/postgres.sh start.
const EnvPG = "LOGSYS_TEST_PG_DSN"

// pipe runs gateway, producer and consumers of logsys in this process
// against the real Kafka cluster and the real PostgreSQL, each role
// separately so that tests can stop and start them.
type pipe struct {
	t     *testing.T
	c     Cluster
	store store.Store

	gateway  *roles.Gateway
	producer *roles.Producer

	mu        sync.Mutex
	consumers map[string]*roles.Consumer
	stops     map[string]func(crashed bool)
}

// pipeOptions adjusts a pipe.
type pipeOptions struct {
	// storeDSN replaces LOGSYS_TEST_PG_DSN (e.g. with another identity).
	storeDSN string
	// forwardTimeout of the gateway->producer hop (default: the role's).
	forwardTimeout time.Duration
}

// pgDSN returns the PostgreSQL DSN, skipping the test when there is none,
// or failing it when CI is set.
func pgDSN(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv(EnvPG)
	if dsn == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set but %s is not: .ci/run must start PostgreSQL (eval \"$(.ci/postgres.sh start PKI_DIR)\")", EnvPG)
		}
		t.Skipf("no PostgreSQL: set %s (eval \"$(.ci/postgres.sh start PKI_DIR)\")", EnvPG)
	}
	return dsn
}

// roleLogger discards the roles' logs unless LOGSYS_TEST_LOG is set.
func roleLogger(name string) *slog.Logger {
	if os.Getenv("LOGSYS_TEST_LOG") != "" {
		return slog.Default().With("role", name)
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// identity is name's identity in the cluster's PKI, reloading quickly.
func identity(c Cluster, name string) tlsx.Identity {
	id := tlsx.DefaultIdentity(name)
	id.PKIDir, id.Env, id.TrustDomain = c.PKI, c.Env, TrustDomain
	id.ReloadInterval = 200 * time.Millisecond
	return id
}

func kafkaConfig(c Cluster) roles.KafkaConfig {
	k := roles.DefaultKafkaConfig()
	k.Brokers, k.BrokerName, k.Topic, k.DLQTopic = c.Brokers, Broker, TopicEvents, TopicDLQ
	return k
}

// startPipe starts producer, gateway and one consumer ("c1").
func startPipe(t *testing.T, c Cluster, o pipeOptions) *pipe {
	t.Helper()
	dsn := o.storeDSN
	if dsn == "" {
		dsn = pgDSN(t)
	}
	p := &pipe{t: t, c: c, consumers: map[string]*roles.Consumer{}, stops: map[string]func(bool){}}
	ctx := timeout(t, time.Minute)
	var err error
	if p.store, err = store.Open(ctx, store.Config{DSN: dsn}); err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { p.store.Close() })

	pc := roles.DefaultProducerConfig()
	pc.Identity, pc.Addr, pc.LivenessAddr, pc.Logger = identity(c, "producer"), "127.0.0.1:0", "127.0.0.1:0", roleLogger("producer")
	pc.Kafka = kafkaConfig(c)
	if p.producer, err = roles.NewProducer(ctx, pc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.stop("producer"); p.producer.Close() })
	p.run("producer", p.producer.Run)

	gc := roles.DefaultGatewayConfig()
	gc.Identity, gc.Addr, gc.LivenessAddr, gc.Logger = identity(c, "gateway"), "127.0.0.1:0", "127.0.0.1:0", roleLogger("gateway")
	gc.Producer.URL = "https://" + p.producer.Addr() + "/internal/v1/events"
	if o.forwardTimeout > 0 {
		gc.Producer.Timeout = o.forwardTimeout
	}
	gc.SharedStore = p.store
	if p.gateway, err = roles.NewGateway(ctx, gc); err != nil {
		t.Fatal(err)
	}
	// Registered last, so stopped first: the gateway drains into the producer.
	t.Cleanup(func() { p.stop("gateway"); p.gateway.Close() })
	p.run("gateway", p.gateway.Run)

	p.startConsumer("c1")
	return p
}

// run starts a role; p.stop(name) cancels it and waits for Run to return.
func (p *pipe) run(name string, run func(context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stops[name] = func(crashed bool) {
		cancel()
		select {
		case err := <-done:
			if err != nil && !crashed {
				p.t.Errorf("%s stopped with: %v", name, err)
			}
		case <-time.After(45 * time.Second):
			p.t.Errorf("%s did not stop within 45s", name)
		}
	}
}

func (p *pipe) stop(name string) { p.end(name, false) }

// end stops name; after a simulated crash its Run's error is expected.
func (p *pipe) end(name string, crashed bool) {
	p.mu.Lock()
	stop, ok := p.stops[name]
	delete(p.stops, name)
	p.mu.Unlock()
	if ok {
		stop(crashed)
	}
}

// startConsumer starts a consumer in the pipeline's group under a test
// name (each has its own listener and metrics).
func (p *pipe) startConsumer(name string) *roles.Consumer {
	p.t.Helper()
	cc := roles.DefaultConsumerConfig()
	cc.Identity, cc.Addr, cc.LivenessAddr, cc.Logger = identity(p.c, "consumer"), "127.0.0.1:0", "127.0.0.1:0", roleLogger("consumer "+name)
	cc.Kafka, cc.Group = kafkaConfig(p.c), Group
	cc.SharedStore = p.store
	cons, err := roles.NewConsumer(context.Background(), cc)
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	p.consumers[name] = cons
	p.mu.Unlock()
	p.t.Cleanup(func() { p.stopConsumer(name) })
	p.run("consumer "+name, cons.Run)
	return cons
}

// stopConsumer ends a consumer's Run (it stores and commits the batch in
// hand, then leaves the group) and releases it.
func (p *pipe) stopConsumer(name string) {
	p.stop("consumer " + name)
	p.mu.Lock()
	cons := p.consumers[name]
	delete(p.consumers, name)
	p.mu.Unlock()
	if cons != nil {
		cons.Close()
	}
}

// killConsumer closes a consumer's Kafka client under its running loop,
// as a crash would: the batch in hand is neither finished nor committed.
func (p *pipe) killConsumer(name string) {
	p.mu.Lock()
	cons := p.consumers[name]
	delete(p.consumers, name)
	p.mu.Unlock()
	if cons == nil {
		p.t.Fatalf("no consumer %s", name)
	}
	cons.Close()
	p.end("consumer "+name, true) // Run reports its closed listener
}

func (p *pipe) consumer(name string) *roles.Consumer {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.consumers[name]
}
