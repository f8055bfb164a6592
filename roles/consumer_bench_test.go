package roles

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"logsys/internal/testutil"
	"logsys/store"
)

// BenchmarkConsumerToPostgres measures the consumer draining a topic
// filled beforehand (by the producer, from the gateway's frames) into a
// real PostgreSQL (LOGSYS_TEST_PG_DSN: TLS, certificate auth), embedded
// broker: each iteration writes 200,000 new events to the topic with the
// timer stopped, then times a consumer of the group from its start until
// it has stored them all. cpu-us/event is the CPU time of the whole test
// process (the consumer, pgx and the embedded broker serving its fetches;
// not the PostgreSQL server) over the same timed stretch; the stored count
// is read from its counter, not by gathering the whole registry (the
// process collector reads /proc) every 5 ms.
func BenchmarkConsumerToPostgres(b *testing.B) {
	dsn := os.Getenv("LOGSYS_TEST_PG_DSN")
	if dsn == "" {
		b.Skip("no PostgreSQL: set LOGSYS_TEST_PG_DSN (eval \"$(.ci/postgres.sh start PKI_DIR)\")")
	}
	pkiDir, pr, _ := benchPipeline(b)
	st, err := store.Open(context.Background(), store.Config{DSN: dsn})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	const perIter, perPost = 200_000, 2000
	client := gatewayClient(b, pkiDir)
	meta := map[string]any{"host": "web-1", "region": "eu-west-1", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"}
	fill := func() {
		now := time.Now().UTC()
		for sent := 0; sent < perIter; sent += perPost {
			body, err := appendFrames(nil, requestEvents(sent, perPost, now, meta))
			if err != nil {
				b.Fatal(err)
			}
			resp, err := client.Post("https://"+pr.Addr()+EventsPath, FramesType, bytes.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				b.Fatalf("fill: status %d", resp.StatusCode)
			}
		}
	}
	total, cpu := 0.0, time.Duration(0)
	for b.Loop() {
		b.StopTimer()
		fill()
		b.StartTimer()
		cpu0 := processCPU()
		// A consumer of the group starts on the filled topic (joining the
		// group is timed too) and is stopped once it has stored them all.
		cc := DefaultConsumerConfig()
		cc.Identity, cc.Addr, cc.LivenessAddr, cc.Logger = fastIdentity(pkiDir, "consumer"), "127.0.0.1:0", "", quietLogger()
		cc.Kafka.Brokers, cc.SharedStore = pr.cfg.Kafka.Brokers, st
		c, err := NewConsumer(context.Background(), cc)
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- c.Run(ctx) }()
		deadline := time.Now().Add(2 * time.Minute)
		stored := c.metrics.events.WithLabelValues("consumer", "stored")
		for n := 0.0; n < perIter; n = testutil.CounterValue(stored) {
			if time.Now().After(deadline) {
				b.Fatalf("stored %v of %d events in 2 minutes", n, perIter)
			}
			time.Sleep(5 * time.Millisecond)
		}
		b.StopTimer()
		cpu += processCPU() - cpu0
		cancel()
		<-done
		c.Close()
		total += perIter
		b.StartTimer()
	}
	b.ReportMetric(total/b.Elapsed().Seconds(), "events/s")
	if cpu > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/total, "cpu-us/event")
	}
}
