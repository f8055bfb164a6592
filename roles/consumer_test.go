package roles

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"logsys/internal/testutil"
	"logsys/store"
)

// kafkaClient connects to the test broker as the named identity.
func kafkaClient(t *testing.T, p *pipeline, name string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	ts, err := newTLS(context.Background(), fastIdentity(p.pkiDir, name), nil, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	dial, err := ts.dialer("test->kafka", "kafka")
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(p.broker.Addrs()...),
		kgo.Dialer(dial),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// TestPoisonRecordIsDeadLettered writes records the consumer cannot decode
// straight into the topic: they go to the dead-letter topic with the
// reason, and the partition keeps flowing.
func TestPoisonRecordIsDeadLettered(t *testing.T) {
	t.Parallel()
	p := startPipeline(t)
	ctx := context.Background()
	prod := kafkaClient(t, p, "producer", kgo.DefaultProduceTopic("log-events"))
	poison := []*kgo.Record{
		{Key: []byte("p1"), Value: []byte("not json at all")},
		{Key: []byte("p2"), Value: []byte(`{"id":"p2","level":"INFO","source":"s","timestamp":"2026-01-01T00:00:00Z"}`)},
		// Valid as an event, but no store accepts a NUL byte in text.
		{Key: []byte("p3"), Value: []byte(`{"id":"p3","level":"INFO","message":"nul \u0000 byte","source":"s","timestamp":"2026-01-01T00:00:00Z"}`)},
	}
	if err := prod.ProduceSync(ctx, poison...).FirstErr(); err != nil {
		t.Fatalf("produce poison: %v", err)
	}
	code, body := postJSON(t, p.client("dev", "client"), p.url("/api/v1/logs"), "application/json", `{"message":"after poison","source":"dlq"}`)
	if code != 202 {
		t.Fatalf("POST: %d %v", code, body)
	}
	id := body["data"].(map[string]any)["id"].(string)
	testutil.Eventually(t, 10*time.Second, "the event after the poison records to be stored", func() bool {
		return p.storedIDs()[id] == 1
	})
	// Nobody in the pipeline may read dead letters: the operator does.
	dlq := superClient(t, p.broker, kgo.ConsumeTopics("log-events.dlq"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	got := map[string]string{}
	deadline := time.Now().Add(10 * time.Second)
	for len(got) < 3 && time.Now().Before(deadline) {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fs := dlq.PollFetches(pctx)
		cancel()
		fs.EachRecord(func(r *kgo.Record) {
			for _, h := range r.Headers {
				if h.Key == "logsys-error" {
					got[string(r.Key)] = string(h.Value)
				}
			}
		})
	}
	if len(got) != 3 || got["p1"] == "" || got["p2"] == "" || got["p3"] == "" {
		t.Fatalf("dead-lettered = %v, want p1, p2 and p3 with reasons", got)
	}
	if n := testutil.MetricValue(t, p.consumer.metrics.reg, "logsys_events_total", map[string]string{"result": "dead_lettered"}); n != 3 {
		t.Errorf("dead_lettered counter = %v, want 3", n)
	}
}

// TestShutdownLosesNoAcceptedEvent stops the gateway and producer while
// clients are sending: every event answered 202 must reach the store.
func TestShutdownLosesNoAcceptedEvent(t *testing.T) {
	t.Parallel()
	p := startPipeline(t)
	c := p.client("dev", "client")
	var mu sync.Mutex
	var accepted []string
	var stopped atomic.Bool
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100 && !stopped.Load(); i++ {
				resp, err := c.Post(p.url("/api/v1/logs"), "application/json",
					stringsReader(fmt.Sprintf(`{"message":"s%d","source":"shutdown"}`, i)))
				if err != nil {
					continue // refused once the listener closed: not accepted
				}
				var body map[string]any
				decodeJSON(resp, &body)
				if resp.StatusCode == 202 {
					mu.Lock()
					accepted = append(accepted, body["data"].(map[string]any)["id"].(string))
					mu.Unlock()
				}
			}
		}()
	}
	testutil.Eventually(t, 10*time.Second, "events to be accepted before shutdown", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(accepted) >= 20
	})
	p.stops["gateway"]()
	stopped.Store(true)
	p.stops["producer"]()
	wg.Wait()
	if len(accepted) == 0 {
		t.Fatal("no event was accepted before shutdown")
	}
	testutil.Eventually(t, 20*time.Second, fmt.Sprintf("all %d accepted events to be stored", len(accepted)), func() bool {
		recs, err := p.store.Query(context.Background(), store.Filter{Source: "shutdown", Limit: store.MaxLimit})
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, r := range recs {
			seen[r.ID] = true
		}
		for _, id := range accepted {
			if !seen[id] {
				return false
			}
		}
		return true
	})
}

// TestConsumerBatchesWithFlushInterval: a partial batch waits at most the
// flush interval, then is written.
func TestConsumerBatchesWithFlushInterval(t *testing.T) {
	t.Parallel()
	p := startPipeline(t)
	p.stopConsumer()
	p.startConsumerWith(func(c *ConsumerConfig) { c.BatchSize, c.FlushInterval = 100, 300*time.Millisecond })
	c := p.client("dev", "client")
	var ids []string
	for i := 0; i < 3; i++ {
		code, body := postJSON(t, c, p.url("/api/v1/logs"), "application/json", `{"message":"m","source":"flush"}`)
		if code != 202 {
			t.Fatalf("POST: %d %v", code, body)
		}
		ids = append(ids, body["data"].(map[string]any)["id"].(string))
	}
	testutil.Eventually(t, 10*time.Second, "a partial batch to be flushed", func() bool {
		seen := p.storedIDs()
		return seen[ids[0]] == 1 && seen[ids[1]] == 1 && seen[ids[2]] == 1
	})
}

// TestDeadLetterFailureTurnsReadinessDown: while the dead-letter topic
// refuses writes, a poison record cannot be put away; the consumer retries
// it, commits nothing, and its readiness is DOWN with the reason. Once the
// topic takes writes again the record is dead-lettered, the event behind
// it stored, and readiness is UP.
func TestDeadLetterFailureTurnsReadinessDown(t *testing.T) {
	t.Parallel()
	p := startPipeline(t)
	var refuse atomic.Bool
	refuse.Store(true)
	dlqID := p.broker.cluster.TopicInfo("log-events.dlq").TopicID // produce names topics by id
	p.broker.cluster.ControlKey(int16(kmsg.Produce), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		p.broker.cluster.KeepControl()
		req := kr.(*kmsg.ProduceRequest)
		if !refuse.Load() || len(req.Topics) != 1 || (req.Topics[0].Topic != "log-events.dlq" && req.Topics[0].TopicID != dlqID) {
			return nil, nil, false
		}
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition, sp.ErrorCode = rp.Partition, kerr.TopicAuthorizationFailed.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	prod := kafkaClient(t, p, "producer", kgo.DefaultProduceTopic("log-events"))
	if err := prod.ProduceSync(context.Background(), &kgo.Record{Key: []byte("p1"), Partition: 0, Value: []byte("not json")}).FirstErr(); err != nil {
		t.Fatalf("produce poison: %v", err)
	}
	testutil.Eventually(t, 20*time.Second, "consumer readiness DOWN naming the dead-letter topic", func() bool {
		code, h := p.readiness(t, p.consumer.Addr())
		return code == http.StatusServiceUnavailable && len(h.Reasons) > 0 && strings.Contains(strings.Join(h.Reasons, " "), "dead-letter topic log-events.dlq")
	})
	refuse.Store(false)
	testutil.Eventually(t, 30*time.Second, "consumer readiness back UP", func() bool {
		code, _ := p.readiness(t, p.consumer.Addr())
		return code == http.StatusOK
	})
	if n := testutil.MetricValue(t, p.consumer.metrics.reg, "logsys_events_total", map[string]string{"result": "dead_lettered"}); n != 1 {
		t.Errorf("dead_lettered counter = %v, want 1", n)
	}
}
