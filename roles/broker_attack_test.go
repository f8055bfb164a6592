package roles

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"logsys/internal/testutil"
	"logsys/kafkaacl"
)

// TestBrokerAttacks replays, against `logsys all`, what an attacker who
// holds the certificate of one pipeline identity tried before the
// embedded broker enforced authorization, and counts what got through.
func TestBrokerAttacks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, _, stop := startAll(t, dir, true)
	defer stop()
	pkiDir := filepath.Join(dir, "pki")
	gw := "https://" + loopbackURLHost(a.GatewayAddr())
	web := httpClient(clientTLS(t, pkiDir, "dev", "client"))
	// The attacker holds the file certificate of the identity.
	attacker := func(t *testing.T, name string, opts ...kgo.Opt) *kgo.Client {
		t.Helper()
		ts, err := newTLS(context.Background(), fastIdentity(pkiDir, name), nil, quietLogger())
		if err != nil {
			t.Fatal(err)
		}
		dial, err := ts.dialer("attacker->kafka", "kafka")
		if err != nil {
			t.Fatal(err)
		}
		cl, err := kgo.NewClient(append([]kgo.Opt{
			kgo.SeedBrokers(a.broker.Addrs()...), kgo.Dialer(dial),
			kgo.RecordDeliveryTimeout(10 * time.Second), kgo.RetryTimeout(5 * time.Second),
		}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}
	refusals := func(principal, request string) float64 {
		return testutil.MetricValue(t, a.consumer.metrics.reg, "logsys_broker_authorization_denied_total",
			map[string]string{"principal": principal, "request": request})
	}
	served := func(source string) int {
		resp, err := web.Get(gw + "/api/v1/logs?limit=1000&source=" + url.QueryEscape(source))
		if err != nil {
			t.Fatalf("GET /api/v1/logs: %v", err)
		}
		var got struct {
			Data struct{ Events []struct{ ID string } } `json:"data"`
		}
		decodeJSON(resp, &got)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /api/v1/logs: %d", resp.StatusCode)
		}
		return len(got.Data.Events)
	}
	post := func(source string, i int) {
		code, body := postJSON(t, web, gw+"/api/v1/logs", "application/json",
			fmt.Sprintf(`{"level":"INFO","message":"event %d","source":%q}`, i, source))
		if code != http.StatusAccepted {
			t.Fatalf("POST event %d: %d %v", i, code, body)
		}
	}

	t.Run("consumer certificate forges a client's event", func(t *testing.T) {
		source := fmt.Sprintf("forged-%d", time.Now().UnixNano())
		forged := func() []byte {
			b, _ := json.Marshal(map[string]any{
				"id": uuid.NewString(), "level": "INFO", "message": "forged", "source": source,
				"timestamp": time.Now().UTC().Format(time.RFC3339Nano), "identity": "spiffe://logsys.local/dev/client",
			})
			return b
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		before := refusals("User:consumer", "Produce")
		acked := attacker(t, "consumer", kgo.DefaultProduceTopic(kafkaacl.TopicEvents))
		err := acked.ProduceSync(ctx, &kgo.Record{Value: forged()}).FirstErr()
		if !errors.Is(err, kerr.TopicAuthorizationFailed) {
			t.Fatalf("forged record with acks=all: %v, want TOPIC_AUTHORIZATION_FAILED", err)
		}
		// acks=0: the client hears nothing back either way.
		const blind = 10
		unacked := attacker(t, "consumer", kgo.DefaultProduceTopic(kafkaacl.TopicEvents),
			kgo.DisableIdempotentWrite(), kgo.RequiredAcks(kgo.NoAck()))
		for range blind {
			_ = unacked.ProduceSync(ctx, &kgo.Record{Value: forged()}).FirstErr()
		}
		// A legitimate event travels behind the forged ones.
		marker := fmt.Sprintf("marker-%d", time.Now().UnixNano())
		post(marker, 0)
		testutil.Eventually(t, 20*time.Second, "the marker event to be served", func() bool { return served(marker) == 1 })

		inLog := countInTopic(t, a.broker, kafkaacl.TopicEvents, source)
		if n := served(source); n != 0 || inLog != 0 {
			t.Fatalf("forged events: %d served by GET /api/v1/logs, %d in %s; want 0 and 0", n, inLog, kafkaacl.TopicEvents)
		}
		if got := refusals("User:consumer", "Produce"); got <= before {
			t.Errorf("logsys_broker_authorization_denied_total{User:consumer,Produce} = %v, want more than %v", got, before)
		}
		t.Logf("forged: 1 with acks=all refused (TOPIC_AUTHORIZATION_FAILED), %d with acks=0 unanswered; in the topic: %d, served: 0", blind, inLog)
	})

	t.Run("producer certificate joins the consumer group", func(t *testing.T) {
		source := fmt.Sprintf("steal-%d", time.Now().UnixNano())
		before := refusals("User:producer", "FindCoordinator")
		thief := attacker(t, "producer", kgo.ConsumerGroup(kafkaacl.Group), kgo.ConsumeTopics(kafkaacl.TopicEvents),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		var stolen atomic.Int64
		firstErr := make(chan error, 1)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for ctx.Err() == nil {
				fs := thief.PollFetches(ctx)
				fs.EachRecord(func(r *kgo.Record) {
					if strings.Contains(string(r.Value), source) {
						stolen.Add(1)
					}
				})
				for _, e := range fs.Errors() {
					select {
					case firstErr <- e.Err:
					default:
					}
				}
			}
		}()
		select {
		case err := <-firstErr:
			if !errors.Is(err, kerr.GroupAuthorizationFailed) {
				t.Errorf("the intruder's join: %v, want GROUP_AUTHORIZATION_FAILED", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("the intruder's join was neither refused nor reported within 20s")
		}
		const n = 30
		for i := range n {
			post(source, i)
		}
		stored := 0
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if stored = served(source); stored == n {
				break
			}
		}
		cancel()
		<-done
		t.Logf("posted %d (202 each), stored %d, lost %d, delivered to the intruder %d", n, stored, n-stored, stolen.Load())
		if stored != n || stolen.Load() != 0 {
			t.Errorf("%d of %d accepted events lost, %d delivered to the intruder; want 0 and 0", n-stored, n, stolen.Load())
		}
		if got := refusals("User:producer", "FindCoordinator"); got <= before {
			t.Errorf("logsys_broker_authorization_denied_total{User:producer,FindCoordinator} = %v, want more than %v", got, before)
		}
	})

	t.Run("producer and consumer create and delete topics", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		evil := fmt.Sprintf("evil-%d", time.Now().UnixNano())
		var tried, refused int
		for _, name := range []string{kafkaacl.Producer, kafkaacl.Consumer} {
			adm := kadm.NewClient(attacker(t, name))
			_, err := adm.CreateTopic(ctx, 1, 1, nil, evil+"-"+name)
			tried++
			if errors.Is(err, kerr.TopicAuthorizationFailed) || errors.Is(err, kerr.ClusterAuthorizationFailed) {
				refused++
			} else {
				t.Errorf("%s creates topic: %v, want an authorization error", name, err)
			}
			for _, topic := range []string{kafkaacl.TopicEvents, kafkaacl.TopicDLQ} {
				_, err := adm.DeleteTopic(ctx, topic)
				tried++
				if errors.Is(err, kerr.TopicAuthorizationFailed) {
					refused++
				} else {
					t.Errorf("%s deletes %s: %v, want TOPIC_AUTHORIZATION_FAILED", name, topic, err)
				}
			}
		}
		topics, err := kadm.NewClient(superClient(t, a.broker)).ListTopics(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, topic := range []string{kafkaacl.TopicEvents, kafkaacl.TopicDLQ} {
			if d, ok := topics[topic]; !ok || len(d.Partitions) != int(a.cfg.Broker.Partitions) {
				t.Errorf("topic %s after the attack: present %v, %d partitions", topic, ok, len(d.Partitions))
			}
		}
		for topic := range topics {
			if strings.HasPrefix(topic, evil) {
				t.Errorf("topic %s was created", topic)
			}
		}
		t.Logf("topic admin: %d tried, %d refused, %d got through", tried, refused, tried-refused)
		post("after-topic-attack", 0)
		testutil.Eventually(t, 20*time.Second, "the pipeline to still deliver", func() bool { return served("after-topic-attack") == 1 })
	})
}

// countInTopic reads topic from the start to its current end as the
// broker's super user and counts the records whose value contains s.
func countInTopic(t *testing.T, b *Broker, topic, s string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ends, err := kadm.NewClient(superClient(t, b)).ListEndOffsets(ctx, topic)
	if err != nil || ends.Error() != nil {
		t.Fatalf("end offsets of %s: %v %v", topic, err, ends.Error())
	}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition] = o.Offset
		}
	})
	cl := superClient(t, b, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	n := 0
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: %d partitions not read to their end", topic, len(want))
		}
		fs.EachRecord(func(r *kgo.Record) {
			if strings.Contains(string(r.Value), s) {
				n++
			}
			if end, ok := want[r.Partition]; ok && r.Offset+1 >= end {
				delete(want, r.Partition)
			}
		})
	}
	return n
}
