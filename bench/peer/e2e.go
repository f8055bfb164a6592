//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"logsys/kafkaacl"
)

// The end-to-end phase (-pg): the logsys consumer moves what the gateway
// accepted from the real Kafka node into a real PostgreSQL, in two ways:
//
//   - "paced": the gateway is driven open loop at -e2e-rate events/s
//     (batches of 500) while the consumer runs: does it keep up?
//   - "drain": the gateway is driven closed loop for -e2e-fill with the
//     consumer stopped, then the consumer alone drains that backlog: how
//     fast can it store?
//
// The consumer starts at the end of the topic (the rounds' events and
// the collector's records are not its work): its group's offsets are
// committed at the end offsets first.

// e2eResult is one phase.
type e2eResult struct {
	Phase          string
	Accepted       int64   // events the gateway answered 202 for
	LoadSeconds    float64 // span of the load
	AcceptedPerSec float64
	// StoredPerSec: paced, events stored during the load over its span;
	// drain, events over the span from the first stored to the last.
	StoredPerSec float64
	// LagAtLoadEnd is accepted minus stored when the load ended (paced).
	LagAtLoadEnd int64
	// CatchUpSeconds: paced, from the end of the load until every
	// accepted event was stored; drain, from the consumer's start.
	CatchUpSeconds                         float64
	Rows                                   int64 // rows the phase added to log_events
	Lost                                   int64 // accepted events without a row
	ConsumerUsPerEvent, PostgresUsPerEvent float64
	Load1                                  string
}

const storedMetric = "stored"

var consumerMetrics = map[string][]string{
	storedMetric: {"logsys_events_total", `role="consumer"`, `result="stored"`},
}

// e2eCatchUpLimit bounds the wait for the consumer to store a phase's
// events.
const e2eCatchUpLimit = 3 * time.Minute

// endToEnd runs both phases against the logsys system.
func (b *harness) endToEnd(ctx context.Context) error {
	s := b.systems["logsys"]
	if s == nil {
		return fmt.Errorf("-pg needs the logsys system")
	}
	if err := b.commitAtEnd(ctx); err != nil {
		return err
	}
	cons, metrics, err := b.startConsumer(ctx)
	if err != nil {
		return err
	}
	batch := shape{"e2e", "batches of 500", 16, 500}
	paced, err := b.e2ePhase(ctx, s, cons, metrics, batch, b.o.e2eRate/float64(batch.batch), b.o.duration)
	cons.stop(30 * time.Second)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "peer: e2e paced: %s\n", paced)
	// The drain: a backlog made with the consumer stopped.
	fill, err := b.fill(ctx, s, batch)
	if err != nil {
		return err
	}
	// Measured from before the consumer starts: it stores from its first
	// poll on, before it serves.
	at, err := b.begin(ctx, nil)
	if err != nil {
		return err
	}
	started := time.Now()
	if cons, metrics, err = b.startConsumer(ctx); err != nil {
		return err
	}
	defer cons.stop(30 * time.Second)
	drain, err := b.drain(ctx, cons, metrics, fill, at, started)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "peer: e2e drain: %s\n", drain)
	b.e2e = []e2eResult{paced, drain}
	return nil
}

func (r e2eResult) String() string {
	return fmt.Sprintf("accepted %d (%.0f ev/s), stored %.0f ev/s, lag at end %d, caught up in %.1f s, rows %d, lost %d, consumer %.1f us/ev, postgres %.1f us/ev",
		r.Accepted, r.AcceptedPerSec, r.StoredPerSec, r.LagAtLoadEnd, r.CatchUpSeconds, r.Rows, r.Lost, r.ConsumerUsPerEvent, r.PostgresUsPerEvent)
}

// commitAtEnd commits the consumer group's offsets at the end of the
// events topic, as the consumer's identity.
func (b *harness) commitAtEnd(ctx context.Context) error {
	tc, err := identityTLS(filepath.Join(b.o.pki, b.o.env), "consumer")
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(split(b.o.brokers)...), kgo.DialTLSConfig(tc))
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(ctx, kafkaacl.TopicEvents)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return fmt.Errorf("end offsets of %s: %w", kafkaacl.TopicEvents, err)
	}
	resp, err := adm.CommitOffsets(ctx, kafkaacl.Group, ends.Offsets())
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		return fmt.Errorf("commit %s at the end of %s: %w", kafkaacl.Group, kafkaacl.TopicEvents, err)
	}
	return nil
}

