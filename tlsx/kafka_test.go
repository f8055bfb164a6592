package tlsx_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"logsys/internal/testutil"
	"logsys/tlsx"
)

// TestKafkaDialer produces and consumes through the embedded broker over
// mutual TLS, with the Dialer plugged into franz-go via kgo.Dialer.
func TestKafkaDialer(t *testing.T) {
	f := newFixture(t)
	broker := f.source("dev", "kafka")
	srvCfg := mustServerConfig(t, broker, tlsx.AuthorizeNames(td, "dev", "producer"), tlsx.Options{})
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.TLS(srvCfg), kfake.SeedTopics(1, "logs"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()

	d := mustDialer(t, f, f.source("dev", "producer"), tlsx.AuthorizeNames(td, "dev", "kafka"), tlsx.Options{}, "producer->kafka")
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(cluster.ListenAddrs()...),
		kgo.Dialer(d.DialContext),
		kgo.ConsumeTopics("logs"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "logs", Value: []byte("hello")}).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	fetches := cl.PollRecords(ctx, 1)
	if errs := fetches.Errors(); len(errs) > 0 {
		t.Fatalf("fetch: %v", errs)
	}
	if recs := fetches.Records(); len(recs) != 1 || string(recs[0].Value) != "hello" {
		t.Fatalf("records = %v", recs)
	}
	if got := testutil.MetricValue(t, f.reg, "logsys_tls_handshake_duration_seconds", map[string]string{"side": "client", "listener": "producer->kafka"}); got < 1 {
		t.Fatalf("client handshakes recorded = %v", got)
	}
}
