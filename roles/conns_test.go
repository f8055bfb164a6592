package roles

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"logsys/internal/testutil"
	"logsys/pki"
	"logsys/tlsx"
)

// TestRevokedPeersAreCutOnEveryHTTPHop revokes, with a keep-alive
// connection open, first the client's certificate (client -> gateway),
// then the gateway's (gateway -> producer): once the server's source has
// reloaded the CRL its listener holds no connection of the revoked peer,
// and nothing the revoked client sends gets through.
func TestRevokedPeersAreCutOnEveryHTTPHop(t *testing.T) {
	t.Parallel()
	p := startPipeline(t)
	c := p.client("dev", "client")
	send := func() bool {
		resp, err := c.Post(p.url("/api/v1/logs"), "application/json", stringsReader(`{"message":"m","source":"revoke"}`))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusAccepted
	}
	for i := range 10 {
		if !send() {
			t.Fatalf("request %d before the revocation failed", i)
		}
	}
	gwLn := p.gateway.srv.mainLn.(*tlsx.Listener)
	prLn := p.producer.srv.mainLn.(*tlsx.Listener)
	if gwLn.Open() != 1 || prLn.Open() == 0 {
		t.Fatalf("open connections: gateway %d (want 1, keep-alive), producer %d", gwLn.Open(), prLn.Open())
	}

	if _, err := pki.Revoke(context.Background(), pki.RevokeOptions{Dir: p.pkiDir, Env: "dev", Name: "client"}); err != nil {
		t.Fatal(err)
	}
	if err := p.gateway.tls.src.Reload(); err != nil {
		t.Fatal(err)
	}
	if n := gwLn.Open(); n != 0 {
		t.Fatalf("%d connections still open at the gateway after the reload", n)
	}
	through := 0
	for range 10 {
		if send() {
			through++
		}
	}
	if through != 0 {
		t.Fatalf("%d of 10 requests of the revoked client got through", through)
	}
	if got := testutil.MetricValue(t, p.gateway.metrics.reg, "logsys_tls_connections_closed_total", map[string]string{"listener": "gateway", "reason": "revoked"}); got != 1 {
		t.Fatalf("gateway closes{revoked} = %v, want 1", got)
	}

	if _, err := pki.Revoke(context.Background(), pki.RevokeOptions{Dir: p.pkiDir, Env: "dev", Name: "gateway"}); err != nil {
		t.Fatal(err)
	}
	if err := p.producer.tls.src.Reload(); err != nil {
		t.Fatal(err)
	}
	if n := prLn.Open(); n != 0 {
		t.Fatalf("%d gateway connections still open at the producer after the reload", n)
	}
	if got := testutil.MetricValue(t, p.producer.metrics.reg, "logsys_tls_connections_closed_total", map[string]string{"listener": "producer", "reason": "revoked"}); got < 1 {
		t.Fatalf("producer closes{revoked} = %v, want at least 1", got)
	}
}

// TestKafkaProducerRidesOutItsRotation produces to the embedded broker
// through the product's dialer while the producer's own certificate is
// rotated: the connections made with the old certificate are closed, the
// client reconnects with the new one, and every record is stored exactly
// once.
func TestKafkaProducerRidesOutItsRotation(t *testing.T) {
	t.Parallel()
	pkiDir, dir := testPKI(t), t.TempDir()
	bc := DefaultBrokerConfig()
	bc.Identity, bc.Port, bc.DataDir, bc.Partitions, bc.Logger = fastIdentity(pkiDir, "kafka"), 0, filepath.Join(dir, "kafka"), 3, quietLogger()
	br, err := NewBroker(context.Background(), bc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { br.Close() })

	reg := prometheus.NewRegistry()
	ts, err := newTLS(context.Background(), fastIdentity(pkiDir, "producer"), reg, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	d, err := ts.newDialer("producer->kafka", "kafka", nil)
	if err != nil {
		t.Fatal(err)
	}
	d.SetDrainTimeout(50 * time.Millisecond)
	cl, err := kgo.NewClient(kgo.SeedBrokers(br.Addrs()...), kgo.Dialer(d.DialContext),
		kgo.DefaultProduceTopic("log-events"), kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	const n = 300
	produce := func(from, to int) {
		t.Helper()
		for i := from; i < to; i += 10 {
			var recs []*kgo.Record
			for j := i; j < min(i+10, to); j++ {
				recs = append(recs, &kgo.Record{Value: fmt.Appendf(nil, "r%d", j)})
			}
			if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
				t.Fatalf("produce %d..%d: %v", i, i+len(recs), err)
			}
		}
	}
	produce(0, 100)
	oldSerial := ts.src.Certificate().Leaf.SerialNumber
	if _, err := pki.Rotate(context.Background(), pki.RotateOptions{Dir: pkiDir, Env: "dev", Name: "producer"}); err != nil {
		t.Fatal(err)
	}
	if err := ts.src.Reload(); err != nil {
		t.Fatal(err)
	}
	if ts.src.Certificate().Leaf.SerialNumber.Cmp(oldSerial) == 0 {
		t.Fatal("rotation not loaded")
	}
	rotated := map[string]string{"side": "client", "listener": "producer->kafka", "reason": "rotated"}
	next := 100
	testutil.Eventually(t, 10*time.Second, "the old connections to close", func() bool {
		if next < 200 {
			produce(next, next+10)
			next += 10
		}
		return testutil.MetricValue(t, reg, "logsys_tls_connections_closed_total", rotated) >= 1 && d.Open() > 0
	})
	produce(next, n)

	consumer := kafkaReader(t, pkiDir, br)
	seen := map[string]int{}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for len(seen) < n && ctx.Err() == nil {
		consumer.PollFetches(ctx).EachRecord(func(r *kgo.Record) { seen[string(r.Value)]++ })
	}
	for i := range n {
		if c := seen[fmt.Sprintf("r%d", i)]; c != 1 {
			t.Errorf("record r%d stored %d times", i, c)
		}
	}
}

// kafkaReader reads log-events from the start as the consumer identity.
func kafkaReader(t *testing.T, pkiDir string, br *Broker) *kgo.Client {
	t.Helper()
	ts, err := newTLS(context.Background(), fastIdentity(pkiDir, "consumer"), nil, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	dial, err := ts.dialer("reader->kafka", "kafka")
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(br.Addrs()...), kgo.Dialer(dial),
		kgo.ConsumeTopics("log-events"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}