// startConsumer starts `logsys consumer` and returns it and its /metrics.
func (b *harness) startConsumer(ctx context.Context) (*proc, string, error) {
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	cfg := filepath.Join(b.o.work, "consumer.yaml")
	if err := fill(filepath.Join(b.o.templates, "consumer.yaml"), cfg, map[string]string{
		"@CPORT@": strconv.Itoa(port), "@PKI@": b.o.pki, "@BROKERS@": brokerList(b.o.brokers), "@DSN@": b.o.pg,
	}); err != nil {
		return nil, "", err
	}
	p, err := start("consumer", filepath.Join(b.o.work, "consumer.log"), filepath.Join(b.o.bin, "logsys"), nil, "consumer", "--config", cfg)
	if err != nil {
		return nil, "", err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	if err := waitTLS(ctx, p, addr, b.scrape, 60*time.Second); err != nil {
		p.stop(5 * time.Second)
		return nil, "", err
	}
	return p, "https://" + addr + "/metrics", nil
}

// e2eCPU is the CPU of the consumer (none before it started) and of the
// PostgreSQL server so far.
type e2eCPU struct{ consumer, postgres time.Duration }

func (b *harness) e2eCPU(cons *proc) (e2eCPU, error) {
	var c e2eCPU
	var err error
	if cons != nil { // nil: before it started
		if c.consumer, err = cpuOf(cons.pid()); err != nil {
			return c, err
		}
	}
	if b.o.pgPID > 0 {
		c.postgres, err = treeCPU(b.o.pgPID)
	}
	return c, err
}

// phaseStart is what a phase's figures are measured from.
type phaseStart struct {
	rows int64
	cpu  e2eCPU
}

func (b *harness) begin(ctx context.Context, cons *proc) (phaseStart, error) {
	var at phaseStart
	var err error
	if at.rows, err = countRows(ctx, b.o.pg); err != nil {
		return at, err
	}
	at.cpu, err = b.e2eCPU(cons)
	return at, err
}

// end fills in r's rows, lost events and CPU per stored event since at.
func (b *harness) end(ctx context.Context, cons *proc, r *e2eResult, at phaseStart) error {
	cpu, err := b.e2eCPU(cons)
	if err != nil {
		return err
	}
	if r.Rows, err = b.waitRows(ctx, at.rows+r.Accepted); err != nil {
		return err
	}
	r.Rows -= at.rows
	r.Lost = max(r.Accepted-r.Rows, 0)
	if r.Rows > 0 {
		r.ConsumerUsPerEvent = us(cpu.consumer-at.cpu.consumer) / float64(r.Rows)
		r.PostgresUsPerEvent = us(cpu.postgres-at.cpu.postgres) / float64(r.Rows)
	}
	return nil
}

// e2ePhase drives s with sh at rate requests/s (open loop) for d while
// the consumer runs, then waits until it stored every accepted event.
func (b *harness) e2ePhase(ctx context.Context, s *system, cons *proc, metrics string, sh shape, rate float64, d time.Duration) (e2eResult, error) {
	r := e2eResult{Phase: "paced", Load1: loadAvg()}
	t, err := targetFor("logsys", sh, s.addr, b.o.logsysAnswer)
	if err != nil {
		return r, err
	}
	at, err := b.begin(ctx, cons)
	if err != nil {
		return r, err
	}
	stored0, err := b.stored(ctx, metrics)
	if err != nil {
		return r, err
	}
	res, err := b.gen.attackAt(ctx, "e2e-paced", t, sh.workers, d, rate)
	if err != nil {
		return r, err
	}
	loadEnd := time.Now()
	stored1, err := b.stored(ctx, metrics)
	if err != nil {
		return r, err
	}
	r.Accepted, r.LoadSeconds = res.ok()*int64(sh.batch), res.seconds()
	if r.LoadSeconds > 0 {
		r.AcceptedPerSec = float64(r.Accepted) / r.LoadSeconds
		r.StoredPerSec = (stored1 - stored0) / r.LoadSeconds
	}
	r.LagAtLoadEnd = r.Accepted - int64(stored1-stored0)
	if _, _, err := b.waitStored(ctx, cons, metrics, stored0+float64(r.Accepted)); err != nil {
		return r, err
	}
	r.CatchUpSeconds = time.Since(loadEnd).Seconds()
	return r, b.end(ctx, cons, &r, at)
}

// fill drives s closed loop for -e2e-fill (the consumer stopped) and
// returns how many events were accepted.
func (b *harness) fill(ctx context.Context, s *system, sh shape) (int64, error) {
	t, err := targetFor("logsys", sh, s.addr, b.o.logsysAnswer)
	if err != nil {
		return 0, err
	}
	res, err := b.gen.attack(ctx, "e2e-fill", t, sh.workers, b.o.e2eFill)
	if err != nil {
		return 0, err
	}
	return res.ok() * int64(sh.batch), nil
}

// drain waits until the consumer started at started, measured from at,
// stored the accepted events.
func (b *harness) drain(ctx context.Context, cons *proc, metrics string, accepted int64, at phaseStart, started time.Time) (e2eResult, error) {
	r := e2eResult{Phase: "drain", Accepted: accepted, Load1: loadAvg()}
	span, base, err := b.waitStored(ctx, cons, metrics, float64(accepted))
	if err != nil {
		return r, err
	}
	r.CatchUpSeconds = time.Since(started).Seconds()
	if err := b.end(ctx, cons, &r, at); err != nil {
		return r, err
	}
	if span > 0 {
		r.StoredPerSec = (float64(accepted) - base) / span.Seconds()
	}
	return r, nil
}

// stored is the consumer's count of stored events.
func (b *harness) stored(ctx context.Context, metrics string) (float64, error) {
	c, err := scrape(ctx, b.scrape, metrics, consumerMetrics)
	if err != nil {
		return 0, err
	}
	return c[storedMetric], nil
}

// waitStored polls the consumer until it counts want stored events and
// returns the span from the first poll that saw the count grow to the
// one that saw want, and the count at the span's start: want - base
// events were stored within the span (start-up excluded).
func (b *harness) waitStored(ctx context.Context, cons *proc, metrics string, want float64) (span time.Duration, base float64, err error) {
	deadline := time.Now().Add(e2eCatchUpLimit)
	var first time.Time
	if base, err = b.stored(ctx, metrics); err != nil {
		return 0, 0, err
	}
	for {
		n, err := b.stored(ctx, metrics)
		if err != nil {
			return 0, 0, err
		}
		now := time.Now()
		if first.IsZero() && n > base {
			first, base = now, n
		}
		if n >= want {
			if first.IsZero() {
				return 0, base, nil
			}
			return now.Sub(first), base, nil
		}
		if err := cons.exited(); err != nil {
			return 0, 0, err
		}
		if now.After(deadline) || ctx.Err() != nil {
			return 0, 0, fmt.Errorf("consumer stored %.0f of %.0f events after %s", n, want, e2eCatchUpLimit)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// rowsSettle is how long the row count may stay below what is expected
// without growing before the missing rows count as lost.
const rowsSettle = 10 * time.Second

// waitRows counts log_events until it holds want rows or stops growing
// for rowsSettle: the consumer's counter is read before the last
// transactions are visible to a new one, and a redelivery it counts
// adds no row.
func (b *harness) waitRows(ctx context.Context, want int64) (int64, error) {
	last, since := int64(-1), time.Now()
	for {
		n, err := countRows(ctx, b.o.pg)
		if err != nil || n >= want {
			return n, err
		}
		if n != last {
			last, since = n, time.Now()
		}
		if time.Since(since) > rowsSettle || ctx.Err() != nil {
			return n, nil
		}
		time.Sleep(time.Second)
	}
}

// countRows counts log_events in the PostgreSQL at dsn.
func countRows(ctx context.Context, dsn string) (int64, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return 0, fmt.Errorf("postgres: %w", err)
	}
	defer conn.Close(ctx)
	var n int64
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM log_events").Scan(&n); err != nil {
		return 0, fmt.Errorf("count log_events: %w", err)
	}
	return n, nil
}
